/**
 * A small strict validator for decoded messages: each shape is declared once and its
 * TypeScript type is inferred from the declaration, so the two cannot disagree.
 * Objects reject unknown keys; a missing required field, a wrong type or a value out of range
 * throws MESSAGE_INVALID naming the path (`push.bundle.code: expected bytes`).
 *
 * The same mechanism checks files and IPC (issue 10: hand-written validators had drifted beside
 * it): `validateFile` reports with the file's own code (CONFIG_INVALID, STORE_CORRUPT) in the
 * words a person editing the file reads (`config.json: "listen" must be "HOST:PORT"`), and
 * `described` says what a field must be where the type alone would not.
 */
import { FixpointError, type ErrorCode } from "./errors.js";

export type Schema =
  | { readonly kind: "uint"; readonly max: number }
  | { readonly kind: "number" }
  | { readonly kind: "string"; readonly maxLength: number; readonly pattern?: RegExp }
  | { readonly kind: "bytes"; readonly maxLength: number; readonly exactLength?: number }
  | { readonly kind: "bool" }
  | { readonly kind: "literal"; readonly value: string }
  | { readonly kind: "enum"; readonly values: readonly string[] }
  | { readonly kind: "array"; readonly of: Schema; readonly maxItems: number }
  | { readonly kind: "object"; readonly fields: Readonly<Record<string, Schema>>; readonly optional: readonly string[] }
  | { readonly kind: "record"; readonly of: Schema; readonly maxKeys: number }
  | { readonly kind: "nullable"; readonly of: Schema }
  | { readonly kind: "data" }
  | { readonly kind: "described"; readonly of: Schema; readonly expected: string };

/** Plain data that survives CBOR: what `data()` accepts without further checks. */
export type Data = null | boolean | number | string | Uint8Array | readonly Data[] | { readonly [key: string]: Data };

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type InferObject<F extends Readonly<Record<string, Schema>>, O extends string> = Simplify<
  { -readonly [K in Exclude<keyof F, O>]: Infer<F[K]> } & { -readonly [K in Extract<keyof F, O>]?: Infer<F[K]> }
>;

export type Infer<S extends Schema> = S extends { kind: "uint" | "number" }
  ? number
  : S extends { kind: "string" }
    ? string
    : S extends { kind: "bytes" }
      ? Uint8Array
      : S extends { kind: "bool" }
        ? boolean
        : S extends { kind: "literal"; value: infer V }
          ? V
          : S extends { kind: "enum"; values: readonly (infer V)[] }
            ? V
            : S extends { kind: "array"; of: infer E extends Schema }
              ? Infer<E>[]
              : S extends { kind: "object"; fields: infer F extends Readonly<Record<string, Schema>>; optional: infer OL extends readonly string[] }
                ? InferObject<F, OL[number]>
                : S extends { kind: "record"; of: infer E extends Schema }
                  ? Record<string, Infer<E>>
                  : S extends { kind: "nullable"; of: infer E extends Schema }
                    ? Infer<E> | null
                    : S extends { kind: "data" }
                      ? Data
                      : S extends { kind: "described"; of: infer E extends Schema }
                        ? Infer<E>
                        : never;

export const uint = (max = Number.MAX_SAFE_INTEGER) => ({ kind: "uint", max }) as const;
export const number = () => ({ kind: "number" }) as const;
export const string = (maxLength = 4096, pattern?: RegExp) =>
  (pattern === undefined ? { kind: "string", maxLength } : { kind: "string", maxLength, pattern }) as { readonly kind: "string"; readonly maxLength: number; readonly pattern?: RegExp };
export const bytes = (maxLength: number, exactLength?: number) =>
  (exactLength === undefined ? { kind: "bytes", maxLength } : { kind: "bytes", maxLength, exactLength }) as { readonly kind: "bytes"; readonly maxLength: number; readonly exactLength?: number };
export const bool = () => ({ kind: "bool" }) as const;
export const literal = <const V extends string>(value: V) => ({ kind: "literal", value }) as const;
export const oneOf = <const V extends readonly string[]>(values: V) => ({ kind: "enum", values }) as const;
export const array = <const E extends Schema>(of: E, maxItems = 10_000) => ({ kind: "array", of, maxItems }) as const;
export const record = <const E extends Schema>(of: E, maxKeys = 10_000) => ({ kind: "record", of, maxKeys }) as const;
export const nullable = <const E extends Schema>(of: E) => ({ kind: "nullable", of }) as const;
export const data = () => ({ kind: "data" }) as const;
/** `of`, with what it must be in words, for when it is not what it should be (`1-63 letters, digits, "." or "-"`). */
export const described = <const E extends Schema>(of: E, expected: string) => ({ kind: "described", of, expected }) as const;
/** A string `accepts` says yes to (a parser, say), at most `maxLength` long; say what it must be with `described`. */
export const stringWhere = (maxLength: number, accepts: (value: string) => boolean) => string(maxLength, { test: accepts } as RegExp);
export function object<const F extends Readonly<Record<string, Schema>>>(fields: F): { readonly kind: "object"; readonly fields: F; readonly optional: readonly [] };
export function object<const F extends Readonly<Record<string, Schema>>, const O extends readonly (keyof F & string)[]>(
  fields: F,
  optional: O,
): { readonly kind: "object"; readonly fields: F; readonly optional: O };
export function object(fields: Readonly<Record<string, Schema>>, optional: readonly string[] = []): Schema {
  return { kind: "object", fields, optional };
}

