import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { FixpointError } from "../../../loader/protocol/errors.js";
import { checkWellFormed, decodeCbor, decodeCborSequence, encodeCbor } from "../../../loader/protocol/cbor.js";
import { MAX_CBOR_DEPTH, MAX_CBOR_ITEMS } from "../../../loader/protocol/limits.js";
import { throwsCode } from "../../helpers/expect-code.js";

/** Bytes from hex, ignoring spaces, so test vectors read like RFC 8949 Appendix A. */
const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");
const text = (s: string): Buffer => Buffer.concat([hex((0x60 + s.length).toString(16)), Buffer.from(s)]);
const rejects = (bytes: Uint8Array, ...mentions: string[]): FixpointError => throwsCode(() => decodeCbor(bytes), "MESSAGE_INVALID", ...mentions);

describe("decodeCbor accepts the subset Fixpoint sends", () => {
  const cases: [string, string, unknown][] = [
    ["0", "00", 0],
    ["23", "17", 23],
    ["24 (one-byte argument)", "18 18", 24],
    ["1000 (two-byte argument)", "19 03e8", 1000],
    ["1000000 (four-byte argument)", "1a 000f4240", 1_000_000],
    ["2^53 - 1 (eight-byte argument), as a number", "1b 001fffffffffffff", Number.MAX_SAFE_INTEGER],
    ["1 in an eight-byte head, as a number", "1b 0000000000000001", 1],
    ["-1", "20", -1],
    ["-1000", "39 03e7", -1000],
    ["-2^53, as a number", "3b 001fffffffffffff", -(2 ** 53)],
    ["1.5 as float16", "f9 3e00", 1.5],
    ["100000.0 as float32", "fa 47c35000", 100000],
    ["1.1 as float64", "fb 3ff199999999999a", 1.1],
    ["-0.0", "f9 8000", -0],
    ["false", "f4", false],
    ["true", "f5", true],
    ["null", "f6", null],
    ["undefined", "f7", undefined],
    ["empty text", "60", ""],
    ["text", "64 49455446", "IETF"],
    ["UTF-8 text", "62 c3bc", "ü"],
    ["empty array", "80", []],
    ["nested arrays", "83 01 82 02 03 82 04 05", [1, [2, 3], [4, 5]]],
    ["empty map", "a0", {}],
    ["map with text keys", "a2 6161 01 6162 82 02 03", { a: 1, b: [2, 3] }],
  ];
  for (const [name, bytes, value] of cases) {
    test(name, () => {
      assert.deepStrictEqual(decodeCbor(hex(bytes)), value);
    });
  }

  test("byte strings, as bytes", () => {
    const value = decodeCbor(hex("44 01020304"));
    assert.ok(value instanceof Uint8Array);
    assert.deepEqual(Buffer.from(value), hex("01020304"));
  });

  test("a map decoded as a plain object with Object.prototype", () => {
    const value = decodeCbor(hex("a1 6161 01"));
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
  });

  test("nesting exactly MAX_CBOR_DEPTH containers deep", () => {
    const bytes = Buffer.concat([Buffer.alloc(MAX_CBOR_DEPTH, 0x81), hex("00")]);
    let value = decodeCbor(bytes);
    for (let i = 0; i < MAX_CBOR_DEPTH; i++) {
      assert.ok(Array.isArray(value));
      value = value[0];
    }
    assert.equal(value, 0);
  });

  test("a Uint8Array view into a larger buffer", () => {
    const backing = new Uint8Array([0xff, 0x82, 0x01, 0x02, 0xff]);
    assert.deepStrictEqual(decodeCbor(backing.subarray(1, 4)), [1, 2]);
  });
});

