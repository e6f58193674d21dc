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
import { randomBytes } from "node:crypto";
import { Decoder, Encoder } from "cbor-x";
import { FixpointError } from "./errors.js";
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

/**
 * Encodes like `encodeCbor`, but without copying byte strings of at least `minBytes` (>= 64 KiB):
 * returns parts whose concatenation is exactly `encodeCbor(value)`, each large byte string
 * being a part of its own (the caller's bytes, not a copy). For a sender that seals the parts
 * at once: copying a 10 MB payload into the encoder's buffer, fresh memory each time, cost
 * as much as sealing it (bench/channel.ts).
 *
 * How: each large byte string (reached through plain objects and arrays) is swapped, in a copy
 * of the objects on its path, for a 32-byte marker that holds a per-process random value; the
 * markers are found in the encoding and replaced by the original's head and bytes. cbor-x
 * writes every Uint8Array with the same head rule, so the bytes are those of `encodeCbor`.
 * Anything unexpected (a marker not found where it should be, or found twice) falls back to
 * `encodeCbor`.
 */
export function encodeCborParts(value: unknown, minBytes: number): Uint8Array[] {
  if (minBytes < 0x10000) throw new RangeError("encodeCborParts: minBytes must be at least 64 KiB");
  const large: Uint8Array[] = [];
  const stand = substitute(value, minBytes, large);
  if (large.length === 0) return [encoder.encode(value)];
  const out = encoder.encode(stand);
  const parts: Uint8Array[] = [];
  let from = 0;
  for (let i = 0; i < large.length; i++) {
    const marker = markerFor(i);
    const at = out.indexOf(marker, from);
    if (at < from + 2 || out[at - 2] !== 0x58 || out[at - 1] !== MARKER_BYTES || out.indexOf(marker, at + 1) !== -1) return [encoder.encode(value)];
    const bytes = large[i]!;
    if (bytes.length > 0xffffffff) return [encoder.encode(value)];
    const head = Buffer.allocUnsafe(5);
    head[0] = 0x5a; // byte string, 4-byte length: what cbor-x writes for 65536 bytes and more
    head.writeUInt32BE(bytes.length, 1);
    parts.push(out.subarray(from, at - 2), head, bytes);
    from = at + MARKER_BYTES;
  }
  parts.push(out.subarray(from));
  return parts;
}

const MARKER_BYTES = 32;
const MARKER_SALT = randomBytes(MARKER_BYTES - 4);
const markers: Buffer[] = [];

function markerFor(index: number): Buffer {
  let marker = markers[index];
  if (marker === undefined) {
    marker = Buffer.concat([MARKER_SALT, Buffer.alloc(4)]);
    marker.writeUInt32BE(index, MARKER_BYTES - 4);
    markers[index] = marker;
  }
  return marker;
}

// Returns `value` with each large byte string replaced by the next marker (copying only the
// plain objects and arrays on the way to one), and collects the originals in encoding order.
function substitute(value: unknown, minBytes: number, large: Uint8Array[]): unknown {
  if (typeof value !== "object" || value === null) return value;
  const constructor: unknown = value.constructor;
  if (value instanceof Uint8Array) {
    // cbor-x dispatches on these constructors before it looks at Uint8Array.
    if (value.length < minBytes || constructor === Object || constructor === Array || constructor === Map) return value;
    const marker = markerFor(large.length);
    large.push(value);
    return marker;
  }
  if (constructor === Array) {
    const array = value as unknown[];
    let copy: unknown[] | null = null;
    for (let i = 0; i < array.length; i++) {
      const item = array[i];
      const stand = substitute(item, minBytes, large);
      if (stand !== item) (copy ??= array.slice())[i] = stand;
    }
    return copy ?? value;
  }
  if (constructor !== Object) return value;
  const object = value as Record<string, unknown>;
  let copy: Record<string, unknown> | null = null;
  // for…in with an own-property test is how cbor-x walks a plain object, so the order matches.
  for (const key in object) {
    if (!Object.hasOwn(object, key)) continue;
    const item = object[key];
    const stand = substitute(item, minBytes, large);
    if (stand !== item) Object.defineProperty((copy ??= { ...object }), key, { value: stand, writable: true, enumerable: true, configurable: true });
  }
  return copy ?? value;
}

/**
 * Throws MESSAGE_INVALID, naming the path, unless `value` encodes (with `encodeCbor`) to what
 * `checkWellFormed` accepts: the check a sender makes so that a value its peer would refuse is
 * refused here, for one request, instead of closing the peer's connection (issue 13: a module
 * result with an own "__proto__" key). `depth` is the nesting of `value` in the message.
 * Mirrors the walk below rule for rule; test/loader/protocol/cbor.test.ts checks the two agree.
 */
