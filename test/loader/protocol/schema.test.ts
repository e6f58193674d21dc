import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { array, bool, bytes, check, data, literal, nullable, number, object, oneOf, record, string, uint, validate, described, validateFile } from "../../../loader/protocol/schema.js";
import { throwsCode } from "../../helpers/expect-code.js";

describe("schema", () => {
  test("uint accepts safe integers from 0 to max and nothing else", () => {
    const s = uint(10);
    for (const ok of [0, 1, 10]) assert.equal(validate(s, ok, "n"), ok);
    for (const bad of [-1, 11, 1.5, Number.NaN, Infinity, "1", null, undefined, 1n, true]) throwsCode(() => validate(s, bad, "n"), "MESSAGE_INVALID", "n: expected an integer from 0 to 10");
    throwsCode(() => validate(uint(), 2 ** 53, "id"), "MESSAGE_INVALID", "id");
    assert.equal(validate(uint(), Number.MAX_SAFE_INTEGER, "id"), Number.MAX_SAFE_INTEGER);
  });

  test("number accepts finite numbers only", () => {
    for (const ok of [0, -1.5, 1e300]) assert.equal(validate(number(), ok, "x"), ok);
    for (const bad of [Number.NaN, Infinity, -Infinity, "1", null]) throwsCode(() => validate(number(), bad, "x"), "MESSAGE_INVALID", "finite number");
  });

  test("string checks type, length and pattern", () => {
    assert.equal(validate(string(3), "abc", "s"), "abc");
    throwsCode(() => validate(string(3), "abcd", "s"), "MESSAGE_INVALID", "at most 3 characters");
    throwsCode(() => validate(string(3), 3, "s"), "MESSAGE_INVALID", "s: expected a string");
    assert.equal(validate(string(10, /^[a-z]+$/), "abc", "s"), "abc");
    throwsCode(() => validate(string(10, /^[a-z]+$/), "ABC", "s"), "MESSAGE_INVALID", "matching");
  });

  test("bytes checks type, maximum length and exact length", () => {
    assert.equal(validate(bytes(4), new Uint8Array(4), "b").length, 4);
    throwsCode(() => validate(bytes(4), new Uint8Array(5), "b"), "MESSAGE_INVALID", "at most 4 bytes");
    throwsCode(() => validate(bytes(32, 32), new Uint8Array(31), "key"), "MESSAGE_INVALID", "key: expected exactly 32 bytes");
    throwsCode(() => validate(bytes(32, 32), new Uint8Array(33), "key"), "MESSAGE_INVALID", "exactly 32 bytes");
    for (const bad of ["abcd", [1, 2], new ArrayBuffer(2), null]) throwsCode(() => validate(bytes(4), bad, "b"), "MESSAGE_INVALID", "b: expected bytes");
  });

  test("bool, literal and oneOf accept exactly their values", () => {
    assert.equal(validate(bool(), false, "f"), false);
    throwsCode(() => validate(bool(), 0, "f"), "MESSAGE_INVALID", "true or false");
    assert.equal(validate(literal("ping"), "ping", "type"), "ping");
    throwsCode(() => validate(literal("ping"), "pong", "type"), "MESSAGE_INVALID", '"ping"');
    assert.equal(validate(oneOf(["dev", "production"]), "dev", "mode"), "dev");
    throwsCode(() => validate(oneOf(["dev", "production"]), "staging", "mode"), "MESSAGE_INVALID", "one of dev, production");
    throwsCode(() => validate(oneOf(["dev"]), 1, "mode"), "MESSAGE_INVALID");
  });

  test("array checks its length and names the index of a bad item", () => {
    assert.deepEqual(validate(array(uint(), 3), [1, 2, 3], "xs"), [1, 2, 3]);
    throwsCode(() => validate(array(uint(), 3), [1, 2, 3, 4], "xs"), "MESSAGE_INVALID", "at most 3 items");
    throwsCode(() => validate(array(uint(), 3), [1, "2"], "xs"), "MESSAGE_INVALID", "xs[1]");
    throwsCode(() => validate(array(uint()), { 0: 1, length: 1 }, "xs"), "MESSAGE_INVALID", "an array");
  });

  test("object rejects unknown fields, requires non-optional ones and names the path", () => {
    const s = object({ a: uint(), b: object({ c: string(5) }), d: bool() }, ["d"]);
    assert.deepEqual(validate(s, { a: 1, b: { c: "x" } }, "m"), { a: 1, b: { c: "x" } });
    assert.deepEqual(validate(s, { a: 1, b: { c: "x" }, d: true }, "m"), { a: 1, b: { c: "x" }, d: true });
    throwsCode(() => validate(s, { a: 1, b: { c: "x" }, e: 1 }, "m"), "MESSAGE_INVALID", 'm: unknown field "e"');
    throwsCode(() => validate(s, { b: { c: "x" } }, "m"), "MESSAGE_INVALID", 'm: missing field "a"');
    throwsCode(() => validate(s, { a: 1, b: { c: 5 } }, "m"), "MESSAGE_INVALID", "m.b.c: expected a string");
    throwsCode(() => validate(s, { a: 1, b: { c: "x" }, d: "yes" }, "m"), "MESSAGE_INVALID", "m.d");
    // undefined reads as absent: allowed for an optional field, missing for a required one.
    assert.doesNotThrow(() => validate(s, { a: 1, b: { c: "x" }, d: undefined }, "m"));
    throwsCode(() => validate(s, { a: undefined, b: { c: "x" } }, "m"), "MESSAGE_INVALID", 'missing field "a"');
  });

  test("object and record accept only plain maps, not arrays, bytes, class instances or null", () => {
    const s = object({});
    assert.deepEqual(validate(s, {}, "m"), {});
    assert.doesNotThrow(() => validate(s, Object.create(null) as unknown, "m"));
    for (const bad of [[], new Uint8Array(0), new Date(0), new Map(), null, "x", new (class Thing {})()]) {
      throwsCode(() => validate(s, bad, "m"), "MESSAGE_INVALID", "m: expected a map");
      throwsCode(() => validate(record(uint()), bad, "r"), "MESSAGE_INVALID", "r: expected a map");
    }
  });

  test("object reads only own fields, never ones inherited from Object.prototype", () => {
    // Regression: `value[key]` found Object.prototype.toString for a field named "toString", so a
    // missing required field was reported as the wrong type and an absent optional one was refused.
    throwsCode(() => validate(object({ toString: string(10) }), {}, "m"), "MESSAGE_INVALID", 'missing field "toString"');
    assert.deepEqual(validate(object({ constructor: string(10), valueOf: uint() }, ["constructor", "valueOf"]), {}, "m"), {});
  });

  test("record checks every value and its key count", () => {
    assert.deepEqual(validate(record(uint(), 2), { a: 1, b: 2 }, "r"), { a: 1, b: 2 });
    throwsCode(() => validate(record(uint(), 2), { a: 1, b: 2, c: 3 }, "r"), "MESSAGE_INVALID", "at most 2 keys");
    throwsCode(() => validate(record(uint()), { a: 1, b: -2 }, "r"), "MESSAGE_INVALID", "r.b");
  });

  test("nullable accepts null or the inner shape", () => {
    assert.equal(validate(nullable(uint()), null, "n"), null);
    assert.equal(validate(nullable(uint()), 3, "n"), 3);
    throwsCode(() => validate(nullable(uint()), "3", "n"), "MESSAGE_INVALID");
    throwsCode(() => validate(nullable(uint()), undefined, "n"), "MESSAGE_INVALID");
  });

  test("data accepts plain data and rejects everything CBOR could not carry back", () => {
    const ok = { a: [1, "two", null, true, new Uint8Array([3])], b: { c: -1.5 } };
    assert.deepEqual(validate(data(), ok, "v"), ok);
    for (const bad of [undefined, Number.NaN, Infinity, 1n, new Date(0), new Map(), () => 1, Symbol("s")]) throwsCode(() => check(data(), bad, "v"), "MESSAGE_INVALID");
    throwsCode(() => check(data(), { a: [1, { b: Infinity }] }, "v"), "MESSAGE_INVALID", "v.a[1].b");
  });

  test("data refuses nesting deeper than 32", () => {
    let deep: unknown = 0;
    for (let i = 0; i < 32; i++) deep = [deep];
    assert.doesNotThrow(() => check(data(), deep, "v"));
    throwsCode(() => check(data(), [[deep]], "v"), "MESSAGE_INVALID", "nested at most 32 deep");
  });
});

