/**
 * URLSearchParams: an ordered list of name/value pairs, serialized as
 * application/x-www-form-urlencoded. When it belongs to a URL (url.searchParams), every
 * change is written back to that URL's query, and the URL replaces the list when its href
 * or search is set.
 *
 * Runs inside a bare V8 isolate: no imports, only ECMAScript built-ins.
 */
import { parseFormUrlencoded, serializeFormUrlencoded } from "./percent-encoding.js";
import {
  hasIterator,
  isObject,
  listIterator,
  requireArguments,
  toPairs,
  toRecordPairs,
  toUSVString,
} from "./webidl.js";

type Pair = [name: string, value: string];

/** The URL's side of the link: called with the new serialization after every change. */
export type QueryUpdate = (serialized: string) => void;

// The URL class reaches the private list through these two, set in the class's static block,
// so that module code cannot (they are not properties of anything it can see).
let linkToUrl: (params: URLSearchParams, query: string | null, update: QueryUpdate) => void;
let replaceList: (params: URLSearchParams, query: string | null) => void;

/**
 * @example new URLSearchParams("a=1&b=x+y").get("b") // "x y"
 * @example new URLSearchParams({ q: "a b" }).toString() // "q=a+b"
 */
export class URLSearchParams {
  #list: Pair[] = [];
  #update: QueryUpdate | null = null;

  static {
    linkToUrl = (params, query, update) => {
      params.#list = query === null ? [] : parseFormUrlencoded(query);
      params.#update = update;
    };
    replaceList = (params, query) => {
      params.#list = query === null ? [] : parseFormUrlencoded(query);
    };
  }

  /** From a query string (a leading "?" is dropped), a record, or an iterable of pairs. */
  constructor(init: unknown = "") {
    if (isObject(init)) {
      this.#list = hasIterator(init) ? toPairs(init, toUSVString, "URLSearchParams") : toRecordPairs(init, toUSVString);
    } else {
      const text = toUSVString(init);
      this.#list = parseFormUrlencoded(text.startsWith("?") ? text.slice(1) : text);
    }
  }

  get size(): number {
    return this.#list.length;
  }

  append(name: unknown, value: unknown): void {
    requireArguments(arguments.length, 2, "URLSearchParams.append");
    this.#list.push([toUSVString(name), toUSVString(value)]);
    this.#changed();
  }

  /** Removes every pair named `name`, or only those that also have `value`. */
  delete(name: unknown, value: unknown = undefined): void {
    requireArguments(arguments.length, 1, "URLSearchParams.delete");
    const key = toUSVString(name);
    const only = value === undefined ? null : toUSVString(value);
    this.#list = this.#list.filter(([n, v]) => n !== key || (only !== null && v !== only));
    this.#changed();
  }

  get(name: unknown): string | null {
    requireArguments(arguments.length, 1, "URLSearchParams.get");
    const key = toUSVString(name);
    return this.#list.find(([n]) => n === key)?.[1] ?? null;
  }

  getAll(name: unknown): string[] {
    requireArguments(arguments.length, 1, "URLSearchParams.getAll");
    const key = toUSVString(name);
    return this.#list.filter(([n]) => n === key).map(([, v]) => v);
  }

  has(name: unknown, value: unknown = undefined): boolean {
    requireArguments(arguments.length, 1, "URLSearchParams.has");
    const key = toUSVString(name);
    const only = value === undefined ? null : toUSVString(value);
    return this.#list.some(([n, v]) => n === key && (only === null || v === only));
  }

  /** Sets the first pair named `name` and removes the others, or appends one. */
  set(name: unknown, value: unknown): void {
    requireArguments(arguments.length, 2, "URLSearchParams.set");
    const key = toUSVString(name);
    const text = toUSVString(value);
    const first = this.#list.findIndex(([n]) => n === key);
    if (first < 0) {
      this.#list.push([key, text]);
    } else {
      this.#list[first] = [key, text];
      this.#list = this.#list.filter(([n], index) => n !== key || index === first);
    }
    this.#changed();
  }

  /** Stable sort by name, comparing UTF-16 code units (so "Z" sorts before "a"). */
  sort(): void {
    this.#list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.#changed();
  }

  forEach(callback: (value: string, name: string, params: URLSearchParams) => void, thisArg: unknown = undefined): void {
    requireArguments(arguments.length, 1, "URLSearchParams.forEach");
    if (typeof callback !== "function") throw new TypeError("URLSearchParams.forEach: the callback must be a function");
    for (let i = 0; i < this.#list.length; i++) {
      const [name, value] = this.#list[i]!;
      callback.call(thisArg, value, name, this);
    }
  }

  entries(): IterableIterator<[string, string]> {
    return listIterator("URLSearchParams Iterator", () => this.#list, ([n, v]): [string, string] => [n, v]);
  }

  keys(): IterableIterator<string> {
    return listIterator("URLSearchParams Iterator", () => this.#list, ([n]) => n);
  }

  values(): IterableIterator<string> {
    return listIterator("URLSearchParams Iterator", () => this.#list, ([, v]) => v);
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  toString(): string {
    return serializeFormUrlencoded(this.#list);
  }

  #changed(): void {
    this.#update?.(serializeFormUrlencoded(this.#list));
  }
}

/** Makes `params` the live view of a URL's query (for the URL class only). */
export function linkSearchParams(params: URLSearchParams, query: string | null, update: QueryUpdate): void {
  linkToUrl(params, query, update);
}

/** Re-reads the list from a URL's new query, without writing back (for the URL class only). */
export function resetSearchParams(params: URLSearchParams, query: string | null): void {
  replaceList(params, query);
}
