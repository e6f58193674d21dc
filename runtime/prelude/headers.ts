/**
 * Headers, as the Fetch Standard defines it (https://fetch.spec.whatwg.org/#headers-class):
 * names are case-insensitive and kept lower-case, several values of one name read back
 * joined by ", ", except Set-Cookie, whose values stay separate (getSetCookie(), and one
 * entry each when iterating). Iteration is sorted by name.
 *
 * Forbidden request/response header names are not enforced: Node does not enforce them
 * either, and a server-side handler legitimately sets Set-Cookie.
 *
 * Runs inside a bare V8 isolate: no imports, only ECMAScript built-ins.
 */
import { hasIterator, isObject, listIterator, requireArguments, toByteString, toPairs, toRecordPairs } from "./webidl.js";

/** "immutable" for the headers of Response.error() and Response.redirect(). */
export type HeadersGuard = "none" | "request" | "response" | "immutable";

type Entry = [name: string, value: string];

// RFC 9110 token; and what "normalize" strips from a value's ends.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HTTP_WHITESPACE_ENDS = /^[\t\n\r ]+|[\t\n\r ]+$/g;
const INVALID_VALUE = /[\0\n\r]/;

let setGuard: (headers: Headers, guard: HeadersGuard) => void;
let getGuard: (headers: Headers) => HeadersGuard;

/**
 * @example new Headers([["Accept", "a"], ["accept", "b"]]).get("ACCEPT") // "a, b"
 */
export class Headers {
  #list: Entry[] = [];
  #guard: HeadersGuard = "none";
  // The sorted view iteration reads; dropped on every change.
  #sorted: Entry[] | null = null;

  static {
    setGuard = (headers, guard) => {
      headers.#guard = guard;
    };
    getGuard = (headers) => headers.#guard;
  }

  /** From another Headers, an iterable of [name, value] pairs, or a record. */
  constructor(init: unknown = undefined) {
    if (init === undefined) return;
    if (!isObject(init)) throw new TypeError("Headers: init must be an object, an iterable of pairs or a Headers");
    const convert = (value: unknown): string => toByteString(value, "Headers");
    const pairs = hasIterator(init) ? toPairs(init, convert, "Headers") : toRecordPairs(init, convert);
    for (const [name, value] of pairs) this.append(name, value);
  }

  append(name: unknown, value: unknown): void {
    requireArguments(arguments.length, 2, "Headers.append");
    const [key, text] = this.#validate(name, value, "append");
    this.#list.push([key, text]);
    this.#sorted = null;
  }

  delete(name: unknown): void {
    requireArguments(arguments.length, 1, "Headers.delete");
    const key = this.#validateName(name, "delete");
    this.#checkMutable("delete");
    this.#list = this.#list.filter(([n]) => n !== key);
    this.#sorted = null;
  }

  /** All values of `name` joined by ", ", or null. */
  get(name: unknown): string | null {
    requireArguments(arguments.length, 1, "Headers.get");
    const key = this.#validateName(name, "get");
    const values = this.#list.filter(([n]) => n === key).map(([, v]) => v);
    return values.length === 0 ? null : values.join(", ");
  }

  /** Each Set-Cookie value on its own: cookies' Expires attribute contains ", ". */
  getSetCookie(): string[] {
    return this.#list.filter(([n]) => n === "set-cookie").map(([, v]) => v);
  }

  has(name: unknown): boolean {
    requireArguments(arguments.length, 1, "Headers.has");
    const key = this.#validateName(name, "has");
    return this.#list.some(([n]) => n === key);
  }

  /** Replaces every value of `name` with `value`. */
  set(name: unknown, value: unknown): void {
    requireArguments(arguments.length, 2, "Headers.set");
    const [key, text] = this.#validate(name, value, "set");
    const first = this.#list.findIndex(([n]) => n === key);
    if (first < 0) {
      this.#list.push([key, text]);
    } else {
      this.#list[first] = [key, text];
      this.#list = this.#list.filter(([n], index) => n !== key || index === first);
    }
    this.#sorted = null;
  }

  forEach(callback: (value: string, name: string, headers: Headers) => void, thisArg: unknown = undefined): void {
    requireArguments(arguments.length, 1, "Headers.forEach");
    if (typeof callback !== "function") throw new TypeError("Headers.forEach: the callback must be a function");
    for (let i = 0; i < this.#entries().length; i++) {
      const [name, value] = this.#entries()[i]!;
      callback.call(thisArg, value, name, this);
    }
  }

  entries(): IterableIterator<[string, string]> {
    return listIterator("Headers Iterator", () => this.#entries(), ([n, v]): [string, string] => [n, v]);
  }

  keys(): IterableIterator<string> {
    return listIterator("Headers Iterator", () => this.#entries(), ([n]) => n);
  }

  values(): IterableIterator<string> {
    return listIterator("Headers Iterator", () => this.#entries(), ([, v]) => v);
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  // The standard's "sort and combine".
  #entries(): Entry[] {
    if (this.#sorted !== null) return this.#sorted;
    const names = [...new Set(this.#list.map(([n]) => n))].sort();
    const sorted: Entry[] = [];
    for (const name of names) {
      if (name === "set-cookie") {
        for (const value of this.getSetCookie()) sorted.push([name, value]);
      } else {
        sorted.push([name, this.get(name)!]);
      }
    }
    this.#sorted = sorted;
    return sorted;
  }

  #validateName(name: unknown, method: string): string {
    const text = toByteString(name, `Headers.${method}`);
    if (!TOKEN.test(text)) throw new TypeError(`Headers.${method}: ${JSON.stringify(text)} is an invalid header name`);
    return text.toLowerCase();
  }

  #validate(name: unknown, value: unknown, method: string): Entry {
    const key = this.#validateName(name, method);
    const text = toByteString(value, `Headers.${method}`).replace(HTTP_WHITESPACE_ENDS, "");
    if (INVALID_VALUE.test(text)) {
      throw new TypeError(`Headers.${method}: the value of ${JSON.stringify(key)} contains NUL, CR or LF`);
    }
    this.#checkMutable(method);
    return [key, text];
  }

  #checkMutable(method: string): void {
    if (this.#guard === "immutable") throw new TypeError(`Headers.${method}: these headers are immutable`);
  }
}

/** Sets the guard of headers a Request or Response owns (for those classes only). */
export function guardHeaders(headers: Headers, guard: HeadersGuard): Headers {
  setGuard(headers, guard);
  return headers;
}

/** A copy with the same entries and guard, for clone(). */
export function copyHeaders(headers: Headers): Headers {
  const copy = new Headers();
  for (const [name, value] of headers) copy.append(name, value);
  return guardHeaders(copy, getGuard(headers));
}
