/**
 * The URL Standard's percent-encode sets, percent-decoding, and the
 * application/x-www-form-urlencoded parser and serializer (URLSearchParams, form bodies).
 *
 * Runs inside a bare V8 isolate: no imports, only ECMAScript built-ins.
 */
import { utf8DecodeWithoutBOM, utf8Encode } from "./utf8.js";

/**
 * Which ASCII code points a set encodes (1 = encode). Every set also encodes all code points
 * above U+007E, so only ASCII needs a table.
 */
export type EncodeSet = Uint8Array;

function encodeSet(base: EncodeSet | null, extra: string): EncodeSet {
  const set = base === null ? new Uint8Array(128) : base.slice();
  if (base === null) {
    for (let c = 0; c < 0x20; c++) set[c] = 1;
    set[0x7f] = 1;
  }
  for (const char of extra) set[char.charCodeAt(0)] = 1;
  return set;
}

export const C0_CONTROL_SET = encodeSet(null, "");
export const FRAGMENT_SET = encodeSet(C0_CONTROL_SET, ' "<>`');
export const QUERY_SET = encodeSet(C0_CONTROL_SET, ' "#<>');
export const SPECIAL_QUERY_SET = encodeSet(QUERY_SET, "'");
// "^" since whatwg/url 9bc33c3 (March 2025), as Node 24 and later encode it; Node 20 and 22
// (Ada 2.x) predate that and leave it (test/runtime/prelude/url-standard.ts).
export const PATH_SET = encodeSet(QUERY_SET, "?^`{}");
export const USERINFO_SET = encodeSet(PATH_SET, "/:;=@[\\]^|");
export const COMPONENT_SET = encodeSet(USERINFO_SET, "$%&+,");
export const FORM_URLENCODED_SET = encodeSet(COMPONENT_SET, "!'()~");

const HEX = Array.from({ length: 256 }, (_, byte) => "%" + byte.toString(16).toUpperCase().padStart(2, "0"));

/**
 * UTF-8 percent-encodes every code point of `input` that `set` contains (lone surrogates
 * as U+FFFD). With `spaceAsPlus`, U+0020 becomes "+" (form encoding).
 */
export function percentEncode(input: string, set: EncodeSet, spaceAsPlus = false): string {
  let out = "";
  let start = 0;
  for (let i = 0; i < input.length; i++) {
    const unit = input.charCodeAt(i);
    if (unit < 0x80 && set[unit] === 0 && !(spaceAsPlus && unit === 0x20)) continue;
    out += input.slice(start, i);
    if (unit < 0x80) {
      out += spaceAsPlus && unit === 0x20 ? "+" : HEX[unit]!;
    } else {
      let point = unit;
      if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < input.length) {
        const next = input.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) {
          point = 0x10000 + ((unit - 0xd800) << 10) + (next - 0xdc00);
          i++;
        }
      }
      for (const byte of utf8Encode(String.fromCodePoint(point))) out += HEX[byte]!;
    }
    start = i + 1;
  }
  return start === 0 ? input : out + input.slice(start);
}

/** Percent-decodes the UTF-8 bytes of `input`; a "%" not followed by two hex digits stays. */
export function percentDecode(input: string): Uint8Array {
  const bytes = utf8Encode(input);
  if (!input.includes("%")) return bytes;
  const out = new Uint8Array(bytes.length);
  let written = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte === 0x25 && i + 2 < bytes.length) {
      const high = hexValue(bytes[i + 1]!);
      const low = hexValue(bytes[i + 2]!);
      if (high >= 0 && low >= 0) {
        out[written++] = (high << 4) | low;
        i += 2;
        continue;
      }
    }
    out[written++] = byte;
  }
  return out.slice(0, written);
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return -1;
}

/** application/x-www-form-urlencoded parsing: "a=1&b=x+y%21" → [["a","1"],["b","x y!"]]. */
export function parseFormUrlencoded(input: string): Array<[string, string]> {
  const list: Array<[string, string]> = [];
  for (const sequence of input.split("&")) {
    if (sequence === "") continue;
    const equals = sequence.indexOf("=");
    const name = equals < 0 ? sequence : sequence.slice(0, equals);
    const value = equals < 0 ? "" : sequence.slice(equals + 1);
    list.push([decodeFormComponent(name), decodeFormComponent(value)]);
  }
  return list;
}

function decodeFormComponent(text: string): string {
  return utf8DecodeWithoutBOM(percentDecode(text.replace(/\+/g, " ")));
}

/** application/x-www-form-urlencoded serializing: spaces as "+", the form set encoded. */
export function serializeFormUrlencoded(list: ReadonlyArray<readonly [string, string]>): string {
  return list
    .map(([name, value]) => percentEncode(name, FORM_URLENCODED_SET, true) + "=" + percentEncode(value, FORM_URLENCODED_SET, true))
    .join("&");
}
