/**
 * The URL Standard's host parser: domains (lower-cased, IDNA to punycode), IPv4 in all its
 * legacy spellings ("0x7f.1" is 127.0.0.1), IPv6 (serialized in its shortest form), and the
 * opaque hosts of non-special schemes. Hosts are kept serialized: "[::1]", "127.0.0.1".
 *
 * IDNA is approximated (see domainToASCII): enough for the host names HTTP requests carry.
 *
 * Runs inside a bare V8 isolate: no imports, only ECMAScript built-ins.
 */
import { C0_CONTROL_SET, percentDecode, percentEncode } from "./percent-encoding.js";
import { punycodeDecode, punycodeEncode } from "./punycode.js";
import { utf8DecodeWithoutBOM } from "./utf8.js";

const FORBIDDEN_HOST = /[\0\t\n\r #/:<>?@[\\\]^|]/;
const FORBIDDEN_DOMAIN = /[\0-\x1f #%/:<>?@[\\\]^|\x7f]/;

/**
 * Parses a host; null means failure. `opaque` is true for non-special schemes, whose hosts
 * are only percent-encoded, never interpreted.
 */
export function parseHost(input: string, opaque: boolean): string | null {
  if (input.startsWith("[")) {
    if (!input.endsWith("]")) return null;
    const address = parseIPv6(input.slice(1, -1));
    return address === null ? null : "[" + serializeIPv6(address) + "]";
  }
  if (opaque) return FORBIDDEN_HOST.test(input) ? null : percentEncode(input, C0_CONTROL_SET);
  const domain = utf8DecodeWithoutBOM(percentDecode(input));
  const ascii = domainToASCII(domain);
  if (ascii === null || FORBIDDEN_DOMAIN.test(ascii)) return null;
  if (endsInANumber(ascii)) {
    const address = parseIPv4(ascii);
    return address === null ? null : serializeIPv4(address);
  }
  return ascii;
}

// UTS #46 maps these full stops to ".", and ignores these format characters.
const IDEOGRAPHIC_STOPS = /[\u3002\uFF0E\uFF61]/g;
const IGNORED = /[\u00AD\u034F\u180B-\u180F\u200B\u2060\uFE00-\uFE0F\uFEFF]/g;
// A stand-in for UTS #46's "disallowed": controls, unassigned and private-use code points,
// separators, and U+FFFD (what a bad percent-encoded byte decodes to).
const DISALLOWED = /[\p{Cc}\p{Cn}\p{Co}\p{Cs}\p{Zl}\p{Zp}\p{Zs}\uFFFD]/u;
// UTS #46 validity: no label starts with a combining mark; ZWJ and ZWNJ are allowed only
// after a virama (CheckJoiners), which a regular expression cannot see, so never.
const INVALID_LABEL = /^\p{M}|[\u200C\u200D]/u;

/**
 * The standard's domain parser (not strict), with UTS #46 ToASCII approximated: case-fold by
 * toLowerCase and NFKC instead of the full mapping table, punycode-encode non-ASCII labels,
 * and check that "xn--" labels decode. Bidi, joiner and hyphen rules are not checked (the
 * standard passes CheckHyphens=false).
 *
 * An ASCII domain is only lower-cased, whatever ToASCII would say of its "xn--" labels
 * (whatwg/url a8d5ca3, 2026: sites such as "xn--8i7caa.famitei.net" failed to load), as
 * Node 24 and later do; Node 20 and 22 reject "http://xn--abc/".
 */
function domainToASCII(domain: string): string | null {
  if (!/[^\0-\x7f]/.test(domain)) return nonEmpty(domain.toLowerCase());
  const mapped = domain.replace(IGNORED, "").toLowerCase().normalize("NFKC").replace(IDEOGRAPHIC_STOPS, ".");
  const labels: string[] = [];
  for (const label of mapped.split(".")) {
    if (DISALLOWED.test(label) || INVALID_LABEL.test(label)) return null;
    // An "xn--" label is already encoded, so it must be ASCII.
    if (/[^\0-\x7f]/.test(label)) {
      if (label.startsWith("xn--")) return null;
      labels.push("xn--" + punycodeEncode(label));
    } else if (validPunycodeLabel(label)) {
      labels.push(label);
    } else {
      return null;
    }
  }
  return nonEmpty(labels.join("."));
}

function validPunycodeLabel(label: string): boolean {
  if (!label.startsWith("xn--")) return true;
  const decoded = punycodeDecode(label.slice(4));
  return (
    decoded !== null &&
    decoded !== "" &&
    !DISALLOWED.test(decoded) &&
    !INVALID_LABEL.test(decoded) &&
    decoded === decoded.toLowerCase()
  );
}

function nonEmpty(domain: string): string | null {
  return domain === "" ? null : domain;
}

function endsInANumber(domain: string): boolean {
  const parts = domain.split(".");
  if (parts[parts.length - 1] === "") {
    if (parts.length === 1) return false;
    parts.pop();
  }
  const last = parts[parts.length - 1]!;
  return /^[0-9]+$/.test(last) || parseIPv4Number(last) !== null;
}

// "0x"-prefixed parts are hexadecimal, "0"-prefixed ones octal, as inet_aton reads them.
function parseIPv4Number(input: string): number | null {
  if (input === "") return null;
  let text = input;
  let radix = 10;
  if (/^0[xX]/.test(text)) {
    text = text.slice(2);
    radix = 16;
  } else if (text.length > 1 && text.startsWith("0")) {
    text = text.slice(1);
    radix = 8;
  }
  if (text === "") return 0;
  const digits = radix === 10 ? /^[0-9]+$/ : radix === 16 ? /^[0-9a-fA-F]+$/ : /^[0-7]+$/;
  return digits.test(text) ? parseInt(text, radix) : null;
}

function parseIPv4(input: string): number | null {
  const parts = input.split(".");
  if (parts[parts.length - 1] === "" && parts.length > 1) parts.pop();
  if (parts.length > 4) return null;
  const numbers: number[] = [];
  for (const part of parts) {
    const number = parseIPv4Number(part);
    if (number === null) return null;
    numbers.push(number);
  }
  const last = numbers.pop()!;
  if (numbers.some((number) => number > 255)) return null;
  if (last >= 256 ** (4 - numbers.length)) return null;
  return numbers.reduce((address, number, index) => address + number * 256 ** (3 - index), last);
}

function serializeIPv4(address: number): string {
  return [address / 2 ** 24, address / 2 ** 16, address / 2 ** 8, address].map((part) => Math.floor(part) % 256).join(".");
}

/** The standard's IPv6 parser, including an embedded IPv4 tail ("::ffff:1.2.3.4"). */
function parseIPv6(input: string): number[] | null {
  const address = [0, 0, 0, 0, 0, 0, 0, 0];
  let piece = 0;
  let compress: number | null = null;
  let pointer = 0;
  const at = (i: number): string | undefined => input[i];
  if (at(pointer) === ":") {
    if (at(pointer + 1) !== ":") return null;
    pointer += 2;
    compress = ++piece;
  }
  while (at(pointer) !== undefined) {
    if (piece === 8) return null;
    if (at(pointer) === ":") {
      if (compress !== null) return null;
      pointer++;
      compress = ++piece;
      continue;
    }
    let value = 0;
    let length = 0;
    while (length < 4 && /^[0-9a-fA-F]$/.test(at(pointer) ?? "")) {
      value = value * 16 + parseInt(at(pointer)!, 16);
      pointer++;
      length++;
    }
    if (at(pointer) === ".") {
      if (length === 0) return null;
      pointer -= length;
      if (piece > 6) return null;
      let numbersSeen = 0;
      while (at(pointer) !== undefined) {
        let part: number | null = null;
        if (numbersSeen > 0) {
          if (at(pointer) === "." && numbersSeen < 4) pointer++;
          else return null;
        }
        if (!/^[0-9]$/.test(at(pointer) ?? "")) return null;
        while (/^[0-9]$/.test(at(pointer) ?? "")) {
          const digit = Number(at(pointer));
          if (part === null) part = digit;
          else if (part === 0) return null;
          else part = part * 10 + digit;
          if (part > 255) return null;
          pointer++;
        }
        address[piece] = address[piece]! * 0x100 + part!;
        numbersSeen++;
        if (numbersSeen === 2 || numbersSeen === 4) piece++;
      }
      if (numbersSeen !== 4) return null;
      break;
    } else if (at(pointer) === ":") {
      pointer++;
      if (at(pointer) === undefined) return null;
    } else if (at(pointer) !== undefined) {
      return null;
    }
    address[piece++] = value;
  }
  if (compress !== null) {
    let swaps = piece - compress;
    piece = 7;
    while (piece !== 0 && swaps > 0) {
      const other = compress + swaps - 1;
      [address[piece], address[other]] = [address[other]!, address[piece]!];
      piece--;
      swaps--;
    }
  } else if (piece !== 8) {
    return null;
  }
  return address;
}

/** Lower-case hex, the first longest run of two or more zero pieces as "::". */
function serializeIPv6(address: number[]): string {
  let compress = -1;
  let longest = 1;
  for (let i = 0; i < 8; ) {
    let end = i;
    while (end < 8 && address[end] === 0) end++;
    if (end - i > longest) {
      longest = end - i;
      compress = i;
    }
    i = end === i ? i + 1 : end;
  }
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (i === compress) {
      out += i === 0 ? "::" : ":";
      i += longest - 1;
      continue;
    }
    out += address[i]!.toString(16) + (i === 7 ? "" : ":");
  }
  return out;
}
