/** When REPL input is complete, and how piped input splits into inputs (devtool/repl/input.ts). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { groupInput, isUnfinished } from "../../devtool/repl/input.js";

test("input that ends too soon is unfinished; any other syntax error is complete (the node reports it)", () => {
  for (const source of ["function f() {", "foo(1,", "[1, 2", "`open template", "/* open comment", "1 +", "{ a: 1", "if (x)"]) assert.equal(isUnfinished(source), true, source);
  for (const source of ["1 + 1", "let broken = ;", "'open string", "}", "await x", "let x = 1\n"]) assert.equal(isUnfinished(source), false, source);
});

test("piped input splits into complete inputs and dot-commands, in order", () => {
  assert.deepEqual(groupInput("let n = 2\nfunction f() {\n  return n\n}\n\n.use counter\nf()\nunfinished(\n"), [
    { kind: "code", source: "let n = 2" },
    { kind: "code", source: "function f() {\n  return n\n}" },
    { kind: "command", line: ".use counter" },
    { kind: "code", source: "f()" },
    { kind: "code", source: "unfinished(\n" },
  ]);
});
