/**
 * The few Web IDL conversions the prelude's interfaces share. Browsers run these in generated
 * bindings before any method body; here each method calls them itself, so that module code
 * sees the same TypeErrors it would see in a browser or in Node (whose globals the tests use
 * as the reference).
 *
 * Runs inside a bare V8 isolate: no imports, only ECMAScript built-ins.
 */

/** True for anything Web IDL treats as an object (functions included). */
export function isObject(value: unknown): value is object {
  return (typeof value === "object" && value !== null) || typeof value === "function";
}

/**
 * Throws the TypeError a browser throws when a required argument is missing. Browsers count
 * arguments, not `undefined` values, so callers pass `arguments.length`.
 *
 * @example requireArguments(arguments.length, 2, "URLSearchParams.append")
 */
export function requireArguments(given: number, needed: number, where: string): void {
  if (given < needed) {
    throw new TypeError(`${where}: ${needed} argument${needed === 1 ? "" : "s"} required, but only ${given} present`);
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** USVString: String(value) with every lone surrogate replaced by U+FFFD. */
export function toUSVString(value: unknown): string {
  const text = typeof value === "symbol" ? symbolToString(value) : String(value);
  return text.replace(LONE_SURROGATE, "\uFFFD");
}

/** ByteString: String(value), refusing any code unit above 0xFF (header names and values). */
export function toByteString(value: unknown, where: string): string {
  const text = typeof value === "symbol" ? symbolToString(value) : String(value);
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit > 0xff) {
      throw new TypeError(`${where}: cannot convert to a ByteString: the character at index ${i} has the value ${unit}, above 255`);
    }
  }
  return text;
}

// String(symbol) would succeed; Web IDL's ToString of a symbol throws.
function symbolToString(_value: symbol): never {
  throw new TypeError("Cannot convert a Symbol value to a string");
}

/** A dictionary argument: undefined and null mean "no members"; other primitives are errors. */
export function toDictionary(value: unknown, where: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw new TypeError(`${where}: the options argument must be an object`);
  return value as Record<string, unknown>;
}

/**
 * A Web IDL `sequence<sequence<T>>` of pairs (URLSearchParams and Headers init): every item
 * must itself be iterable and hold exactly two values.
 */
export function toPairs<T>(iterable: object, convert: (value: unknown) => T, where: string): Array<[T, T]> {
  const pairs: Array<[T, T]> = [];
  for (const item of iterable as Iterable<unknown>) {
    if (!isObject(item) || typeof (item as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function") {
      throw new TypeError(`${where}: each pair must be an iterable [name, value]`);
    }
    const pair = Array.from(item as Iterable<unknown>);
    if (pair.length !== 2) throw new TypeError(`${where}: each pair must hold exactly two items, not ${pair.length}`);
    pairs.push([convert(pair[0]), convert(pair[1])]);
  }
  return pairs;
}

/** A Web IDL `record<K, V>`: own enumerable keys in property order. */
export function toRecordPairs<T>(record: object, convert: (value: unknown) => T): Array<[T, T]> {
  const pairs: Array<[T, T]> = [];
  for (const key of Reflect.ownKeys(record)) {
    const descriptor = Reflect.getOwnPropertyDescriptor(record, key);
    if (descriptor === undefined || !descriptor.enumerable) continue;
    pairs.push([convert(key), convert((record as Record<PropertyKey, unknown>)[key])]);
  }
  return pairs;
}

/** True if `value` should be read as a sequence rather than a record. */
export function hasIterator(value: object): boolean {
  const method = (value as { [Symbol.iterator]?: unknown })[Symbol.iterator];
  if (method === undefined || method === null) return false;
  if (typeof method !== "function") throw new TypeError("Symbol.iterator is not a function");
  return true;
}

const ITERATOR_PROTOTYPE: object = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
const iteratorSteps = new WeakMap<object, () => IteratorResult<unknown>>();
const iteratorPrototypes = new Map<string, object>();

/**
 * A Web IDL pair iterator: inherits %IteratorPrototype%, reports `[object <tag>]`, and takes
 * each step from `next`, which reads the live list (browsers' iterators see later changes).
 */
export function createIterator<T>(tag: string, next: () => IteratorResult<T>): IterableIterator<T> {
  let prototype = iteratorPrototypes.get(tag);
  if (prototype === undefined) {
    prototype = Object.create(ITERATOR_PROTOTYPE, {
      next: {
        value: function next(this: object) {
          const step = iteratorSteps.get(this);
          if (step === undefined) throw new TypeError(`next() called on an object that is not a ${tag}`);
          return step();
        },
        writable: true,
        enumerable: true,
        configurable: true,
      },
      [Symbol.toStringTag]: { value: tag, configurable: true },
    }) as object;
    iteratorPrototypes.set(tag, prototype);
  }
  const iterator = Object.create(prototype) as IterableIterator<T>;
  iteratorSteps.set(iterator, next);
  return iterator;
}

/** Iterates `list` by index, so entries added or removed during iteration are seen. */
export function listIterator<E, T>(tag: string, list: () => readonly E[], map: (entry: E) => T): IterableIterator<T> {
  let index = 0;
  return createIterator<T>(tag, () => {
    const entries = list();
    if (index >= entries.length) return { done: true, value: undefined };
    return { done: false, value: map(entries[index++]!) };
  });
}
