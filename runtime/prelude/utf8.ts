/**
 * UTF-8 as the WHATWG Encoding Standard defines it, shared by TextEncoder/TextDecoder, URL
 * percent-encoding and request/response bodies.
 *
 * The decoder is the standard's state machine (bytes needed, bytes seen, lower and upper
 * boundary), kept across calls so TextDecoder can stream. Following it exactly gives the same
 * number of U+FFFD for a broken sequence as browsers and Node ("maximal subpart" replacement:
 * F0 80 80 is three errors, F0 9F 98 is one).
 *
 * Runs inside a bare V8 isolate: no imports, only ECMAScript built-ins.
 */

/** Encodes a string as UTF-8; lone surrogates become U+FFFD (EF BF BD), as for a USVString. */
export function utf8Encode(input: string): Uint8Array {
  const bytes = new Uint8Array(input.length * 3);
  let written = 0;
  for (let i = 0; i < input.length; i++) {
    let point = input.charCodeAt(i);
    if (point < 0x80) {
      bytes[written++] = point;
      continue;
    }
    if (point >= 0xd800 && point <= 0xdfff) {
      const next = i + 1 < input.length ? input.charCodeAt(i + 1) : 0;
      if (point <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        point = 0x10000 + ((point - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else {
        point = 0xfffd;
      }
    }
    written = writeCodePoint(bytes, written, point);
  }
  return bytes.slice(0, written);
}

/**
 * Encodes as much of `source` as fits into `destination` without splitting a character.
 * `read` counts UTF-16 code units, as TextEncoder.encodeInto reports it.
 */
export function utf8EncodeInto(source: string, destination: Uint8Array): { read: number; written: number } {
  let read = 0;
  let written = 0;
  const capacity = destination.length;
  while (read < source.length) {
    let point = source.charCodeAt(read);
    let units = 1;
    if (point >= 0xd800 && point <= 0xdfff) {
      const next = read + 1 < source.length ? source.charCodeAt(read + 1) : 0;
      if (point <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        point = 0x10000 + ((point - 0xd800) << 10) + (next - 0xdc00);
        units = 2;
      } else {
        point = 0xfffd;
      }
    }
    const size = point < 0x80 ? 1 : point < 0x800 ? 2 : point < 0x10000 ? 3 : 4;
    if (written + size > capacity) break;
    written = writeCodePoint(destination, written, point);
    read += units;
  }
  return { read, written };
}

function writeCodePoint(bytes: Uint8Array, at: number, point: number): number {
  if (point < 0x80) {
    bytes[at++] = point;
  } else if (point < 0x800) {
    bytes[at++] = 0xc0 | (point >> 6);
    bytes[at++] = 0x80 | (point & 0x3f);
  } else if (point < 0x10000) {
    bytes[at++] = 0xe0 | (point >> 12);
    bytes[at++] = 0x80 | ((point >> 6) & 0x3f);
    bytes[at++] = 0x80 | (point & 0x3f);
  } else {
    bytes[at++] = 0xf0 | (point >> 18);
    bytes[at++] = 0x80 | ((point >> 12) & 0x3f);
    bytes[at++] = 0x80 | ((point >> 6) & 0x3f);
    bytes[at++] = 0x80 | (point & 0x3f);
  }
  return at;
}

/** Thrown in fatal mode; the message is Node's, so logs read the same in both places. */
export function invalidUtf8(): TypeError {
  return new TypeError("The encoded data was not valid for encoding utf-8");
}

// String.fromCharCode.apply has an argument-count limit; flush code units in chunks below it.
const CHUNK = 8192;

/** The UTF-8 decoder state machine; one instance per stream. */
export class Utf8Decoder {
  #needed = 0;
  #seen = 0;
  #point = 0;
  #lower = 0x80;
  #upper = 0xbf;

  /**
   * Decodes `bytes`, continuing any sequence left open by the previous call. With `flush`,
   * an unfinished sequence at the end is an error (U+FFFD, or a TypeError when `fatal`);
   * without it, the sequence waits for the next call.
   */
  decode(bytes: Uint8Array, flush: boolean, fatal: boolean): string {
    let text = "";
    const units: number[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i]!;
      let point = -1;
      if (this.#needed === 0) {
        if (byte < 0x80) point = byte;
        else if (byte >= 0xc2 && byte <= 0xdf) this.#start(1, byte & 0x1f);
        else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) this.#lower = 0xa0;
          if (byte === 0xed) this.#upper = 0x9f;
          this.#start(2, byte & 0x0f);
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) this.#lower = 0x90;
          if (byte === 0xf4) this.#upper = 0x8f;
          this.#start(3, byte & 0x07);
        } else {
          point = this.#error(fatal);
        }
      } else if (byte < this.#lower || byte > this.#upper) {
        // The byte ends the broken sequence and is read again as the start of the next one.
        this.reset();
        point = this.#error(fatal);
        i--;
      } else {
        this.#lower = 0x80;
        this.#upper = 0xbf;
        this.#point = (this.#point << 6) | (byte & 0x3f);
        if (++this.#seen === this.#needed) {
          point = this.#point;
          this.reset();
        }
      }
      if (point < 0) continue;
      if (point < 0x10000) units.push(point);
      else units.push(0xd800 + ((point - 0x10000) >> 10), 0xdc00 + ((point - 0x10000) & 0x3ff));
      if (units.length >= CHUNK) {
        text += String.fromCharCode.apply(null, units);
        units.length = 0;
      }
    }
    if (flush && this.#needed !== 0) {
      this.reset();
      units.push(this.#error(fatal));
    }
    return text + String.fromCharCode.apply(null, units);
  }

  /** Forgets any unfinished sequence. */
  reset(): void {
    this.#needed = 0;
    this.#seen = 0;
    this.#point = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
  }

  #start(needed: number, bits: number): void {
    this.#needed = needed;
    this.#point = bits;
  }

  #error(fatal: boolean): number {
    if (fatal) {
      this.reset();
      throw invalidUtf8();
    }
    return 0xfffd;
  }
}

/** UTF-8 decode without BOM (URL components, form bodies): errors become U+FFFD. */
export function utf8DecodeWithoutBOM(bytes: Uint8Array): string {
  return new Utf8Decoder().decode(bytes, true, false);
}

/** UTF-8 decode (Body.text()): a leading BOM is dropped, errors become U+FFFD. */
export function utf8Decode(bytes: Uint8Array): string {
  const text = utf8DecodeWithoutBOM(bytes);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
