/**
 * Punycode (RFC 3492), the encoding of internationalized domain labels ("münchen" →
 * "mnchen-3ya"), used by the URL host parser.
 *
 * Runs inside a bare V8 isolate: no imports, only ECMAScript built-ins.
 */

const BASE = 36;
const T_MIN = 1;
const T_MAX = 26;
const SKEW = 38;
const DAMP = 700;
const INITIAL_BIAS = 72;
const INITIAL_N = 0x80;
const MAX_INT = 0x7fffffff;

function adapt(delta: number, points: number, first: boolean): number {
  let d = first ? Math.floor(delta / DAMP) : delta >> 1;
  d += Math.floor(d / points);
  let k = 0;
  while (d > ((BASE - T_MIN) * T_MAX) >> 1) {
    d = Math.floor(d / (BASE - T_MIN));
    k += BASE;
  }
  return k + Math.floor(((BASE - T_MIN + 1) * d) / (d + SKEW));
}

function threshold(k: number, bias: number): number {
  return k <= bias ? T_MIN : k >= bias + T_MAX ? T_MAX : k - bias;
}

// 0..25 → "a".."z", 26..35 → "0".."9".
function digitChar(digit: number): string {
  return String.fromCharCode(digit < 26 ? 0x61 + digit : 0x16 + digit);
}

function digitValue(unit: number): number {
  if (unit >= 0x30 && unit <= 0x39) return unit - 0x16;
  if (unit >= 0x41 && unit <= 0x5a) return unit - 0x41;
  if (unit >= 0x61 && unit <= 0x7a) return unit - 0x61;
  return BASE;
}

/** Encodes one label (without the "xn--" prefix). */
export function punycodeEncode(label: string): string {
  const points = Array.from(label, (char) => char.codePointAt(0)!);
  let output = points.filter((point) => point < 0x80).map((point) => String.fromCharCode(point)).join("");
  const basic = output.length;
  let handled = basic;
  if (basic > 0) output += "-";
  let n = INITIAL_N;
  let delta = 0;
  let bias = INITIAL_BIAS;
  while (handled < points.length) {
    let next = MAX_INT;
    for (const point of points) if (point >= n && point < next) next = point;
    delta += (next - n) * (handled + 1);
    n = next;
    for (const point of points) {
      if (point < n) delta++;
      if (point !== n) continue;
      let q = delta;
      for (let k = BASE; ; k += BASE) {
        const t = threshold(k, bias);
        if (q < t) break;
        output += digitChar(t + ((q - t) % (BASE - t)));
        q = Math.floor((q - t) / (BASE - t));
      }
      output += digitChar(q);
      bias = adapt(delta, handled + 1, handled === basic);
      delta = 0;
      handled++;
    }
    delta++;
    n++;
  }
  return output;
}

/** Decodes one label (without the "xn--" prefix); null if it is not valid punycode. */
export function punycodeDecode(label: string): string | null {
  const output: number[] = [];
  const dash = label.lastIndexOf("-");
  for (let j = 0; j < Math.max(dash, 0); j++) {
    const unit = label.charCodeAt(j);
    if (unit >= 0x80) return null;
    output.push(unit);
  }
  let n = INITIAL_N;
  let bias = INITIAL_BIAS;
  let i = 0;
  for (let at = dash > 0 ? dash + 1 : 0; at < label.length; ) {
    const before = i;
    let weight = 1;
    for (let k = BASE; ; k += BASE) {
      if (at >= label.length) return null;
      const digit = digitValue(label.charCodeAt(at++));
      if (digit >= BASE || digit > Math.floor((MAX_INT - i) / weight)) return null;
      i += digit * weight;
      const t = threshold(k, bias);
      if (digit < t) break;
      if (weight > Math.floor(MAX_INT / (BASE - t))) return null;
      weight *= BASE - t;
    }
    const length = output.length + 1;
    bias = adapt(i - before, length, before === 0);
    n += Math.floor(i / length);
    i %= length;
    if (n > 0x10ffff) return null;
    output.splice(i++, 0, n);
  }
  return String.fromCodePoint(...output);
}