describe("decodeCbor rejects with MESSAGE_INVALID", () => {
  test("tag 27, which cbor-x would turn into a call to a global constructor", () => {
    // 27(["Error", "boom"]) is cbor-x's "generic object" tag.
    rejects(Buffer.concat([hex("d8 1b 82"), text("Error"), text("boom")]), "tags");
  });

  test("tag 1 (an epoch date) and tag 0 (a date string)", () => {
    rejects(hex("c1 1a 514b67b0"), "tags");
    rejects(Buffer.concat([hex("c0"), text("2013-03-21T20:04:00Z")]), "tags");
  });

  test("tags cbor-x uses for records, typed arrays, sets and shared structures", () => {
    for (const bytes of ["d9 dfff 80", "d8 40 41 00", "d9 0102 80", "d8 1c 80", "d8 1d 00", "d9 e000 00"]) rejects(hex(bytes), "tags");
  });

  test("a tag nested inside an array or a map value", () => {
    rejects(hex("82 01 c1 00"), "tags");
    rejects(hex("a1 6161 c1 00"), "tags");
  });

  test("indefinite-length arrays, maps, byte strings and text strings", () => {
    rejects(hex("9f 01 02 ff"), "indefinite");
    rejects(hex("bf 6161 01 ff"), "indefinite");
    rejects(hex("5f 41 00 ff"), "indefinite");
    rejects(hex("7f 61 61 ff"), "indefinite");
  });

  test("a lone break byte and other simple values", () => {
    rejects(hex("ff"));
    rejects(hex("e0"), "simple value");
    rejects(hex("f0"), "simple value");
    rejects(hex("f8 20"), "simple value");
  });

  test("reserved additional information 28 to 30", () => {
    for (const initial of [0x1c, 0x1d, 0x1e, 0x3c, 0x5c, 0x7d, 0x9e, 0xbc]) rejects(Buffer.from([initial]), "reserved");
  });

  test("trailing bytes after the value", () => {
    rejects(hex("01 02"), "1 trailing bytes");
    rejects(hex("a0 00 00"), "2 trailing bytes");
  });

  test("empty input", () => {
    rejects(Buffer.alloc(0), "truncated");
  });

  test("input truncated at every byte", () => {
    const whole = encodeCbor({ type: "push", id: 7, list: [1, 2.5, -300, "text", null], bytes: new Uint8Array([1, 2, 3]), big: 70000 });
    assert.doesNotThrow(() => decodeCbor(whole));
    for (let i = 0; i < whole.length; i++) rejects(whole.subarray(0, i));
  });

  test("nesting deeper than MAX_CBOR_DEPTH, before recursing further", () => {
    rejects(Buffer.concat([Buffer.alloc(MAX_CBOR_DEPTH + 1, 0x81), hex("00")]), "nested deeper");
    rejects(Buffer.concat([Buffer.alloc(100_000, 0x81), hex("00")]), "nested deeper");
    // Maps count too: {"a": {"a": … 0}}.
    rejects(Buffer.concat([Buffer.concat(Array.from({ length: MAX_CBOR_DEPTH + 1 }, () => hex("a1 6161"))), hex("00")]), "nested deeper");
  });

  test("map keys that are not text: integers, byte strings, arrays", () => {
    rejects(hex("a1 01 02"), "keys must be text");
    rejects(hex("a1 41 61 02"), "keys must be text");
    rejects(hex("a1 80 02"), "keys must be text");
    rejects(hex("a1 f6 02"), "keys must be text");
  });

  test("duplicate map keys", () => {
    rejects(hex("a2 6161 01 6161 02"), "duplicate");
  });

  test("duplicate map keys hidden behind a non-canonical length head", () => {
    // Regression: the check compared the encoded key, head included, so 0x61 "a" and
    // 0x78 0x01 "a" looked different while cbor-x decoded both to "a" and kept the last value.
    rejects(hex("a2 6161 01 780161 02"), "duplicate");
    rejects(hex("a2 790001 61 01 7a00000001 61 02"), "duplicate");
  });

  test('the key "__proto__", however its length is encoded', () => {
    rejects(Buffer.concat([hex("a1"), text("__proto__"), hex("01")]), "__proto__");
    rejects(Buffer.concat([hex("a1 7809"), Buffer.from("__proto__"), hex("01")]), "__proto__");
    rejects(Buffer.concat([hex("a1 790009"), Buffer.from("__proto__"), hex("a0")]), "__proto__");
    rejects(Buffer.concat([hex("a2"), text("a"), hex("01"), text("__proto__"), hex("a1"), text("polluted"), hex("f5")]), "__proto__");
    assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
  });

  test("map keys that are not valid UTF-8 (distinct bytes that would decode to the same key)", () => {
    rejects(hex("a2 61ff 01 61fe 02"), "UTF-8");
    rejects(hex("a1 63eda080 01"), "UTF-8");
  });

  test("accepts keys that only look like __proto__", () => {
    assert.deepStrictEqual(decodeCbor(Buffer.concat([hex("a2"), text("__proto_"), hex("01"), text("x__proto__"), hex("02")])), { __proto_: 1, x__proto__: 2 });
  });

  test("integers beyond 2^53", () => {
    rejects(hex("1b 0020000000000000"), "2^53");
    rejects(hex("3b 0020000000000000"), "2^53");
    rejects(hex("1b ffffffffffffffff"), "2^53");
  });

  test("a declared string length longer than the message", () => {
    rejects(hex("5a ffffffff 00"), "longer than the message");
    rejects(hex("7a ffffffff 00"), "longer than the message");
    rejects(hex("5b 001fffffffffffff"), "longer than the message");
    rejects(hex("5b ffffffffffffffff"), "2^53");
    rejects(hex("43 0102"), "longer than the message");
  });

  test("a declared array or map size beyond MAX_CBOR_ITEMS or beyond the message", () => {
    rejects(hex("9a ffffffff"), `exceeds ${MAX_CBOR_ITEMS}`);
    rejects(hex("bb 001fffffffffffff"), `exceeds ${MAX_CBOR_ITEMS}`);
    rejects(Buffer.concat([hex("9a"), Buffer.from([0, 1, 0x86, 0xa1]), Buffer.alloc(MAX_CBOR_ITEMS + 1)]), `${MAX_CBOR_ITEMS + 1} items`);
    rejects(hex("99 1000 00 00"), "longer than the message");
  });

  test("accepts an array of exactly MAX_CBOR_ITEMS items", () => {
    const bytes = Buffer.concat([hex("9a"), Buffer.from([0, 1, 0x86, 0xa0]), Buffer.alloc(MAX_CBOR_ITEMS)]);
    const value = decodeCbor(bytes);
    assert.ok(Array.isArray(value));
    assert.equal(value.length, MAX_CBOR_ITEMS);
  });

  test("checkWellFormed alone throws the same errors without building a value", () => {
    throwsCode(() => checkWellFormed(hex("c1 00")), "MESSAGE_INVALID", "tags");
    assert.doesNotThrow(() => checkWellFormed(hex("a1 6161 01")));
  });
});

