/**
 * Whether a module's state survives a JSON round trip exactly as it survives a structured clone,
 * so that it can leave and enter isolates as JSON text: V8's JSON.stringify and JSON.parse run
 * inside the isolate and a flat string crosses the boundary, about five times faster than the
 * structured clones a copy takes each way (bench/RESULTS.md, "State as JSON"). A state that is
 * not plain data takes the structured copy as before, so nothing a module may keep in its state
 * changes meaning: Maps, Sets, Dates, typed arrays, shared references and cycles still survive.
 *
 * Plain data: null, booleans, finite numbers other than -0, strings, arrays without holes or
 * named properties, and objects whose prototype is Object.prototype or null with only own
 * enumerable string keys and no undefined values. Everything else JSON would change (NaN becomes
 * null, undefined and functions vanish, a shared object is written twice, a Map becomes {}).
 *
 * Runs inside the isolate (bundled into the harness) and in the tests as it is.
 */

/** The answer for a state JSON can carry: the count of characters it holds (a lower bound of its text). */
export type PlainCheck = { plain: true; chars: number } | { plain: false; chars: number; why: string };

const OBJECT_PROTO = Object.prototype;
const ARRAY_PROTO = Array.prototype;
const { getPrototypeOf, keys, getOwnPropertySymbols } = Object;
const { isArray } = Array;

/**
 * Walks `root` without recursion (a deep state cannot overflow the stack here). Stops at the
 * first value JSON would change, once the text would pass `maxChars` (then `plain: false`
 * with `chars` past it, and nothing was built: a string made with `repeat` stays small until
 * something flattens it, and the walk reads only its length), or at `deadline` (Date.now()):
 * a state so large that proving it plain takes long leaves by the structured copy, which runs
 * outside the module's CPU limit, as it always did.
 */
export function checkPlain(root: unknown, maxChars: number, deadline = Infinity): PlainCheck {
  // Identity, for shared references and cycles: JSON would duplicate the one and throw on the other.
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  // Each value costs at least one character of text: a lower bound that needs no stringify.
  let chars = 0;
  let steps = 0;
  while (stack.length > 0) {
    const value = stack.pop();
    chars += 1;
    if ((++steps & 4095) === 0 && Date.now() > deadline) return { plain: false, chars, why: "too long to check" };
    switch (typeof value) {
      case "string":
        chars += value.length;
        if (chars > maxChars) return { plain: false, chars, why: "too large" };
        continue;
      case "boolean":
        continue;
      case "number":
        // NaN and ±Infinity become null; -0 becomes 0.
        if (value - value !== 0 || (value === 0 && 1 / value < 0)) return { plain: false, chars, why: "a number JSON cannot hold" };
        continue;
      case "object":
        break;
      default:
        return { plain: false, chars, why: `a value of type ${typeof value}` };
    }
    if (value === null) continue;
    const size = seen.size;
    seen.add(value);
    if (seen.size === size) return { plain: false, chars, why: "a shared reference" };
    if (chars > maxChars) return { plain: false, chars, why: "too large" };
    if (isArray(value)) {
      if (getPrototypeOf(value) !== ARRAY_PROTO) return { plain: false, chars, why: "an array of a subclass" };
      const length = value.length;
      for (let i = 0; i < length; i++) {
        // A hole reads as undefined too: both become null in JSON.
        const item: unknown = value[i];
        if (item === undefined) return { plain: false, chars, why: "undefined, or a hole, in an array" };
        stack.push(item);
      }
      // Named properties of an array: a structured clone keeps them, JSON does not.
      if (keys(value).length !== length) return { plain: false, chars, why: "an array with named properties" };
      continue;
    }
    const proto: unknown = getPrototypeOf(value);
    if (proto !== OBJECT_PROTO && proto !== null) return { plain: false, chars, why: "an object that is not a plain object" };
    const names = keys(value);
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const item: unknown = (value as Record<string, unknown>)[name];
      if (item === undefined) return { plain: false, chars, why: "a property whose value is undefined" };
      chars += name.length + 3;
      stack.push(item);
    }
    if (getOwnPropertySymbols(value).length > 0) return { plain: false, chars, why: "a symbol-keyed property" };
  }
  return { plain: true, chars };
}
