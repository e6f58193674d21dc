/**
 * Seeded fuzzing of the state snapshot format (loader/store/state-store.ts decodeState, issue
 * 13): garbage, every truncation, damaged files as they are (the checksum catches them), and
 * damaged files resealed with a checksum that matches, so that what lies behind the checksum —
 * the header length, the CBOR header and its fields, the state's size — is reached as well.
 * decodeState throws STATE_CORRUPT or returns the state of the module asked for, whose bytes
 * are the size its header says, and which encodes and decodes to itself. FUZZ_RUNS raises the
 * budget (`npm run fuzz`).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import { encodeCbor } from "../../../loader/protocol/cbor.js";
import { DIGEST, MODULE_NAME } from "../../../loader/protocol/messages.js";
import { STATE_FORMAT, decodeState, encodeState, type SavedState } from "../../../loader/protocol/state-file.js";
import { codedOrValid, fuzzParameters, garbage, hostileJson, mutated, mutatedTree, prefixes, utcTime } from "../../helpers/fuzz.js";

const fuzz = fuzzParameters(7171);
const FILE = "/data/store/states/counter/7.state";
const MODULE = "counter";

const savedState: fc.Arbitrary<SavedState> = fc.record({
  module: fc.oneof(fc.constant(MODULE), fc.stringMatching(MODULE_NAME)),
  digest: fc.stringMatching(DIGEST),
  version: fc.fullUnicodeString({ maxLength: 20 }),
  seq: fc.oneof(fc.nat(), fc.maxSafeNat()),
  savedAt: utcTime,
  bytes: fc.uint8Array({ maxLength: 300 }),
});

/** A file's bytes with the trailing SHA-256 recomputed, as a writer that meant them would have. */
function reseal(file: Uint8Array): Buffer {
  const body = Buffer.from(file.subarray(0, Math.max(0, file.length - 32)));
  return Buffer.concat([body, createHash("sha256").update(body).digest()]);
}

function decodesOrRejects(bytes: Uint8Array): void {
  codedOrValid(
    () => decodeState(bytes, MODULE, FILE),
    ["STATE_CORRUPT"],
    (saved) => {
      assert.equal(saved.module, MODULE, "a state of another module was returned");
      assert.match(saved.digest, DIGEST);
      assert.ok(Number.isSafeInteger(saved.seq) && saved.seq >= 0);
      const again = encodeState(saved);
      assert.deepEqual(decodeState(again, MODULE, FILE), saved);
      assert.ok(saved.bytes.length <= bytes.length);
    },
    Buffer.from(bytes).toString("hex").slice(0, 300),
  );
}

/** A header object written as CBOR, framed and sealed like a state file. */
function fileWithHeader(header: unknown, state: Uint8Array, declaredLength?: number): Buffer | null {
  let encoded: Buffer;
  try {
    encoded = encodeCbor(header);
  } catch {
    return null;
  }
  const head = Buffer.alloc(9);
  head.write("FXST", 0, "latin1");
  head.writeUInt8(STATE_FORMAT, 4);
  head.writeUInt32BE(declaredLength ?? encoded.length, 5);
  return reseal(Buffer.concat([head, encoded, state, Buffer.alloc(32)]));
}

describe("the state snapshot format under fuzzing (seeded)", () => {
  test("every generated state decodes to itself, and one of another module is STATE_CORRUPT", () => {
    fc.assert(
      fc.property(savedState, (s) => {
        const file = encodeState(s);
        if (s.module === MODULE) assert.deepEqual(decodeState(file, MODULE, FILE), { ...s, bytes: new Uint8Array(s.bytes) });
        decodesOrRejects(file);
      }),
      fuzz,
    );
  });

  test("garbage, with and without the magic, sealed or not, is STATE_CORRUPT", () => {
    const magic = Buffer.from([0x46, 0x58, 0x53, 0x54, STATE_FORMAT]);
    fc.assert(fc.property(fc.oneof(garbage, garbage.map((b) => Buffer.concat([magic, b]))), fc.boolean(), (b, sealed) => decodesOrRejects(sealed ? reseal(Buffer.concat([b, Buffer.alloc(32)])) : b)), fuzz);
  });

  test("every truncation of a valid file is STATE_CORRUPT", () => {
    fc.assert(
      fc.property(savedState, (s) => {
        for (const prefix of prefixes(encodeState({ ...s, module: MODULE }))) codedOrValid(() => decodeState(prefix, MODULE, FILE), ["STATE_CORRUPT"], () => assert.fail("a truncated file decoded"));
      }),
      fuzzParameters(7172, 30),
    );
  });

  test("valid files damaged, as they are and resealed with a matching checksum", () => {
    const valid = savedState.map((s) => encodeState({ ...s, module: MODULE }));
    fc.assert(fc.property(mutated(valid), decodesOrRejects), fuzzParameters(7173, 1000));
    fc.assert(fc.property(mutated(valid).map(reseal), decodesOrRejects), fuzzParameters(7174, 1000));
  });

  test("headers with a field replaced, removed or added, or a header length that lies, sealed with a matching checksum", () => {
    const header = savedState.map((s) => ({ module: MODULE, digest: s.digest, version: s.version, seq: s.seq, savedAt: s.savedAt, size: s.bytes.length }));
    const replacement = fc.oneof(hostileJson, fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)), fc.constantFrom(undefined, -1, 1.5, 2 ** 53, "Counter", "../x", "a".repeat(257)));
    fc.assert(
      fc.property(mutatedTree(header, replacement), fc.uint8Array({ maxLength: 64 }), fc.option(fc.oneof(fc.nat(5000), fc.constantFrom(0xffffffff, 4096, 4097))), (h, state, declared) => {
        const file = fileWithHeader(h, state, declared ?? undefined);
        if (file !== null) decodesOrRejects(file);
      }),
      fuzzParameters(7175, 1000),
    );
  });
});