// With the u flag a class of surrogates matches only unpaired ones (String#isWellFormed is ES2024).
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

export function checkEncodable(value: unknown, path: string, depth = 0): void {
  if (value === null || value === undefined) return;
  switch (typeof value) {
    case "boolean":
    case "number":
    case "string":
      return;
    case "object":
      break;
    default:
      throw new FixpointError("MESSAGE_INVALID", `${path}: a ${typeof value} cannot be sent`);
  }
  if (value instanceof Uint8Array) return;
  if (depth >= MAX_CBOR_DEPTH) throw new FixpointError("MESSAGE_INVALID", `${path}: nested deeper than ${MAX_CBOR_DEPTH}`);
  if (Array.isArray(value)) {
    if (value.length > MAX_CBOR_ITEMS) throw new FixpointError("MESSAGE_INVALID", `${path}: an array of ${value.length} items exceeds ${MAX_CBOR_ITEMS}`);
    // By index, not forEach: a hole is sent as `undefined`, which no array in a message may hold.
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === undefined) throw new FixpointError("MESSAGE_INVALID", `${path}[${i}]: an empty slot or undefined cannot be sent in an array`);
      checkEncodable(item, `${path}[${i}]`, depth + 1);
    }
    return;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) throw new FixpointError("MESSAGE_INVALID", `${path}: only plain objects, arrays and bytes can be sent`);
  const keys = Object.keys(value);
  if (keys.length > MAX_CBOR_ITEMS) throw new FixpointError("MESSAGE_INVALID", `${path}: a map of ${keys.length} keys exceeds ${MAX_CBOR_ITEMS}`);
  for (const key of keys) {
    if (key === "__proto__") throw new FixpointError("MESSAGE_INVALID", `${path}: the key "__proto__" cannot be sent`);
    if (LONE_SURROGATE.test(key)) throw new FixpointError("MESSAGE_INVALID", `${path}: a key with a lone surrogate cannot be sent`);
    checkEncodable((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1);
  }
}

/**
 * Decodes a CBOR sequence (RFC 8742): one or more values back to back that fill `bytes`
 * exactly, at most `maxItems` of them (a record of protocol version 2 carries several messages;
 * version 1 allows one). Each value is checked by the same walk as `decodeCbor` before cbor-x
 * builds any of them. Throws MESSAGE_INVALID.
 */
