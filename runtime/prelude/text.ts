/**
 * TextEncoder, TextDecoder (UTF-8 only, as the Encoding Standard requires of every
 * implementation; other labels throw a RangeError), and atob/btoa.
 *
 * Runs inside a bare V8 isolate: no imports, only ECMAScript built-ins.
 */
import { DOMException } from "./dom-exception.js";
import { Utf8Decoder, utf8Encode, utf8EncodeInto } from "./utf8.js";
import { requireArguments, toDictionary, toUSVString } from "./webidl.js";

// The Encoding Standard's labels for UTF-8.
const UTF8_LABELS = new Set(["unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8"]);

/** @example new TextEncoder().encode("€") // Uint8Array [0xE2, 0x82, 0xAC] */
export class TextEncoder {
  get encoding(): string {
    return "utf-8";
  }

  encode(input: unknown = ""): Uint8Array {
    return utf8Encode(toUSVString(input));
  }

  /** Writes whole characters only; `read` is in UTF-16 code units. */
  encodeInto(source: unknown, destination: Uint8Array): { read: number; written: number } {
    requireArguments(arguments.length, 2, "TextEncoder.encodeInto");
    if (!(destination instanceof Uint8Array)) throw new TypeError("TextEncoder.encodeInto: the destination must be a Uint8Array");
    return utf8EncodeInto(toUSVString(source), destination);
  }
}

export interface TextDecoderOptions {
  fatal?: boolean;
  ignoreBOM?: boolean;
}

/**
 * @example new TextDecoder().decode(new Uint8Array([0xF0, 0x9F, 0x98, 0x80])) // "😀"
 * @example new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xFF])) // throws TypeError
 */
export class TextDecoder {
  #fatal: boolean;
  #ignoreBOM: boolean;
  #decoder = new Utf8Decoder();
  #bomSeen = false;
  #streaming = false;

  constructor(label: unknown = "utf-8", options: TextDecoderOptions = {}) {
    const name = String(label).replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, "").toLowerCase();
    if (!UTF8_LABELS.has(name)) throw new RangeError(`The "${String(label)}" encoding is not supported (only utf-8 is)`);
    const dictionary = toDictionary(options, "TextDecoder");
    this.#fatal = Boolean(dictionary["fatal"]);
    this.#ignoreBOM = Boolean(dictionary["ignoreBOM"]);
  }

  get encoding(): string {
    return "utf-8";
  }

  get fatal(): boolean {
    return this.#fatal;
  }

  get ignoreBOM(): boolean {
    return this.#ignoreBOM;
  }

  /**
   * Decodes an ArrayBuffer or any view of one. With `{ stream: true }` a character split
   * across calls is held back until the next call; the last call omits `stream`.
   */
  decode(input: unknown = undefined, options: { stream?: boolean } = {}): string {
    const bytes = toBytes(input);
    const stream = Boolean(toDictionary(options, "TextDecoder.decode")["stream"]);
    if (!this.#streaming) {
      this.#decoder.reset();
      this.#bomSeen = false;
    }
    this.#streaming = stream;
    let text: string;
    try {
      text = this.#decoder.decode(bytes, !stream, this.#fatal);
    } catch (error) {
      this.#streaming = false;
      throw error;
    }
    if (!this.#ignoreBOM && !this.#bomSeen && text.length > 0) {
      this.#bomSeen = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    return text;
  }
}

function toBytes(input: unknown): Uint8Array {
  if (input === undefined) return new Uint8Array(0);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (input instanceof ArrayBuffer || (typeof SharedArrayBuffer === "function" && input instanceof SharedArrayBuffer)) {
    return new Uint8Array(input);
  }
  throw new TypeError("TextDecoder.decode: the input must be an ArrayBuffer or an ArrayBufferView");
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const ALPHABET_CODES = Array.from(ALPHABET, (char) => char.charCodeAt(0));
const VALUES = new Map(ALPHABET_CODES.map((code, index) => [code, index]));
const PAD = 0x3d;
// String.fromCharCode.apply has an argument-count limit; flush code units in chunks below it.
const CHUNK = 8192;

/**
 * Base64 of a "binary string" (one byte per code unit). Characters above U+00FF throw
 * InvalidCharacterError: encode text with TextEncoder first.
 *
 * @example btoa("hi") // "aGk="
 */
export function btoa(data: unknown): string {
  requireArguments(arguments.length, 1, "btoa");
  const text = String(data);
  const units: number[] = [];
  let out = "";
  for (let i = 0; i < text.length; i += 3) {
    const a = byteAt(text, i);
    const b = i + 1 < text.length ? byteAt(text, i + 1) : -1;
    const c = i + 2 < text.length ? byteAt(text, i + 2) : -1;
    units.push(ALPHABET_CODES[a >> 2]!, ALPHABET_CODES[((a & 3) << 4) | (b < 0 ? 0 : b >> 4)]!);
    units.push(b < 0 ? PAD : ALPHABET_CODES[((b & 15) << 2) | (c < 0 ? 0 : c >> 6)]!);
    units.push(c < 0 ? PAD : ALPHABET_CODES[c & 63]!);
    if (units.length >= CHUNK) {
      out += String.fromCharCode.apply(null, units);
      units.length = 0;
    }
  }
  return out + String.fromCharCode.apply(null, units);
}

function byteAt(text: string, index: number): number {
  const unit = text.charCodeAt(index);
  if (unit > 0xff) throw new DOMException("Invalid character", "InvalidCharacterError");
  return unit;
}

/**
 * Decodes base64 to a binary string with HTML's "forgiving-base64 decode": ASCII whitespace
 * is ignored, padding is optional, anything else invalid throws InvalidCharacterError.
 *
 * @example atob(" aG k= ") // "hi"
 */
export function atob(data: unknown): string {
  requireArguments(arguments.length, 1, "atob");
  let text = String(data).replace(/[\t\n\f\r ]/g, "");
  if (text.length % 4 === 0) text = text.replace(/==?$/, "");
  if (text.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(text)) {
    throw new DOMException("The string to be decoded is not correctly encoded.", "InvalidCharacterError");
  }
  const units: number[] = [];
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    buffer = ((buffer << 6) | VALUES.get(text.charCodeAt(i))!) & 0xffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      units.push((buffer >> bits) & 0xff);
      if (units.length === CHUNK) {
        out += String.fromCharCode.apply(null, units);
        units.length = 0;
      }
    }
  }
  return out + String.fromCharCode.apply(null, units);
}