test("validateFile reports with the file's code, naming the file, the field and what it must be, or the unknown key and the known ones", () => {
  const schema = object({ name: described(string(8, /^[a-z]+$/), "1-8 lowercase letters"), nodes: array(object({ port: uint(65535) })) }, ["nodes"]);
  assert.deepEqual(validateFile(schema, { name: "abc" }, "/p/x.json", "CONFIG_INVALID"), { name: "abc" });
  const cases: [unknown, string][] = [
    [[], '/p/x.json: must be a JSON object'],
    [{ name: "ABC" }, '/p/x.json: "name" must be 1-8 lowercase letters'],
    [{}, '/p/x.json: missing "name", which must be 1-8 lowercase letters'],
    [{ name: "a", nmae: "b" }, '/p/x.json: unknown key "nmae" (known keys: name, nodes)'],
    [{ name: "a", nodes: [{ port: 1 }, { port: 1, host: "h" }] }, '/p/x.json: unknown key "host" in "nodes[1]" (known keys: port)'],
    [{ name: "a", nodes: [{ port: -1 }] }, '/p/x.json: "nodes[0].port" must be an integer from 0 to 65535'],
  ];
  for (const [value, message] of cases) {
    const err = throwsCode(() => validateFile(schema, value, "/p/x.json", "STORE_CORRUPT"), "STORE_CORRUPT");
    assert.equal(err.message, message);
    assert.deepEqual(err.location, { file: "/p/x.json" });
  }
  // The wire's wording is unchanged.
  throwsCode(() => validate(schema, { name: "a", nmae: 1 }, "msg"), "MESSAGE_INVALID", 'msg: unknown field "nmae"');
});
