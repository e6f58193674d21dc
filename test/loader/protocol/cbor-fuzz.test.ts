/**
 * Seeded fuzzing of the CBOR validator (loader/protocol/cbor.ts, issue 13): garbage, every
 * truncation, bit flips and other damage to valid encodings, and hand-assembled items built from
 * the heads a hostile peer would try (tags, indefinite lengths, simple values, 64-bit integers,
 * lengths past the buffer, duplicate and "__proto__" keys with non-canonical heads, invalid
 * UTF-8 keys, nesting past the limit). Whatever the bytes, decodeCbor and decodeCborSequence
 * throw MESSAGE_INVALID or return plain data inside the limits that re-encodes to itself.
 * FUZZ_RUNS raises the budget (`npm run fuzz`).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { checkWellFormed, decodeCbor, decodeCborSequence, encodeCbor } from "../../../loader/protocol/cbor.js";
import { MAX_CBOR_DEPTH, MAX_CBOR_ITEMS } from "../../../loader/protocol/limits.js";
import { codedOrValid, fuzzParameters, garbage, mutated, prefixes } from "../../helpers/fuzz.js";

const fuzz = fuzzParameters(4949);

/** Asserts that `value` is the plain data the validator promises: no BigInt, Map, Date or tag object, no "__proto__" key, within the limits. */
function assertPlainData(value: unknown, depth = 0): void {
  if (value === null || value === undefined || typeof value === "boolean" || typeof value === "number" || typeof value === "string") return;
  if (value instanceof Uint8Array) return;
  assert.equal(typeof value, "object", `a ${typeof value} in decoded data`);
  assert.ok(depth < MAX_CBOR_DEPTH, `nested deeper than ${MAX_CBOR_DEPTH}`);
  if (Array.isArray(value)) {
    assert.ok(value.length <= MAX_CBOR_ITEMS);
    for (const item of value as unknown[]) assertPlainData(item, depth + 1);
    return;
  }
  assert.equal(Object.getPrototypeOf(value), Object.prototype, `an object of another kind: ${Object.prototype.toString.call(value)}`);
  const keys = Reflect.ownKeys(value);
  assert.ok(keys.length <= MAX_CBOR_ITEMS);
  for (const key of keys) {
    assert.equal(typeof key, "string");
    assert.notEqual(key, "__proto__");
    assertPlainData((value as Record<string, unknown>)[key as string], depth + 1);
  }
}

/** -0 becomes 0 (cbor-x writes -0 as the integer 0; nothing in Fixpoint needs the sign of zero). */
function withoutNegativeZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(withoutNegativeZero);
  if (typeof value === "object" && value !== null && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNegativeZero(v)]));
  }
  return value;
}

/** What decodeCbor returns must be plain data that encodes to bytes the validator accepts and decodes to itself. */
function revalidate(value: unknown): void {
  assertPlainData(value);
  const again = encodeCbor(value);
  checkWellFormed(again);
  assert.deepStrictEqual(withoutNegativeZero(decodeCbor(again)), withoutNegativeZero(value));
}

function decodesOrRejects(bytes: Uint8Array): void {
  codedOrValid(() => decodeCbor(bytes), ["MESSAGE_INVALID"], revalidate, `decodeCbor(${Buffer.from(bytes).toString("hex").slice(0, 200)})`);
  codedOrValid(
    () => decodeCborSequence(bytes, 4),
    ["MESSAGE_INVALID"],
    (values) => {
      assert.ok(values.length >= 1 && values.length <= 4);
      values.forEach(revalidate);
    },
    `decodeCborSequence(${Buffer.from(bytes).toString("hex").slice(0, 200)})`,
  );
}

/** JSON-like values and byte strings, the shapes Fixpoint sends. */
const wireValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.fullUnicodeString({ maxLength: 12 }),
    fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.fullUnicodeString({ maxLength: 6 }).filter((k) => k !== "__proto__"), tie("value"), { maxKeys: 5 }),
  ),
})).value;

const validEncoding = wireValue.map((v) => encodeCbor(v));

const byte = (n: number): Buffer => Buffer.from([n]);
/** A head of major type `major` with argument `n`, in the given width (0: shortest). */
function head(major: number, big: number | bigint, width: 0 | 1 | 2 | 4 | 8): Buffer {
  const top = major << 5;
  const n = Number(big);
  if (width === 0) width = n < 24 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x100000000 ? 4 : 8;
  if (width === 0) return byte(top | n);
  const out = Buffer.alloc(1 + width);
  out[0] = top | (width === 1 ? 24 : width === 2 ? 25 : width === 4 ? 26 : 27);
  if (width === 1) out.writeUInt8(n & 0xff, 1);
  else if (width === 2) out.writeUInt16BE(n & 0xffff, 1);
  else if (width === 4) out.writeUInt32BE(n >>> 0, 1);
  else out.writeBigUInt64BE(BigInt.asUintN(64, typeof big === "bigint" ? big : BigInt(Math.floor(n))), 1);
  return out;
}

