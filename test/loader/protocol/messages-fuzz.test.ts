/**
 * Seeded fuzzing of the message schemas (loader/protocol/messages.ts, issue 13). Valid messages
 * of every type are generated from the schemas themselves (so a new message type is fuzzed the
 * day it is declared), then damaged: a field replaced, removed or added at any depth, bytes
 * flipped or cut in their encoding, garbage. decodeClientMessage and decodeNodeMessage throw
 * MESSAGE_INVALID or MESSAGE_UNKNOWN, or return a message that re-validates: it encodes and
 * decodes to itself, and a node message passes the node's own check before sending.
 * FUZZ_RUNS raises the budget (`npm run fuzz`).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { encodeCbor } from "../../../loader/protocol/cbor.js";
import { MESSAGE_SCHEMAS, checkNodeMessage, decodeClientMessage, decodeNodeMessage, encodeMessage, type NodeMessage } from "../../../loader/protocol/messages.js";
import type { Schema } from "../../../loader/protocol/schema.js";
import { codedOrValid, fuzzParameters, garbage, hostileJson, mutated, mutatedTree } from "../../helpers/fuzz.js";

const fuzz = fuzzParameters(1313);

/** Valid values of `schema`, kept small (short strings, few items). */
function arbitraryOf(schema: Schema): fc.Arbitrary<unknown> {
  switch (schema.kind) {
    case "uint":
      return fc.oneof(fc.integer({ min: 0, max: Math.min(schema.max, 1000) }), fc.constant(schema.max));
    case "number":
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case "string":
      if (schema.pattern !== undefined) return fc.stringMatching(schema.pattern).filter((s) => s.length <= schema.maxLength);
      return fc.fullUnicodeString({ maxLength: Math.min(schema.maxLength, 16) });
    case "bytes":
      return fc.uint8Array(schema.exactLength !== undefined ? { minLength: schema.exactLength, maxLength: schema.exactLength } : { maxLength: Math.min(schema.maxLength, 32) }).map((b) => Buffer.from(b));
    case "bool":
      return fc.boolean();
    case "literal":
      return fc.constant(schema.value);
    case "enum":
      return fc.constantFrom(...schema.values);
    case "array":
      return fc.array(arbitraryOf(schema.of), { maxLength: Math.min(schema.maxItems, 3) });
    case "record":
      return fc.dictionary(fc.string({ maxLength: 6 }).filter((k) => k !== "__proto__"), arbitraryOf(schema.of), { maxKeys: Math.min(schema.maxKeys, 3) });
    case "nullable":
      return fc.option(arbitraryOf(schema.of), { nil: null });
    case "described":
      return arbitraryOf(schema.of);
    case "data":
      return fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b))).filter((v) => JSON.stringify(v)?.includes("__proto__") !== true);
    case "object": {
      const fields = Object.entries(schema.fields);
      return fc.tuple(...fields.map(([key, s]) => (schema.optional.includes(key) ? fc.option(arbitraryOf(s), { nil: undefined }) : arbitraryOf(s)))).map((values) => {
        const out: Record<string, unknown> = {};
        fields.forEach(([key], i) => {
          if (values[i] !== undefined) out[key] = values[i];
        });
        return out;
      });
    }
  }
}

const messagesOf = (table: Readonly<Record<string, Schema>>): fc.Arbitrary<unknown> => fc.oneof(...Object.values(table).map(arbitraryOf));
const clientMessage = messagesOf(MESSAGE_SCHEMAS.client);
const nodeMessage = messagesOf(MESSAGE_SCHEMAS.node);

/** What a damaged field may become: wrong types, wrong ranges, prototype names, bytes, undefined. */
const replacement = fc.oneof(
  hostileJson,
  fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)),
  fc.constantFrom(undefined, Number.NaN, Infinity, -Infinity, 1.5, -1, 2 ** 53, "ping", "result", "__proto__", "A".repeat(65)),
);

/** Makes the encoding of anything cbor-x can write (a tree with an undefined, say); what it cannot, is skipped. */
function encodeAnything(value: unknown): Buffer | null {
  try {
    return encodeCbor(value);
  } catch {
    return null;
  }
}

/** -0 becomes 0: cbor-x writes -0 as the integer 0, and no message needs the sign of zero. */
function withoutNegativeZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(withoutNegativeZero);
  if (typeof value === "object" && value !== null && !(value instanceof Uint8Array)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNegativeZero(v)]));
  return value;
}

function clientDecodesOrRejects(bytes: Uint8Array): void {
  codedOrValid(
    () => decodeClientMessage(bytes),
    ["MESSAGE_INVALID", "MESSAGE_UNKNOWN"],
    (message) => assert.deepStrictEqual(withoutNegativeZero(decodeClientMessage(encodeMessage(message))), withoutNegativeZero(message)),
    `decodeClientMessage(${Buffer.from(bytes).toString("hex").slice(0, 300)})`,
  );
}

function nodeDecodesOrRejects(bytes: Uint8Array): void {
  codedOrValid(
    () => decodeNodeMessage(bytes),
    ["MESSAGE_INVALID", "MESSAGE_UNKNOWN"],
    (message: NodeMessage) => {
      assert.deepStrictEqual(withoutNegativeZero(decodeNodeMessage(encodeMessage(message))), withoutNegativeZero(message));
      // What a client accepts, a node would have sent: the two checks agree.
      checkNodeMessage(message);
    },
    `decodeNodeMessage(${Buffer.from(bytes).toString("hex").slice(0, 300)})`,
  );
}

function bothDecodeOrReject(bytes: Uint8Array): void {
  clientDecodesOrRejects(bytes);
  nodeDecodesOrRejects(bytes);
}

describe("the message schemas under fuzzing (seeded)", () => {
  test("every generated valid message decodes to itself on the side that receives it", () => {
    fc.assert(
      fc.property(clientMessage, (m) => {
        assert.deepStrictEqual(withoutNegativeZero(decodeClientMessage(encodeCbor(m))), withoutNegativeZero(m));
      }),
      fuzz,
    );
    fc.assert(
      fc.property(nodeMessage, (m) => {
        assert.deepStrictEqual(withoutNegativeZero(decodeNodeMessage(encodeCbor(m))), withoutNegativeZero(m));
        checkNodeMessage(m as NodeMessage);
      }),
      fuzz,
    );
  });

  test("messages with a field replaced, removed or added at any depth are MESSAGE_INVALID, MESSAGE_UNKNOWN or valid", () => {
    fc.assert(
      fc.property(mutatedTree(fc.oneof(clientMessage, nodeMessage), replacement), (value) => {
        const bytes = encodeAnything(value);
        if (bytes !== null) bothDecodeOrReject(bytes);
      }),
      fuzzParameters(1314, 1000),
    );
  });

  test("encodings of valid messages with flipped, overwritten, inserted, deleted or cut bytes", () => {
    fc.assert(fc.property(mutated(fc.oneof(clientMessage, nodeMessage).map((m) => encodeCbor(m))), bothDecodeOrReject), fuzzParameters(1315, 1000));
  });

  test("garbage, and arbitrary values that are not messages", () => {
    fc.assert(fc.property(garbage, bothDecodeOrReject), fuzz);
    fc.assert(
      fc.property(fc.oneof(replacement, fc.record({ type: fc.oneof(fc.string(), replacement) }, { requiredKeys: [] })), (value) => {
        const bytes = encodeAnything(value);
        if (bytes !== null) bothDecodeOrReject(bytes);
      }),
      fuzzParameters(1316),
    );
  });
});