describe("encodeCbor", () => {
  test("encodes maps as CBOR maps and Uint8Arrays as plain byte strings (no tags)", () => {
    // cbor-x writes object sizes with a two-byte head (0xb9), which is well-formed, just not shortest.
    const map = encodeCbor({ a: 1 });
    assert.equal(map[0]! >> 5, 5);
    assert.deepStrictEqual(decodeCbor(map), { a: 1 });
    assert.deepEqual(encodeCbor(new Uint8Array([1, 2])), hex("42 0102"));
    assert.deepEqual(encodeCbor(Buffer.from([1, 2])), hex("42 0102"));
  });

  test("encodes numbers beyond 32 bits as floats, which decode back exactly", () => {
    for (const n of [2 ** 32, 2 ** 40, Number.MAX_SAFE_INTEGER, -(2 ** 40), 1e20]) assert.equal(decodeCbor(encodeCbor(n)), n);
  });
});

// ─── Properties ────────────────────────────────────────────────────────────

/** Decoding either returns or throws MESSAGE_INVALID, and nothing else. */
function decodesOrRejects(bytes: Uint8Array): void {
  try {
    decodeCbor(bytes);
  } catch (err) {
    if (!(err instanceof FixpointError) || err.code !== "MESSAGE_INVALID") {
      throw new Error(`decodeCbor(${Buffer.from(bytes).toString("hex")}) threw ${String(err)}`, { cause: err });
    }
  }
}