/** What check() throws: MESSAGE_INVALID as the wire reports it, with the parts validateFile words for files. */
class SchemaError extends FixpointError {
  constructor(
    readonly path: string,
    readonly problem: { expected: string } | { unknown: string; known: string[] } | { missing: string; mustBe?: string },
  ) {
    super(
      "MESSAGE_INVALID",
      "expected" in problem ? `${path}: expected ${problem.expected}` : "unknown" in problem ? `${path}: unknown field "${problem.unknown}"` : `${path}: missing field "${problem.missing}"`,
    );
  }
}

function fail(path: string, expected: string): never {
  throw new SchemaError(path, { expected });
}

/**
 * Checks the parsed content of `file` against `schema` and returns it typed; anything else is
 * `code` naming the file, the field and what it must be (`/data/config.json: "mode" must be one
 * of dev, production`), or the unknown key and the known ones.
 */
export function validateFile<S extends Schema>(schema: S, value: unknown, file: string, code: ErrorCode): Infer<S> {
  try {
    check(schema, value, "");
  } catch (err) {
    if (!(err instanceof SchemaError)) throw err;
    const field = err.path.replace(/^\./, "");
    const where = field === "" ? "" : `"${field}"`;
    const p = err.problem;
    const why =
      "expected" in p
        ? `${where === "" ? "must be" : `${where} must be`} ${p.expected === "a map" ? "a JSON object" : p.expected}`
        : "unknown" in p
          ? `unknown key "${p.unknown}"${where === "" ? "" : ` in ${where}`} (known keys: ${p.known.join(", ")})`
          : `${where === "" ? "" : `${where}: `}missing "${p.missing}"${p.mustBe === undefined ? "" : `, which must be ${p.mustBe}`}`;
    throw new FixpointError(code, `${file}: ${why}`, { location: { file } });
  }
  return value as Infer<S>;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Checks `value` against `schema` and returns it typed; throws MESSAGE_INVALID naming the path. */
export function validate<S extends Schema>(schema: S, value: unknown, path: string): Infer<S> {
  check(schema, value, path);
  return value as Infer<S>;
}

/** The untyped form of `validate`, for tables of schemas. */
export function check(schema: Schema, value: unknown, path: string): void {
  switch (schema.kind) {
    case "uint":
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 || value > schema.max) fail(path, `an integer from 0 to ${schema.max}`);
      return;
    case "number":
      if (typeof value !== "number" || !Number.isFinite(value)) fail(path, "a finite number");
      return;
    case "string":
      if (typeof value !== "string" || value.length > schema.maxLength) fail(path, `a string of at most ${schema.maxLength} characters`);
      if (schema.pattern !== undefined && !schema.pattern.test(value)) fail(path, `a string matching ${String(schema.pattern)}`);
      return;
    case "bytes":
      if (!(value instanceof Uint8Array)) fail(path, "bytes");
      if (schema.exactLength !== undefined ? value.length !== schema.exactLength : value.length > schema.maxLength) {
        fail(path, schema.exactLength !== undefined ? `exactly ${schema.exactLength} bytes` : `at most ${schema.maxLength} bytes`);
      }
      return;
    case "bool":
      if (typeof value !== "boolean") fail(path, "true or false");
      return;
    case "literal":
      if (value !== schema.value) fail(path, JSON.stringify(schema.value));
      return;
    case "enum":
      if (typeof value !== "string" || !schema.values.includes(value)) fail(path, `one of ${schema.values.join(", ")}`);
      return;
    case "array":
      if (!Array.isArray(value) || value.length > schema.maxItems) fail(path, `an array of at most ${schema.maxItems} items`);
      value.forEach((item, i) => check(schema.of, item, `${path}[${i}]`));
      return;
    case "record": {
      if (!isPlainObject(value)) fail(path, "a map");
      const keys = Object.keys(value);
      if (keys.length > schema.maxKeys) fail(path, `a map of at most ${schema.maxKeys} keys`);
      for (const key of keys) check(schema.of, value[key], `${path}.${key}`);
      return;
    }
    case "nullable":
      if (value !== null) check(schema.of, value, path);
      return;
    case "data":
      checkData(value, path, 0);
      return;
    case "described":
      try {
        check(schema.of, value, path);
      } catch (err) {
        // Only a failure of this value itself; one inside it (a field of an object) says its own.
        if (err instanceof SchemaError && err.path === path && "expected" in err.problem) fail(path, schema.expected);
        throw err;
      }
      return;
    case "object": {
      if (!isPlainObject(value)) fail(path, "a map");
      for (const key of Object.keys(value)) {
        if (!Object.hasOwn(schema.fields, key)) throw new SchemaError(path, { unknown: key, known: Object.keys(schema.fields) });
      }
      for (const [key, fieldSchema] of Object.entries(schema.fields)) {
        // Own fields only: a field named like an Object.prototype member must not read the inherited one.
        const fieldValue = Object.hasOwn(value, key) ? value[key] : undefined;
        if (fieldValue === undefined) {
          if (!schema.optional.includes(key)) throw new SchemaError(path, fieldSchema.kind === "described" ? { missing: key, mustBe: fieldSchema.expected } : { missing: key });
          continue;
        }
        check(fieldSchema, fieldValue, `${path}.${key}`);
      }
      return;
    }
  }
}

function checkData(value: unknown, path: string, depth: number): void {
  if (depth > 32) fail(path, "data nested at most 32 deep");
  if (value === null || typeof value === "boolean" || typeof value === "string" || value instanceof Uint8Array) return;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) fail(path, "a finite number");
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkData(item, `${path}[${i}]`, depth + 1));
    return;
  }
  if (!isPlainObject(value)) fail(path, "plain data");
  for (const [key, item] of Object.entries(value)) checkData(item, `${path}.${key}`, depth + 1);
}
