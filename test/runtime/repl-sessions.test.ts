/**
 * REPL sessions in the runtime (runtime/repl/sessions.ts) on real isolates, in this process:
 * how values are inspected inside the isolate, and what becomes of a session.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_ISOLATE_LIMITS } from "../../runtime/host/module-isolate.js";
import { ReplSessions } from "../../runtime/repl/sessions.js";
import { ModuleTable } from "../../runtime/swap/module-table.js";

describe("REPL sessions on real isolates", () => {
  const output: string[] = [];
  let table: ModuleTable;
  let repl: ReplSessions;
  const limits = { ...DEFAULT_ISOLATE_LIMITS, cpuMs: 500, memoryMb: 64, asyncMs: 2000 };
  const text = async (source: string, colors = false) => {
    const result = await repl.evaluate({ session: "s", source, colors });
    assert.equal(result.threw, false, result.text);
    return result.text;
  };

  before(() => {
    table = new ModuleTable({ log: () => {}, onModuleDead: () => {} }, { limits });
    repl = new ReplSessions(table, limits, { output: (session, level, t) => output.push(`${session} ${level} ${t}`), fatal: () => {} });
  });
  after(() => {
    repl.dispose();
    table.dispose();
  });

  test("inspects values the way node's REPL shows them", async () => {
    assert.equal(await text("'it\\'s'"), `"it's"`);
    assert.equal(await text("-0"), "-0");
    assert.equal(await text("10n ** 20n"), "100000000000000000000n");
    assert.equal(await text("class Point { constructor() { this.x = 1 } }; new Point()"), "Point { x: 1 }");
    assert.equal(await text("Object.assign(Object.create(null), { a: 1 })"), "[Object: null prototype] { a: 1 }");
    assert.equal(await text("new Uint8Array([1, 2])"), "Uint8Array(2) [ 1, 2 ]");
    assert.equal(await text("new Date(0)"), "1970-01-01T00:00:00.000Z");
    assert.equal(await text("/ab+c/gi"), "/ab+c/gi");
    assert.equal(await text("({ a: { b: { c: { d: 1 } } } })"), "{ a: { b: { c: [Object] } } }");
    assert.equal(await text("async function* gen() {}; gen"), "[AsyncGeneratorFunction: gen]");
    assert.equal(await text("class K {}; K"), "[class K]");
  });

  test("shows a getter without calling it", async () => {
    assert.equal(await text("let calls = 0; ({ get g() { calls++; return 1 } })"), "{ g: [Getter] }");
    assert.equal(await text("calls"), "0");
  });

  test("bounds long strings and wide objects", async () => {
    assert.match(await text("'x'.repeat(20000)"), /\.\.\. 10000 more characters$/);
    assert.match(await text("Object.fromEntries(Array.from({ length: 500 }, (_, i) => ['k' + i, i]))"), /\.\.\. more properties\n\}$/);
  });

  test("colours only when asked", async () => {
    assert.equal(await text("[1, 'a', null]", true), "[ \x1b[33m1\x1b[39m, \x1b[32m'a'\x1b[39m, \x1b[1mnull\x1b[22m ]");
    assert.equal(await text("[1, 'a', null]", false), "[ 1, 'a', null ]");
  });

  test("console output of a session goes to that session", async () => {
    await repl.evaluate({ session: "other", source: "console.error('to other')", colors: false });
    assert.ok(output.includes("other error to other"), output.join("\n"));
  });

  test("a dropped session's variables are gone; dropping twice says it had nothing", async () => {
    await text("var kept = 1");
    assert.equal(repl.drop("s"), true);
    assert.equal(repl.drop("s"), false);
    assert.equal(await text("typeof kept"), "'undefined'");
  });
});