export function decodeCborSequence(bytes: Uint8Array, maxItems: number): unknown[] {
  const ends: number[] = [];
  src = bytes;
  pos = 0;
  keyTop = 0;
  try {
    do {
      if (ends.length >= maxItems) throw invalid(`${bytes.length - pos} trailing bytes`);
      item(0);
      ends.push(pos);
    } while (pos < bytes.length);
  } finally {
    src = EMPTY;
  }
  const values: unknown[] = [];
  let start = 0;
  for (const end of ends) {
    try {
      values.push(decoder.decode(ends.length === 1 ? bytes : bytes.subarray(start, end)));
    } catch (err) {
      throw invalid(`CBOR decoder: ${(err as Error).message}`);
    }
    start = end;
  }
  return values;
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

const PROTO_KEY = Buffer.from("__proto__");
const EMPTY = new Uint8Array(0);

// The walk's state lives at module level rather than in closures made per call: a small
// message is checked on every frame, and allocating three closures for it cost more than the
// walk itself (profiled: bench/channel.ts). checkWellFormed is synchronous and not reentrant.
let src: Uint8Array = EMPTY;
let pos = 0;
// Keys of the maps being walked, as [start, end) ranges of `src`: a small map compares its keys
// with each other in place instead of building a Set of strings.
const keyStarts: number[] = [];
const keyEnds: number[] = [];
let keyTop = 0;
// Up to this many entries a map finds duplicates by comparing bytes pairwise; above it, a Set.
const PAIRWISE_KEYS = 16;

/** Throws MESSAGE_INVALID unless `bytes` is exactly one value of the accepted subset. */
export function checkWellFormed(bytes: Uint8Array): void {
  src = bytes;
  pos = 0;
  keyTop = 0;
  try {
    item(0);
    if (pos !== bytes.length) throw invalid(`${bytes.length - pos} trailing bytes`);
  } finally {
    src = EMPTY; // do not keep a large message alive
  }
}

// Reads a head's argument; returns it as a number (lengths are bounded by the buffer anyway).
function argument(info: number): number {
  if (info < 24) return info;
  const width = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
  if (width === 0) throw invalid(info === 31 ? "indefinite lengths are not accepted" : `reserved additional info ${info}`);
  if (pos + width > src.length) throw invalid("truncated");
  const b = src;
  const p = pos;
  let value: number;
  if (width === 1) value = b[p]!;
  else if (width === 2) value = (b[p]! << 8) | b[p + 1]!;
  else if (width === 4) value = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  else {
    const high = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
    // high > 0x1fffff is exactly "the 64-bit value exceeds 2^53 - 1".
    if (high > 0x1fffff) throw invalid("integer or length beyond 2^53");
    value = high * 0x100000000 + b[p + 4]! * 0x1000000 + ((b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!);
  }
  pos = p + width;
  return value;
}

// A map key's content, compared as content and not as its encoding: a non-canonical length
// head (0x78 0x01 "a" next to 0x61 "a") used to slip a duplicate or "__proto__" past the check,
// and cbor-x then silently kept the last value. Keys must be valid UTF-8 so that distinct bytes
// stay distinct strings once decoded (cbor-x turns every invalid sequence into U+FFFD).
// Returns the start of the key's content; it ends at `pos`.
function textKey(): number {
  if (pos >= src.length || src[pos]! >> 5 !== 3) throw invalid("map keys must be text strings");
  const length = argument(src[pos++]! & 0x1f);
  if (length > src.length - pos) throw invalid("string longer than the message");
  const start = pos;
  pos += length;
  if (!isAscii(start, pos) && !isUtf8(src.subarray(start, pos))) throw invalid("map keys must be valid UTF-8");
  return start;
}

function isAscii(start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (src[i]! > 0x7f) return false;
  return true;
}

function isProtoKey(start: number, end: number): boolean {
  if (end - start !== PROTO_KEY.length) return false;
  for (let i = 0; i < PROTO_KEY.length; i++) if (src[start + i] !== PROTO_KEY[i]) return false;
  return true;
}

function sameBytes(aStart: number, aEnd: number, bStart: number, bEnd: number): boolean {
  if (aEnd - aStart !== bEnd - bStart) return false;
  for (let i = 0; i < aEnd - aStart; i++) if (src[aStart + i] !== src[bStart + i]) return false;
  return true;
}

function item(depth: number): void {
  if (pos >= src.length) throw invalid("truncated");
  const initial = src[pos++]!;
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
      if (length > src.length - pos) throw invalid("string longer than the message");
      pos += length;
      return;
    }
    case 4:
    case 5: {
      if (depth >= MAX_CBOR_DEPTH) throw invalid(`nested deeper than ${MAX_CBOR_DEPTH}`);
      const count = argument(info);
      if (count > MAX_CBOR_ITEMS) throw invalid(`container of ${count} items exceeds ${MAX_CBOR_ITEMS}`);
      if (count > src.length - pos) throw invalid("container longer than the message");
      if (major === 4) {
        for (let i = 0; i < count; i++) item(depth + 1);
        return;
      }
      map(count, depth);
      return;
    }
    case 6:
      throw invalid("tags are not accepted");
    default: {
      // major 7: false, true, null, undefined, float16/32/64.
      if (info >= 20 && info <= 23) return;
      const width = info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
      if (width === 0) throw invalid(`simple value ${info} is not accepted`);
      if (pos + width > src.length) throw invalid("truncated");
      pos += width;
      return;
    }
  }
}

function map(count: number, depth: number): void {
  if (count > PAIRWISE_KEYS) {
    const keys = new Set<string>();
    for (let i = 0; i < count; i++) {
      const start = textKey();
      if (isProtoKey(start, pos)) throw invalid('the key "__proto__" is not accepted');
      const id = Buffer.from(src.buffer, src.byteOffset + start, pos - start).toString("latin1");
      if (keys.has(id)) throw invalid("duplicate map key");
      keys.add(id);
      item(depth + 1);
    }
    return;
  }
  // This map's keys occupy [base, keyTop) of the range stack; a map nested in a value pushes
  // above them and has popped back by the time the next key is read.
  const base = keyTop;
  for (let i = 0; i < count; i++) {
    const start = textKey();
    const end = pos;
    if (isProtoKey(start, end)) throw invalid('the key "__proto__" is not accepted');
    for (let k = base; k < keyTop; k++) {
      if (sameBytes(keyStarts[k]!, keyEnds[k]!, start, end)) throw invalid("duplicate map key");
    }
    keyStarts[keyTop] = start;
    keyEnds[keyTop] = end;
    keyTop++;
    item(depth + 1);
  }
  keyTop = base;
}
