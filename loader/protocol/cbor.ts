/**
 * CBOR for untrusted input.
 *
 * cbor-x decodes fast but trusts its input more than a network peer deserves: tag 27 calls a
 * global constructor by name, records and packed values change decoder state, and nesting is
 * limited only by the stack. So every message is first walked by `checkWellFormed`, which
 * accepts only the subset Fixpoint sends:
 *
 *   unsigned and negative integers within ±2^53, byte strings, text strings, definite-length
 *   arrays and maps with valid UTF-8 text keys (no duplicates, no "__proto__"), false, true, null,
 *   undefined and floats. No tags, no indefinite lengths, no other simple values, no
 *   trailing bytes, nesting at most MAX_CBOR_DEPTH, at most MAX_CBOR_ITEMS per container.
 *
 * Only then does cbor-x build the value. The walk skips over string bodies without reading
 * them, so it costs little even for a 10 MB byte string.
 */
import { isUtf8 } from "node:buffer";
import { Decoder, Encoder } from "cbor-x";
import { FixpointError } from "../errors.js";
import { MAX_CBOR_DEPTH, MAX_CBOR_ITEMS } from "./limits.js";

const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  tagUint8Array: false,
  pack: false,
  structuredClone: false,
  useTag259ForMaps: false,
} as ConstructorParameters<typeof Encoder>[0]);

// int64AsNumber: cbor-x returns a BigInt for every 8-byte integer head (even 0x1b 00..01), which
// is outside the Data subset; checkWellFormed has already bounded it to ±2^53, so a number is exact.
const decoder = new Decoder({
  useRecords: false,
  mapsAsObjects: true,
  structuredClone: false,
  int64AsNumber: true,
} as ConstructorParameters<typeof Decoder>[0]);

export function encodeCbor(value: unknown): Buffer {
  return encoder.encode(value);
}

/** Decodes one CBOR value that must fill `bytes` exactly. Throws MESSAGE_INVALID. */
export function decodeCbor(bytes: Uint8Array): unknown {
  checkWellFormed(bytes);
  try {
    return decoder.decode(bytes);
  } catch (err) {
    throw invalid(`CBOR decoder: ${(err as Error).message}`);
  }
}

function invalid(why: string): FixpointError {
  return new FixpointError("MESSAGE_INVALID", `malformed message: ${why}`);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const PROTO_KEY = Buffer.from("__proto__");

/** Throws MESSAGE_INVALID unless `bytes` is exactly one value of the accepted subset. */
export function checkWellFormed(bytes: Uint8Array): void {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;

  // Reads a head's argument; returns it as a number (lengths are bounded by the buffer anyway).
  const argument = (info: number): number => {
    if (info < 24) return info;
    const width = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (width === 0) throw invalid(info === 31 ? "indefinite lengths are not accepted" : `reserved additional info ${info}`);
    if (pos + width > buf.length) throw invalid("truncated");
    let value: number;
    if (width === 8) {
      const big = buf.readBigUInt64BE(pos);
      if (big > MAX_SAFE) throw invalid("integer or length beyond 2^53");
      value = Number(big);
    } else {
      value = buf.readUIntBE(pos, width);
    }
    pos += width;
    return value;
  };

  // A map key's content, compared as content and not as its encoding: a non-canonical length
  // head (0x78 0x01 "a" next to 0x61 "a") used to slip a duplicate or "__proto__" past the check,
  // and cbor-x then silently kept the last value. Keys must be valid UTF-8 so that distinct bytes
  // stay distinct strings once decoded (cbor-x turns every invalid sequence into U+FFFD).
  const textKey = (): Buffer => {
    if (pos >= buf.length || buf[pos]! >> 5 !== 3) throw invalid("map keys must be text strings");
    const length = argument(buf[pos++]! & 0x1f);
    if (length > buf.length - pos) throw invalid("string longer than the message");
    const key = buf.subarray(pos, pos + length);
    pos += length;
    if (!isUtf8(key)) throw invalid("map keys must be valid UTF-8");
    return key;
  };

  const item = (depth: number): void => {
    if (pos >= buf.length) throw invalid("truncated");
    const initial = buf[pos++]!;
    const major = initial >> 5;
    const info = initial & 0x1f;
    switch (major) {
      case 0:
      case 1:
        argument(info);
        return;
      case 2:
      case 3: {
        const length = argument(info);
        if (length > buf.length - pos) throw invalid("string longer than the message");
        pos += length;
        return;
      }
      case 4:
      case 5: {
        if (depth >= MAX_CBOR_DEPTH) throw invalid(`nested deeper than ${MAX_CBOR_DEPTH}`);
        const count = argument(info);
        if (count > MAX_CBOR_ITEMS) throw invalid(`container of ${count} items exceeds ${MAX_CBOR_ITEMS}`);
        if (count > buf.length - pos) throw invalid("container longer than the message");
        if (major === 4) {
          for (let i = 0; i < count; i++) item(depth + 1);
          return;
        }
        const keys = count > 1 ? new Set<string>() : null;
        for (let i = 0; i < count; i++) {
          const key = textKey();
          if (key.equals(PROTO_KEY)) throw invalid('the key "__proto__" is not accepted');
          if (keys !== null) {
            const id = key.toString("latin1");
            if (keys.has(id)) throw invalid("duplicate map key");
            keys.add(id);
          }
          item(depth + 1);
        }
        return;
      }
      case 6:
        throw invalid("tags are not accepted");
      default: {
        // major 7: false, true, null, undefined, float16/32/64.
        if (info >= 20 && info <= 23) return;
        const width = info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
        if (width === 0) throw invalid(`simple value ${info} is not accepted`);
        if (pos + width > buf.length) throw invalid("truncated");
        pos += width;
        return;
      }
    }
  };

  item(0);
  if (pos !== buf.length) throw invalid(`${buf.length - pos} trailing bytes`);
}
