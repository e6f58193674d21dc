/**
 * checkPlain says "plain" exactly when a JSON round trip gives what a structured clone gives:
 * every value it accepts survives JSON unchanged, every kind JSON would change is refused.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { deserialize, serialize } from "node:v8";
import { checkPlain } from "../../../runtime/isolate/plain-data.js";

const structured = (v: unknown): unknown => deserialize(serialize(v));
const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v)) as unknown;

describe("checkPlain", () => {
  const plain: [string, unknown][] = [
    ["null", null],
    ["a counter", { hits: 3 }],
    ["nested records", { items: Array.from({ length: 50 }, (_, i) => ({ id: i, name: `item-${i}`, tags: ["a", "b"], score: i / 3, ok: i % 2 === 0, none: null })) }],
    ["an object without a prototype", Object.assign(Object.create(null) as object, { a: 1 })],
    ["lone surrogates and other text", { s: "\ud800 x \udfff é 日本 😀", "\u0000key": "\u2028" }],
    ["a key named __proto__", JSON.parse('{"__proto__": {"a": 1}, "b": 2}') as unknown],
    ["integer-like keys (order as both give it)", { b: 1, 2: "two", a: 3, 1: "one" }],
    ["large and small numbers", [1e308, -1e-308, 5e-324, 2 ** 53 + 2, -1]],
    ["a deep chain", Array.from({ length: 20_000 }).reduce<unknown>((inner) => ({ inner }), 0)],
  ];
  for (const [what, value] of plain) {
    test(`accepts ${what}, and JSON gives what a structured clone gives`, () => {
      const check = checkPlain(value, 1e9);
      assert.equal(check.plain, true, check.plain ? "" : check.why);
      if (what === "a deep chain") return; // deepEqual itself recurses too deep; the check walks it without recursion
      assert.deepEqual(viaJson(value), structured(value));
    });
  }

  const shared = { x: 1 };
  const cycle: Record<string, unknown> = { a: 1 };
  cycle["self"] = cycle;
  const named = Object.assign([1, 2], { extra: true });
  class Point {
    constructor(readonly x: number) {}
  }
  // eslint-disable-next-line no-sparse-arrays
  const refused: [string, unknown][] = [
    ["NaN", { n: NaN }],
    ["Infinity", [Infinity]],
    ["-0", { z: -0 }],
    ["undefined as a property", { u: undefined }],
    ["a hole in an array", [1, , 3]],
    ["undefined in an array", [undefined]],
    ["a named property on an array", named],
    ["a shared reference", { a: shared, b: shared }],
    ["a cycle", cycle],
    ["a Map", { m: new Map([[1, 2]]) }],
    ["a Set", new Set([1])],
    ["a Date", { at: new Date(0) }],
    ["a typed array", new Uint8Array(3)],
    ["a class instance", new Point(1)],
    ["a bigint", { big: 1n }],
    ["a function", { f: () => 1 }],
    ["a symbol value", { s: Symbol("s") }],
    ["a symbol-keyed property", { [Symbol("k")]: 1 }],
    ["a boxed string", { s: new String("x") }],
    ["an array subclass", new (class extends Array {})()],
  ];
  for (const [what, value] of refused) {
    test(`refuses ${what}, which JSON would change`, () => {
      const check = checkPlain(value, 1e9);
      assert.equal(check.plain, false);
    });
  }

  test("stops at the limit on characters without flattening a string built with repeat", () => {
    const huge = "x".repeat(2 ** 28); // 256 Mi characters, a rope V8 has not flattened
    const check = checkPlain({ a: huge, b: huge }, 2 ** 20);
    assert.equal(check.plain, false);
    assert.ok(check.chars > 2 ** 20, "it counts at least the characters of the string it stopped at");
  });

  test("gives up at its deadline, so a state too large to prove plain in time leaves by the structured copy", () => {
    const big = Array.from({ length: 20_000 }, (_, i) => ({ id: i }));
    const late = checkPlain(big, 1e9, Date.now() - 1);
    assert.equal(late.plain, false);
    assert.equal(!late.plain && late.why, "too long to check");
    assert.equal(checkPlain(big, 1e9, Date.now() + 60_000).plain, true);
  });

  test("counts at most the characters of the JSON text, so a state under the limit is never refused by the count", () => {
    for (const [what, value] of plain) {
      if (value === null || typeof value !== "object" || what === "a deep chain") continue;
      const check = checkPlain(value, 1e9);
      const text = JSON.stringify(value);
      if (text !== undefined) assert.ok(check.chars <= text.length, `${check.chars} <= ${text.length}`);
    }
  });
});
