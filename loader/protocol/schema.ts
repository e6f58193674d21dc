/**
 * A small strict validator for decoded messages: each shape is declared once and its
 * TypeScript type is inferred from the declaration, so the two cannot disagree.
 * Objects reject unknown keys; a missing required field, a wrong type or a value out of range
 * throws MESSAGE_INVALID naming the path (`push.bundle.code: expected bytes`).
 */
import { FixpointError } from "../errors.js";

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
  | { readonly kind: "data" };

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
export function object<const F extends Readonly<Record<string, Schema>>>(fields: F): { readonly kind: "object"; readonly fields: F; readonly optional: readonly [] };
export function object<const F extends Readonly<Record<string, Schema>>, const O extends readonly (keyof F & string)[]>(
  fields: F,
  optional: O,
): { readonly kind: "object"; readonly fields: F; readonly optional: O };
export function object(fields: Readonly<Record<string, Schema>>, optional: readonly string[] = []): Schema {
  return { kind: "object", fields, optional };
}

function fail(path: string, expected: string): never {
  throw new FixpointError("MESSAGE_INVALID", `${path}: expected ${expected}`);
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
    case "object": {
      if (!isPlainObject(value)) fail(path, "a map");
      for (const key of Object.keys(value)) {
        if (!Object.hasOwn(schema.fields, key)) throw new FixpointError("MESSAGE_INVALID", `${path}: unknown field "${key}"`);
      }
      for (const [key, fieldSchema] of Object.entries(schema.fields)) {
        // Own fields only: a field named like an Object.prototype member must not read the inherited one.
        const fieldValue = Object.hasOwn(value, key) ? value[key] : undefined;
        if (fieldValue === undefined) {
          if (!schema.optional.includes(key)) throw new FixpointError("MESSAGE_INVALID", `${path}: missing field "${key}"`);
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
