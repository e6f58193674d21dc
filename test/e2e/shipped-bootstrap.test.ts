/**
 * What ships is what was tested: the bootstrap a real node's runtime evaluates in every module
 * isolate is dist/isolate-bootstrap.js, built by scripts/build.mjs, not the build the unit tests
 * make from source. Once the two were built with different esbuild options and in a real node
 * `URL.name` read "_URL" while the prelude's tests said "URL" (issue 10).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { signedModule } from "../helpers/modules.js";
import { ROOT, startNode } from "../helpers/processes.js";

const INTERFACES = ["DOMException", "Headers", "Request", "Response", "TextDecoder", "TextEncoder", "URL", "URLSearchParams", "atob", "btoa"];

const NAMES_MODULE = `import { defineModule } from "fixpoint";
// A class that names itself inside its body: what esbuild renames without keepNames.
class Counter { static zero() { return new Counter(); } }
export default defineModule({
  state: {},
  functions: {
    names: () => ${JSON.stringify(INTERFACES)}.map((name) => globalThis[name].name),
    own: () => [Counter.name, Counter.zero().constructor.name],
  },
});
`;

test("in a real node, URL, Request, Response and the other globals have the names Node gives them, and so does a module's own class", async () => {
  const shipped = join(ROOT, "dist", "isolate-bootstrap.js");
  assert.ok(existsSync(shipped), "the build made dist/isolate-bootstrap.js");
  const node = await startNode();
  try {
    const { bundle } = await signedModule("names", NAMES_MODULE, node.dev);
    const conn = await node.connect();
    await conn.request("push", { bundle });
    const names = (await conn.request("call", { module: "names", fn: "names", args: [] })).value;
    const inNode = INTERFACES.map((name) => (globalThis as unknown as Record<string, { name: string }>)[name]!.name);
    assert.deepEqual(names, inNode);
    assert.deepEqual(names, INTERFACES, "Node's own names, for the reader");
    assert.deepEqual((await conn.request("call", { module: "names", fn: "own", args: [] })).value, ["Counter", "Counter"]);
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});
