/**
 * The shared parts of the decoders' fuzz targets (test/loader/**\/*-fuzz.test.ts): the budget,
 * the ways a valid input is damaged, and the one property every decoder must keep — a coded
 * FixpointError or a value that re-validates, never anything else, never a crash or a hang.
 *
 * Every target is seeded, so a failure reproduces (fast-check prints the seed and the path to
 * the smallest counterexample). `npm test` runs a small budget; FUZZ_RUNS raises it
 * (`npm run fuzz` runs every *-fuzz.test.ts with 100,000 cases per property).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { FixpointError, type ErrorCode } from "../../loader/protocol/errors.js";

/** fast-check parameters for one property: fixed seed, FUZZ_RUNS cases (or `runs`). */
export function fuzzParameters(seed: number, runs = 300): { seed: number; numRuns: number } {
  return { seed, numRuns: Number(process.env["FUZZ_RUNS"] ?? runs) };
}

/**
 * The longest one decode may take, ms. Generous, because several test files share two cores;
 * what it catches is a pathological input (a backtracking pattern, a quadratic walk), which
 * takes seconds, not a busy machine.
 */
export const SLOW_DECODE_MS = 2_000;

/**
 * Runs `decode` and asserts that it either returns a value that passes `revalidate` or throws a
 * FixpointError with one of `codes`, in under SLOW_DECODE_MS. Returns the value, or null when it threw.
 */
export function codedOrValid<T>(decode: () => T, codes: readonly ErrorCode[], revalidate: (value: T) => void, what = "input"): T | null {
  const started = performance.now();
  let value: T;
  try {
    value = decode();
  } catch (err) {
    assert.ok(err instanceof FixpointError, `${what}: threw something other than a FixpointError: ${err instanceof Error ? err.stack : String(err)}`);
    assert.ok(codes.includes(err.code), `${what}: threw ${err.code} (${err.message}), expected one of ${codes.join(", ")}`);
    assert.ok(err.message.length > 0, `${what}: an error without a message`);
    return null;
  } finally {
    const ms = performance.now() - started;
    assert.ok(ms < SLOW_DECODE_MS, `${what}: took ${ms.toFixed(0)} ms`);
  }
  revalidate(value);
  return value;
}

/** One way of damaging bytes, applied by `mutate`. */
export type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "set"; at: number; byte: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; length: number }
  | { kind: "truncate"; at: number }
  | { kind: "duplicate"; at: number; length: number };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x00, 0x22, 0x5c, 0x7b, 0x7d, 0xff, 0x1b, 0x1f)) }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("duplicate" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 32 }) }),
);

/** Applies `m` to a copy of `bytes` (offsets taken modulo the length). */
export function mutate(bytes: Uint8Array, m: Mutation): Buffer {
  const b = Buffer.from(bytes);
  const at = b.length === 0 ? 0 : m.at % (b.length + 1);
  switch (m.kind) {
    case "flip":
      if (b.length > 0) b[at % b.length]! ^= 1 << m.bit;
      return b;
    case "set":
      if (b.length > 0) b[at % b.length] = m.byte;
      return b;
    case "insert":
      return Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    case "delete":
      return Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)]);
    case "truncate":
      return b.subarray(0, at);
    case "duplicate":
      return Buffer.concat([b.subarray(0, at + m.length), b.subarray(at)]);
  }
}

/** `valid` damaged by one to four mutations. */
export function mutated(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Buffer> {
  return fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([bytes, ms]) => ms.reduce<Buffer>((b, m) => mutate(b, m), Buffer.from(bytes)));
}

/** Bytes with no structure at all, short and long. */
export const garbage: fc.Arbitrary<Buffer> = fc
  .oneof({ weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }) })
  .map((b) => Buffer.from(b));

/** Every prefix of `bytes` (truncation at every offset), for small inputs checked exhaustively. */
export function prefixes(bytes: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) out.push(Buffer.from(bytes.subarray(0, i)));
  return out;
}