const width = fc.constantFrom<0 | 1 | 2 | 4 | 8>(0, 0, 0, 1, 2, 4, 8);
const textBytes = fc.oneof(
  fc.fullUnicodeString({ maxLength: 8 }).map((s) => Buffer.from(s)),
  fc.constantFrom(Buffer.from("__proto__"), Buffer.from("type"), Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0xaf])),
);
const text = fc.tuple(textBytes, width).map(([b, w]) => Buffer.concat([head(3, b.length, w), b]));

/**
 * Items assembled head by head, mostly well formed but with every construct a peer could try:
 * the validator must refuse what it does not accept and cbor-x must never see it.
 */
const hostileItem: fc.Arbitrary<Buffer> = fc.letrec<{ item: Buffer }>((tie) => ({
  item: fc.oneof(
    { depthSize: "small", withCrossShrink: true, maxDepth: 6 },
    fc.tuple(fc.constantFrom(0, 1), fc.oneof(fc.nat(), fc.maxSafeInteger(), fc.constantFrom<number | bigint>(2 ** 53, 2n ** 64n - 1n)), width).map(([m, n, w]) => head(m, n, w)),
    fc.tuple(fc.uint8Array({ maxLength: 12 }), width).map(([b, w]) => Buffer.concat([head(2, b.length, w), b])),
    text,
    // A length past the end of the buffer, or past 2^53.
    fc.tuple(fc.constantFrom(2, 3, 4, 5), fc.oneof(fc.integer({ min: 1, max: 1 << 20 }), fc.constantFrom(0xffffffff, 2 ** 53 + 8, MAX_CBOR_ITEMS + 1))).map(([m, n]) => head(m, n, 0)),
    fc.constantFrom(0xf4, 0xf5, 0xf6, 0xf7).map(byte),
    fc.tuple(fc.constantFrom(0xf9, 0xfa, 0xfb), fc.uint8Array({ minLength: 8, maxLength: 8 })).map(([h, b]) => Buffer.concat([byte(h), b.subarray(0, h === 0xf9 ? 2 : h === 0xfa ? 4 : 8)])),
    // Simple values, reserved infos, indefinite lengths, break, tags (27 calls a constructor by name in cbor-x).
    fc.constantFrom(0xe0, 0xf0, 0xf3, 0xf8, 0xfc, 0xfe, 0xff, 0x1c, 0x1f, 0x5f, 0x7f, 0x9f, 0xbf, 0xc0, 0xc1, 0xd8, 0xd9, 0xda, 0xdb).map(byte),
    fc.tuple(fc.constantFrom(0xc1, 0xc2, 0xd8), tie("item")).map(([t, i]) => Buffer.concat(t === 0xd8 ? [byte(t), byte(27), i] : [byte(t), i])),
    fc.tuple(fc.array(tie("item"), { maxLength: 4 }), width).map(([items, w]) => Buffer.concat([head(4, items.length, w), ...items])),
    fc.tuple(fc.array(fc.tuple(text, tie("item")), { maxLength: 4 }), width).map(([entries, w]) => Buffer.concat([head(5, entries.length, w), ...entries.flat()])),
    // The same key twice, once with a non-canonical head.
    fc.tuple(textBytes, tie("item"), tie("item")).map(([k, a, b]) => Buffer.concat([byte(0xa2), head(3, k.length, 0), k, a, head(3, k.length, 1), k, b])),
    // Nesting near the depth limit.
    fc.tuple(fc.integer({ min: MAX_CBOR_DEPTH - 2, max: MAX_CBOR_DEPTH + 2 }), fc.constantFrom(0x81, 0xa1)).map(([n, h]) =>
      h === 0x81 ? Buffer.concat([Buffer.alloc(n, 0x81), byte(0)]) : Buffer.concat([...Array.from({ length: n }, () => Buffer.from([0xa1, 0x61, 0x6b])), byte(0)]),
    ),
  ),
})).item;

describe("decodeCbor and decodeCborSequence under fuzzing (seeded)", () => {
  test("garbage is MESSAGE_INVALID or plain data, never anything else", () => {
    fc.assert(fc.property(garbage, decodesOrRejects), fuzz);
  });

  test("valid encodings damaged by bit flips, overwritten, inserted, deleted or duplicated bytes", () => {
    fc.assert(fc.property(mutated(validEncoding), decodesOrRejects), fuzz);
  });

  test("every truncation of a valid encoding is MESSAGE_INVALID", () => {
    fc.assert(
      fc.property(validEncoding, (bytes) => {
        for (const prefix of prefixes(bytes)) {
          // A prefix can be a whole smaller value only when the value was a sequence; one value never.
          codedOrValid(() => decodeCbor(prefix), ["MESSAGE_INVALID"], () => assert.fail(`a truncation decoded: ${prefix.toString("hex")}`));
        }
      }),
      fuzzParameters(4950, 100),
    );
  });

  test("items assembled from hostile heads (tags, indefinite lengths, simple values, huge lengths, duplicate keys, bad UTF-8 keys, deep nesting)", () => {
    fc.assert(fc.property(hostileItem, decodesOrRejects), fuzz);
    fc.assert(fc.property(fc.array(hostileItem, { minLength: 1, maxLength: 5 }).map((items) => Buffer.concat(items)), decodesOrRejects), fuzzParameters(4951));
  });

  test("hostile items damaged further", () => {
    fc.assert(fc.property(mutated(hostileItem), decodesOrRejects), fuzzParameters(4952));
  });
});
