/** How one REPL input becomes the script the isolate runs (runtime/repl/transform.ts). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { toReplScript } from "../../runtime/repl/transform.js";

test("input without top-level await runs as it is, and its top-level names are reported", () => {
  assert.deepEqual(toReplScript("let a = 1, { b, c: [d] } = o; function f() {} class K {}"), {
    code: "let a = 1, { b, c: [d] } = o; function f() {} class K {}",
    awaited: false,
    declared: ["a", "b", "d", "f", "K"],
  });
});

test("braces alone are an object literal, as in node's REPL; a real block stays a block", () => {
  assert.equal(toReplScript("{ a: 1, b: 2 }").code, "({ a: 1, b: 2 })");
  assert.equal(toReplScript("{ let x = 1; x }").code, "{ let x = 1; x }");
});

test("top-level await becomes an async wrapper with its declarations hoisted out and the last expression returned", () => {
  const script = toReplScript("const x = await f(); var y; x + 1 // trailing comment");
  assert.equal(script.awaited, true);
  assert.deepEqual(script.declared, ["x", "y"]);
  assert.equal(script.code, "let x; var y;\n(async () => {\nvoid ((x = await f()));\nreturn (\nx + 1\n);\n})()");
});

test("await inside a function of the input is not top-level await", () => {
  assert.equal(toReplScript("async function g() { await 1 }").awaited, false);
  assert.equal(toReplScript("for await (const v of s) v").awaited, true);
});

test("input that does not parse is passed through for V8 to report with its position", () => {
  assert.deepEqual(toReplScript("let = = 1"), { code: "let = = 1", awaited: false, declared: [] });
});