/** Values that have broken hand-written validators before: prototype names, odd numbers, odd strings, deep nesting. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    "__proto__",
    "constructor",
    "toString",
    "",
    " ",
    "\u0000",
    "\ud800",
    "a".repeat(10_000),
    -0,
    1e308,
    -1,
    0.5,
    2 ** 53,
    Number.MAX_SAFE_INTEGER,
    null,
    true,
    [],
    {},
    { __proto__: null },
    JSON.parse('{"__proto__": {"polluted": 1}}') as unknown,
    deepArray(40),
  ),
);

function deepArray(depth: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/**
 * `valid` (a JSON object) with one field replaced by a hostile value, removed, or joined by an
 * unknown one, at the top level or one level down.
 */
export function mutatedJson(valid: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<unknown> {
  return fc
    .tuple(valid, fc.nat(), fc.nat(), fc.constantFrom("replace", "remove", "add", "replace-inner", "add-inner"), hostileJson, fc.constantFrom("extra", "__proto__", "constructor", "Name", "name ", ""))
    .map(([value, i, j, how, replacement, newKey]) => {
      const copy = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
      const keys = Object.keys(copy);
      if (keys.length === 0) return copy;
      const key = keys[i % keys.length]!;
      const inner = copy[key];
      const target = (how === "replace-inner" || how === "add-inner") && typeof inner === "object" && inner !== null ? innerObject(inner, j) : copy;
      const targetKeys = Object.keys(target);
      const targetKey = target === copy ? key : (targetKeys[j % Math.max(1, targetKeys.length)] ?? key);
      if (how === "remove") delete target[targetKey];
      else if (how === "add" || how === "add-inner") Object.defineProperty(target, newKey, { value: replacement, enumerable: true, writable: true, configurable: true });
      else target[targetKey] = replacement;
      return copy;
    });
}

function innerObject(value: object, j: number): Record<string, unknown> {
  if (Array.isArray(value)) {
    const item: unknown = value[j % Math.max(1, value.length)];
    return typeof item === "object" && item !== null ? (item as Record<string, unknown>) : (value as unknown as Record<string, unknown>);
  }
  return value as Record<string, unknown>;
}

/** Where in a tree of plain objects and arrays a value sits: the keys from the root. */
type Path = (string | number)[];

function containers(value: unknown, path: Path, out: Path[]): Path[] {
  if (typeof value !== "object" || value === null || value instanceof Uint8Array) return out;
  out.push(path);
  for (const [key, item] of Object.entries(value)) containers(item, [...path, Array.isArray(value) ? Number(key) : key], out);
  return out;
}

function copyTree(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (Array.isArray(value)) return value.map(copyTree);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: copyTree(v), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value;
}

/**
 * `valid` (a tree of plain objects, arrays and bytes) with one change at any depth: a field or
 * item replaced by `replacement`, removed, or joined by a new key holding it.
 */
export function mutatedTree(valid: fc.Arbitrary<unknown>, replacement: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc
    .tuple(valid, fc.nat(), fc.nat(), fc.constantFrom("replace", "remove", "add"), replacement, fc.constantFrom("extra", "__proto__", "constructor", "type", "id", ""))
    .map(([value, i, j, how, repl, newKey]) => {
      const copy = copyTree(value);
      const paths = containers(copy, [], []);
      if (paths.length === 0) return repl;
      const path = paths[i % paths.length]!;
      let target = copy as Record<string | number, unknown>;
      for (const key of path) target = target[key] as Record<string | number, unknown>;
      const keys = Object.keys(target);
      if (how === "add" && !Array.isArray(target)) {
        Object.defineProperty(target, newKey, { value: repl, enumerable: true, writable: true, configurable: true });
        return copy;
      }
      if (keys.length === 0) return copy;
      const key = Array.isArray(target) ? j % keys.length : keys[j % keys.length]!;
      if (how === "remove") {
        if (Array.isArray(target)) target.splice(key as number, 1);
        else delete target[key];
      } else {
        target[key] = repl;
      }
      return copy;
    });
}

/** UTC times as `Date#toISOString` writes them, with and without milliseconds. */
export const utcTime = fc.oneof(
  fc.date({ min: new Date("0001-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z") }).map((d) => d.toISOString()),
  fc.date({ min: new Date("1970-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z") }).map((d) => d.toISOString().slice(0, 19) + "Z"),
);
