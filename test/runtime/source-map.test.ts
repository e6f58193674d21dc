/**
 * A module's stack as its developer sees it (SourceMap.ownStack): its own frames mapped to its
 * TypeScript, nothing of the node's. The decoding is node:module's SourceMap (issue 12).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { SourceMap } from "../../runtime/host/source-map.js";
import { buildSource } from "../helpers/modules.js";

const hostPart = ["    at (<isolated-vm boundary>)", "    at enter (file:///srv/node/dist/runtime.js:385:24)", "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)"];

test("keeps the message and the module's frames, mapped; drops the harness, the boundary, the host and the bundle's unmapped wrapper", async () => {
  const m = await buildSource("shape", `import { defineModule } from "fixpoint";\nfunction inner(): never {\n  throw new Error("boom");\n}\nexport default defineModule({ functions: { f: () => inner() } });\n`);
  // Where inner's throw is in the built script: the map must place it back at line 3.
  const lines = m.code.split("\n");
  const at = lines.findIndex((l) => l.includes(`throw new Error("boom")`));
  const stack = [
    "Error: boom",
    "  with a second line",
    `    at inner (fixpoint:///shape.js:${at + 1}:${lines[at]!.indexOf("new Error") + 1})`,
    "    at fixpoint:///shape.js:1:1",
    "    at call (fixpoint:bootstrap.js:2532:24)",
    ...hostPart,
  ].join("\n");
  const own = SourceMap.parse(m.sourceMap).ownStack(stack, "fixpoint:///shape.js");
  assert.match(own.stack, /^Error: boom\n {2}with a second line\n {4}at inner \(.*shape\.ts:3:9\)$/);
  assert.equal(own.location?.line, 3);
});

test("without a usable map keeps the bundle's frames, still without the node's", () => {
  const own = SourceMap.parse("not json").ownStack(["Error: boom", "    at f (fixpoint:///shape.js:4:7)", "    at httpNow (fixpoint:bootstrap.js:1:1)", ...hostPart].join("\n"), "fixpoint:///shape.js");
  assert.deepEqual(own, { stack: "Error: boom\n    at f (fixpoint:///shape.js:4:7)", location: null });
});

test("a position on a line the map has nothing for is not placed, rather than given an earlier line's mapping", () => {
  // Line 1 maps to a.ts:1:1, line 2 has no mappings, line 3 starts at column 4.
  const map = SourceMap.parse(JSON.stringify({ version: 3, sources: ["a.ts"], names: [], mappings: "AAAA;;IACA" }));
  assert.deepEqual(map.lookup(1, 9), { file: "a.ts", line: 1, column: 1 });
  assert.equal(map.lookup(2, 1), null);
  assert.equal(map.lookup(3, 2), null, "before the line's first mapping");
  assert.deepEqual(map.lookup(3, 7), { file: "a.ts", line: 2, column: 1 });
});

test("a map with the wrong shape maps nothing and throws nothing", () => {
  for (const raw of [{}, { mappings: 7, sources: ["a.ts"] }, { mappings: "AAAA" }, { mappings: "AAAA", sources: "a.ts" }]) {
    assert.equal(SourceMap.parse(JSON.stringify(raw)).lookup(1, 1), null, JSON.stringify(raw));
  }
});