/** The JSON-like values Fixpoint sends, plus byte strings. */
const wireValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    fc.maxSafeInteger(),
    // cbor-x writes -0 as the integer 0; Fixpoint never needs the sign of zero.
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? 0 : d)),
    fc.string(),
    fc.fullUnicodeString(),
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(
      fc.fullUnicodeString().filter((k) => k !== "__proto__"),
      tie("value"),
      { maxKeys: 5 },
    ),
  ),
})).value;

describe("decodeCbor properties", () => {
  test("for arbitrary bytes, returns or throws MESSAGE_INVALID, never anything else", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => decodesOrRejects(bytes)), { numRuns: 2000 });
  });

  test("for arbitrary bytes starting like a container or a tag, returns or throws MESSAGE_INVALID", () => {
    const head = fc.constantFrom(0x81, 0x82, 0x9f, 0xa1, 0xa2, 0xbf, 0xc1, 0xd8, 0x5f, 0x7f, 0x1b, 0xfb, 0x9a, 0xba);
    fc.assert(
      fc.property(fc.array(head, { minLength: 1, maxLength: 4 }), fc.uint8Array({ maxLength: 32 }), (heads, rest) =>
        decodesOrRejects(Buffer.concat([Buffer.from(heads), rest])),
      ),
      { numRuns: 2000 },
    );
  });

  test("for valid encodings with a byte changed, inserted or cut, returns or throws MESSAGE_INVALID", () => {
    fc.assert(
      fc.property(wireValue, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom("set", "insert", "cut"), (value, at, byte, how) => {
        const bytes = encodeCbor(value);
        const i = at % bytes.length;
        const mutated =
          how === "set" ? Buffer.from(bytes).fill(byte, i, i + 1)
          : how === "insert" ? Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i)])
          : bytes.subarray(0, i);
        decodesOrRejects(mutated);
      }),
      { numRuns: 2000 },
    );
  });

  test("round-trips arbitrary JSON-like values through encodeCbor and decodeCbor", () => {
    fc.assert(
      fc.property(wireValue, (value) => {
        assert.deepStrictEqual(decodeCbor(encodeCbor(value)), value);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("decodeCborSequence", () => {
  test("decodes values written back to back, in order (seeded property)", () => {
    fc.assert(
      fc.property(fc.array(wireValue, { minLength: 1, maxLength: 6 }), (values) => {
        assert.deepStrictEqual(decodeCborSequence(Buffer.concat(values.map((v) => encodeCbor(v))), 6), values);
      }),
      { seed: 8742, numRuns: Number(process.env["FUZZ_RUNS"] ?? 500) },
    );
  });

  test("refuses more values than maxItems as trailing bytes, an empty sequence, and a truncated last value", () => {
    const two = Buffer.concat([encodeCbor({ a: 1 }), encodeCbor([1, 2])]);
    assert.equal(decodeCborSequence(two, 2).length, 2);
    throwsCode(() => decodeCborSequence(two, 1), "MESSAGE_INVALID", "trailing bytes");
    throwsCode(() => decodeCborSequence(Buffer.alloc(0), 4), "MESSAGE_INVALID", "truncated");
    throwsCode(() => decodeCborSequence(two.subarray(0, two.length - 1), 4), "MESSAGE_INVALID");
  });

  test("refuses a sequence whose later value breaks the accepted subset, before building any", () => {
    const tagged = Buffer.concat([encodeCbor({ a: 1 }), Buffer.from([0xc1, 0x00])]);
    throwsCode(() => decodeCborSequence(tagged, 4), "MESSAGE_INVALID", "tags");
  });
});
