/**
 * Errors cross the isolate boundary as data, `{ code, message }`, never as text that is parsed
 * back (issue 10): an error the node raises reaches module code with its `code`, and comes back
 * out with it when the module lets it through; what module code throws is its own, whatever its
 * message or `code` look like.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { FixpointError } from "../../loader/index.js";
import { ModuleTable } from "../../runtime/swap/module-table.js";
import { buildSource } from "../helpers/modules.js";

const header = `import { defineModule } from "fixpoint";\n`;

function newTable() {
  return new ModuleTable({ log: () => {}, onModuleDead: () => {} }, { limits: { cpuMs: 500, memoryMb: 64, asyncMs: 5000 } });
}

const CALLER = `${header}export default defineModule({ functions: {
  // What module code sees of a failed call: the code on .code, the message without it, the code in the stack's first line.
  catches: async (ctx, module: string, fn: string) => {
    try { await ctx.call(module, fn); return null; }
    catch (e) { const err = e as Error & { code?: string }; return [err instanceof Error, err.code, err.message, String(err.stack).split("\\n")[0]]; }
  },
  passes: (ctx, module: string, fn: string) => ctx.call(module, fn),
  missing: (ctx) => (ctx as unknown as { nosuch: () => void }).nosuch(),
  looksCoded: () => { throw new Error("MODULE_TIMEOUT: not really"); },
  ownCode: () => { throw Object.assign(new Error("mine"), { code: "MODULE_NOT_FOUND" }); },
} });`;

const CALLEE = `${header}export default defineModule({ functions: { fine: () => 1 } });`;

test("a call to another module that fails reaches the caller's code as an Error with the code on .code and the message without it", async () => {
  const table = newTable();
  try {
    await table.load(await buildSource("callee", CALLEE));
    await table.load(await buildSource("caller", CALLER));
    const [isError, code, message, first] = (await table.call("caller", "catches", ["nope", "x"])) as [boolean, string, string, string];
    assert.equal(isError, true);
    assert.equal(code, "MODULE_NOT_FOUND");
    assert.doesNotMatch(message, /MODULE_NOT_FOUND/, "the message is the message alone");
    assert.match(message, /"nope"/);
    assert.equal(first, `Error [MODULE_NOT_FOUND]: ${message}`);
    const notFound = (await table.call("caller", "catches", ["callee", "nosuch"])) as [boolean, string, string];
    assert.equal(notFound[1], "FUNCTION_NOT_FOUND");
    assert.match(notFound[2], /has no function "nosuch" \(it has fine\)/);
  } finally {
    table.dispose();
  }
});

test("a node's error the module lets through keeps its code and message, once", async () => {
  const table = newTable();
  try {
    await table.load(await buildSource("callee", CALLEE));
    await table.load(await buildSource("caller", CALLER));
    await assert.rejects(table.call("caller", "passes", ["callee", "nosuch"]), (err: FixpointError) => {
      assert.equal(err.code, "FUNCTION_NOT_FOUND");
      assert.equal(err.message, 'module callee has no function "nosuch" (it has fine)');
      return true;
    });
  } finally {
    table.dispose();
  }
});

test("a module's own throw is MODULE_ERROR with its stack, even when its message starts like a code or it sets .code", async () => {
  const table = newTable();
  try {
    await table.load(await buildSource("caller", CALLER));
    for (const fn of ["looksCoded", "ownCode", "missing"]) {
      await assert.rejects(table.call("caller", fn, []), (err: FixpointError) => {
        assert.equal(err.code, "MODULE_ERROR", `${fn}: ${err.code}: ${err.message}`);
        assert.match(err.message, /caller\.ts:\d+/, "mapped to the module's source");
        return true;
      });
    }
  } finally {
    table.dispose();
  }
});
