import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { FixpointError } from "../../../loader/protocol/errors.js";
import { encodeCbor } from "../../../loader/protocol/cbor.js";
import {
  REQUEST_TYPES,
  checkNodeMessage,
  decodeClientMessage,
  decodeNodeMessage,
  encodeMessage,
  errorFromWire,
  isRequest,
  validateResult,
  type ClientMessage,
  type NodeMessage,
} from "../../../loader/protocol/messages.js";
import { throwsCode } from "../../helpers/expect-code.js";

const DIGEST = "a".repeat(64);
const bundle = () => ({ manifest: Buffer.from("{}"), signature: Buffer.alloc(64, 1), code: Buffer.from("export default {}"), sourceMap: Buffer.from("{}") });

/** One valid message of every type each side may send. */
const CLIENT_MESSAGES: ClientMessage[] = [
  { type: "ping", id: 1 },
  { type: "ping", id: 2, data: Buffer.from([1, 2, 3]) },
  { type: "status", id: 0 },
  { type: "status", id: Number.MAX_SAFE_INTEGER },
  { type: "push", id: 3, bundle: bundle() },
  { type: "subscribe", id: 4, topics: ["log"] },
  { type: "subscribe", id: 5, topics: [] },
  { type: "call", id: 6, module: "counter", fn: "hit", args: [1, "two", { three: [3] }, null] },
  { type: "eval", id: 7, source: "1 + 1" },
  { type: "eval", id: 8, source: "state.hits", module: "counter", colors: true },
  { type: "complete", id: 9, source: "Ma" },
  { type: "complete", id: 10, source: "state.", module: "counter" },
  { type: "stage", id: 11, release: { manifest: Buffer.from("fixpoint-release/1\n{}"), signature: Buffer.alloc(64) }, bundles: [bundle()] },
  { type: "upgrade", id: 12, number: 3 },
  { type: "upgrade", id: 13, number: 2, rollback: true },
  { type: "mode", id: 14, mode: "production" },
  { type: "heartbeat" },
  { type: "goodbye" },
  { type: "goodbye", error: { code: "SHUTTING_DOWN", message: "bye" } },
];

const NODE_MESSAGES: NodeMessage[] = [
  { type: "welcome", version: 1, node: { name: "n1", cluster: "prod", mode: "production" }, roles: ["dev", "observe"] },
  { type: "welcome", version: 1, node: { name: "n1", cluster: "prod", mode: "dev" }, roles: [] },
  { type: "result", id: 1, value: null },
  { type: "result", id: 2, value: { data: Buffer.from("pong"), nested: [1, -2.5, "x", true, { deep: null }] } },
  { type: "error", id: 3, error: { code: "FORBIDDEN", message: "needs dev", location: { file: "a.ts", line: 3 } } },
  { type: "event", topic: "log", data: { level: "info", text: "hello" } },
  { type: "event", topic: "repl", data: { level: "warn", text: "printed by an evaluation" } },
  { type: "heartbeat" },
  { type: "goodbye", error: { code: "IDLE_TIMEOUT", message: "idle" } },
];

/** Encodes an arbitrary map as a client would put it on the wire. */
const wire = (value: unknown): Buffer => encodeCbor(value);

describe("decodeClientMessage", () => {
  test("decodes a valid message of every type a client sends", () => {
    for (const message of CLIENT_MESSAGES) assert.deepStrictEqual(decodeClientMessage(encodeMessage(message)), message, message.type);
  });

  test("covers every request type", () => {
    assert.deepEqual(new Set(REQUEST_TYPES), new Set(CLIENT_MESSAGES.filter(isRequest).map((m) => m.type)));
  });

  test("rejects an unknown type with MESSAGE_UNKNOWN naming it", () => {
    throwsCode(() => decodeClientMessage(wire({ type: "launch", id: 1 })), "MESSAGE_UNKNOWN", '"launch"', "client");
  });

  test("rejects a node-only type (welcome, result, error, event) with MESSAGE_UNKNOWN", () => {
    for (const message of NODE_MESSAGES.filter((m) => m.type !== "heartbeat" && m.type !== "goodbye")) {
      throwsCode(() => decodeClientMessage(encodeMessage(message)), "MESSAGE_UNKNOWN", message.type);
    }
  });

  test("treats names inherited from Object.prototype as unknown types", () => {
    for (const type of ["toString", "constructor", "hasOwnProperty", "__proto__", ""]) {
      throwsCode(() => decodeClientMessage(wire({ type, id: 1 })), "MESSAGE_UNKNOWN");
    }
  });

  test("rejects a message that is not a map, or has no string type, with MESSAGE_INVALID", () => {
    for (const value of [null, 1, "ping", [{ type: "ping", id: 1 }], Buffer.from("ping"), {}, { type: 1 }, { type: null }, { id: 1 }]) {
      throwsCode(() => decodeClientMessage(wire(value)), "MESSAGE_INVALID", "type");
    }
  });

  test("rejects malformed CBOR with MESSAGE_INVALID", () => {
    throwsCode(() => decodeClientMessage(Buffer.from([0xa1, 0x64])), "MESSAGE_INVALID");
    throwsCode(() => decodeClientMessage(Buffer.alloc(0)), "MESSAGE_INVALID");
    throwsCode(() => decodeClientMessage(Buffer.concat([wire({ type: "heartbeat" }), Buffer.from([0])])), "MESSAGE_INVALID", "trailing");
  });

  test("rejects a missing field with MESSAGE_INVALID naming it", () => {
    throwsCode(() => decodeClientMessage(wire({ type: "status" })), "MESSAGE_INVALID", 'missing field "id"');
    throwsCode(() => decodeClientMessage(wire({ type: "push", id: 1 })), "MESSAGE_INVALID", 'missing field "bundle"');
    const { code: _code, ...noCode } = bundle();
    throwsCode(() => decodeClientMessage(wire({ type: "push", id: 1, bundle: noCode })), "MESSAGE_INVALID", "push.bundle", 'missing field "code"');
  });

  test("rejects an extra field with MESSAGE_INVALID naming it", () => {
    throwsCode(() => decodeClientMessage(wire({ type: "status", id: 1, admin: true })), "MESSAGE_INVALID", 'unknown field "admin"');
    throwsCode(() => decodeClientMessage(wire({ type: "heartbeat", id: 1 })), "MESSAGE_INVALID", 'unknown field "id"');
    throwsCode(() => decodeClientMessage(wire({ type: "push", id: 1, bundle: { ...bundle(), extra: 1 } })), "MESSAGE_INVALID", "push.bundle", '"extra"');
  });

  test("rejects an id that is a string, negative, a float, beyond 2^53 or null, naming the field", () => {
    for (const id of ["1", -1, 1.5, 2 ** 53, Number.NaN, Infinity, null, true, Buffer.from([1])]) {
      throwsCode(() => decodeClientMessage(wire({ type: "status", id })), "MESSAGE_INVALID", "status.id");
    }
  });

  test("rejects wrong types inside a push bundle, naming the path", () => {
    throwsCode(() => decodeClientMessage(wire({ type: "push", id: 1, bundle: { ...bundle(), code: "text" } })), "MESSAGE_INVALID", "push.bundle.code: expected bytes");
    throwsCode(() => decodeClientMessage(wire({ type: "push", id: 1, bundle: { ...bundle(), signature: Buffer.alloc(63) } })), "MESSAGE_INVALID", "push.bundle.signature", "64");
    throwsCode(() => decodeClientMessage(wire({ type: "push", id: 1, bundle: { ...bundle(), manifest: Buffer.alloc(4097) } })), "MESSAGE_INVALID", "push.bundle.manifest");
    throwsCode(() => decodeClientMessage(wire({ type: "push", id: 1, bundle: [] })), "MESSAGE_INVALID", "push.bundle");
  });

  test("rejects a ping whose data is not bytes", () => {
    throwsCode(() => decodeClientMessage(wire({ type: "ping", id: 1, data: "abc" })), "MESSAGE_INVALID", "ping.data");
  });

  test("rejects a subscription to an unknown topic, or to more topics than exist", () => {
    throwsCode(() => decodeClientMessage(wire({ type: "subscribe", id: 1, topics: ["secrets"] })), "MESSAGE_INVALID", "subscribe.topics[0]");
    throwsCode(() => decodeClientMessage(wire({ type: "subscribe", id: 1, topics: ["log", "log"] })), "MESSAGE_INVALID", "subscribe.topics");
    throwsCode(() => decodeClientMessage(wire({ type: "subscribe", id: 1, topics: "log" })), "MESSAGE_INVALID", "subscribe.topics");
  });

  test("rejects a goodbye whose error is malformed", () => {
    throwsCode(() => decodeClientMessage(wire({ type: "goodbye", error: { code: "lowercase", message: "x" } })), "MESSAGE_INVALID", "goodbye.error.code");
    throwsCode(() => decodeClientMessage(wire({ type: "goodbye", error: { code: "X" } })), "MESSAGE_INVALID", 'missing field "message"');
    throwsCode(() => decodeClientMessage(wire({ type: "goodbye", error: { code: "X", message: "m", location: { line: 1 } } })), "MESSAGE_INVALID", 'missing field "file"');
  });

  test("rejects a CBOR tag anywhere in a message", () => {
    const tagged = Buffer.concat([wire({ type: "ping", id: 1 }).subarray(0, -1), Buffer.from([0xc1, 0x01])]);
    throwsCode(() => decodeClientMessage(tagged), "MESSAGE_INVALID");
  });
});

describe("decodeNodeMessage", () => {
  test("decodes a valid message of every type a node sends", () => {
    for (const message of NODE_MESSAGES) assert.deepStrictEqual(decodeNodeMessage(encodeMessage(message)), message, message.type);
  });

  test("rejects a request type with MESSAGE_UNKNOWN (nodes do not send requests)", () => {
    for (const message of CLIENT_MESSAGES.filter(isRequest)) throwsCode(() => decodeNodeMessage(encodeMessage(message)), "MESSAGE_UNKNOWN", message.type, "node");
  });

  test("rejects a welcome with an unknown role, a bad mode, or too many roles", () => {
    const welcome = { type: "welcome", version: 1, node: { name: "n", cluster: "c", mode: "dev" }, roles: ["dev"] };
    throwsCode(() => decodeNodeMessage(wire({ ...welcome, roles: ["root"] })), "MESSAGE_INVALID", "welcome.roles[0]");
    throwsCode(() => decodeNodeMessage(wire({ ...welcome, roles: ["dev", "dev", "dev", "dev", "dev"] })), "MESSAGE_INVALID", "welcome.roles");
    throwsCode(() => decodeNodeMessage(wire({ ...welcome, node: { ...welcome.node, mode: "staging" } })), "MESSAGE_INVALID", "welcome.node.mode");
  });

  test("rejects an event on an unknown topic", () => {
    throwsCode(() => decodeNodeMessage(wire({ type: "event", topic: "other", data: null })), "MESSAGE_INVALID", "event.topic");
  });

  test("rejects a result without a value and one whose value is not plain data", () => {
    throwsCode(() => decodeNodeMessage(wire({ type: "result", id: 1 })), "MESSAGE_INVALID", 'missing field "value"');
    // 0xf9 0x7c00 is float16 +Infinity.
    const infinity = Buffer.concat([wire({ type: "result", id: 1, value: 0 }).subarray(0, -1), Buffer.from([0xf9, 0x7c, 0x00])]);
    throwsCode(() => decodeNodeMessage(infinity), "MESSAGE_INVALID", "result.value");
  });
});

describe("validateResult", () => {
  const status = {
    name: "n1",
    cluster: "prod",
    publicKey: Buffer.alloc(32, 9),
    mode: "dev",
    protocolVersion: 1,
    version: "0.1.0",
    pid: 1234,
    startedAt: "2026-01-01T00:00:00.000Z",
    uptimeMs: 1000,
    modules: [
      { name: "hello", digest: DIGEST, size: 10, builtAt: "t", signer: "SHA256:x", storedAt: "t", running: false },
      { name: "live", digest: DIGEST, size: 10, builtAt: "t", signer: "SHA256:x", storedAt: "t", running: true, version: "2", functions: ["hit"], http: true, heapUsed: 1000, calls: 3 },
    ],
    memory: { rss: 1, heapUsed: 1 },
    connections: { active: 1, pending: 0 },
  };

  test("accepts each request type's result shape", () => {
    assert.deepEqual(validateResult("ping", {}), {});
    assert.deepEqual(validateResult("ping", { data: Buffer.from("x") }), { data: Buffer.from("x") });
    assert.deepEqual(validateResult("status", status), status);
    const push = { name: "hello", digest: DIGEST, stored: true, changed: false };
    assert.deepEqual(validateResult("push", push), push);
    assert.deepEqual(validateResult("subscribe", { topics: ["log"] }), { topics: ["log"] });
    const swapped = { ...push, version: "3", swapMs: 4.2 };
    assert.deepEqual(validateResult("push", swapped), swapped);
    assert.deepEqual(validateResult("call", {}), {});
    assert.deepEqual(validateResult("call", { value: { hits: [1, 2] } }), { value: { hits: [1, 2] } });
  });

  test("rejects wrong shapes with MESSAGE_INVALID naming the field", () => {
    throwsCode(() => validateResult("ping", null), "MESSAGE_INVALID", "ping result");
    throwsCode(() => validateResult("ping", [1]), "MESSAGE_INVALID", "ping result");
    throwsCode(() => validateResult("ping", { data: "x" }), "MESSAGE_INVALID", "ping result.data");
    throwsCode(() => validateResult("push", { name: "hello", digest: DIGEST, stored: true }), "MESSAGE_INVALID", 'missing field "changed"');
    throwsCode(() => validateResult("push", { name: "hello", digest: DIGEST.toUpperCase(), stored: true, changed: true }), "MESSAGE_INVALID", "push result.digest");
    throwsCode(() => validateResult("push", { name: "Hello World", digest: DIGEST, stored: true, changed: true }), "MESSAGE_INVALID", "push result.name");
    throwsCode(() => validateResult("push", { name: "hello", digest: DIGEST, stored: 1, changed: true }), "MESSAGE_INVALID", "push result.stored");
    throwsCode(() => validateResult("status", { ...status, publicKey: Buffer.alloc(31) }), "MESSAGE_INVALID", "status result.publicKey");
    throwsCode(() => validateResult("status", { ...status, mode: "staging" }), "MESSAGE_INVALID", "status result.mode");
    throwsCode(() => validateResult("status", { ...status, modules: [{ ...status.modules[0], size: -1 }] }), "MESSAGE_INVALID", "status result.modules[0].size");
    throwsCode(() => validateResult("status", { ...status, extra: 1 }), "MESSAGE_INVALID", 'unknown field "extra"');
    throwsCode(() => validateResult("subscribe", { topics: ["other"] }), "MESSAGE_INVALID", "subscribe result.topics[0]");
    throwsCode(() => validateResult("call", { value: 1, extra: 2 }), "MESSAGE_INVALID", 'unknown field "extra"');
  });

  test("rejects a call to an invalid module name or with too many arguments", () => {
    throwsCode(() => decodeClientMessage(wire({ type: "call", id: 1, module: "Bad Name", fn: "x", args: [] })), "MESSAGE_INVALID", "call.module");
    throwsCode(() => decodeClientMessage(wire({ type: "call", id: 1, module: "ok", fn: "x", args: new Array(257).fill(0) })), "MESSAGE_INVALID", "call.args");
  });
});

describe("errorFromWire", () => {
  test("keeps a known code, its message and location", () => {
    const err = errorFromWire({ code: "FORBIDDEN", message: "needs dev", location: { file: "a.ts", line: 2, column: 3 } });
    assert.ok(err instanceof FixpointError);
    assert.equal(err.code, "FORBIDDEN");
    assert.equal(err.message, "needs dev");
    assert.deepEqual(err.location, { file: "a.ts", line: 2, column: 3 });
  });

  test("turns a code this build does not know into INTERNAL, keeping the original code in the message", () => {
    const err = errorFromWire({ code: "FROM_THE_FUTURE", message: "new" });
    assert.equal(err.code, "INTERNAL");
    assert.ok(err.message.includes("FROM_THE_FUTURE"));
  });
});

/** Seeded, so a failure reproduces; FUZZ_RUNS raises the budget (\`FUZZ_RUNS=200000 npm test -- test/loader/protocol\`). */
const fuzz = { seed: 13, numRuns: Number(process.env["FUZZ_RUNS"] ?? 1500) };

/** Whether the client would accept `message` as the answer to a `type` request. */
function clientAccepts(message: NodeMessage, type?: "call" | "status"): boolean {
  let bytes: Buffer;
  try {
    bytes = encodeMessage(message);
  } catch {
    return false;
  }
  try {
    const decoded = decodeNodeMessage(bytes);
    if (decoded.type === "result" && type !== undefined) validateResult(type, decoded.value);
    return true;
  } catch (err) {
    assert.ok(err instanceof FixpointError && (err.code === "MESSAGE_INVALID" || err.code === "MESSAGE_UNKNOWN"), String(err));
    return false;
  }
}

function nodeAccepts(message: NodeMessage, type?: "call" | "status"): boolean {
  try {
    checkNodeMessage(message, type);
    return true;
  } catch (err) {
    assert.ok(err instanceof FixpointError && (err.code === "MESSAGE_INVALID" || err.code === "MESSAGE_UNKNOWN"), String(err));
    return false;
  }
}

/** Values a module might return, hostile ones included: own "__proto__" keys, lone surrogates, holes, deep nesting. */
const hostileKey = fc.oneof(fc.fullUnicodeString({ maxLength: 6 }), fc.constant("__proto__"), fc.constantFrom("\ud800", "a\udfff", "constructor"));
const moduleValue = fc.oneof(
  fc.anything({
    key: hostileKey,
    maxDepth: 4,
    withNullPrototype: true,
    withSparseArray: true,
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
    withBoxedValues: true,
    withObjectString: true,
  }),
  // Near the CBOR depth limit, which counts from the message, not from the value.
  fc.tuple(fc.integer({ min: 26, max: 34 }), fc.boolean()).map(([depth, asArrays]) => {
    let v: unknown = 1;
    for (let i = 0; i < depth; i++) v = asArrays ? [v] : { k: v };
    return v;
  }),
);

describe("checkNodeMessage", () => {
  test("accepts a valid message of every type a node sends", () => {
    for (const m of NODE_MESSAGES) checkNodeMessage(m);
  });

  test("refuses what the client would refuse: an own __proto__ key, a hole, a lone surrogate key, nesting past the CBOR limit", () => {
    const deep = (n: number) => {
      let v: unknown = [];
      for (let i = 0; i < n; i++) v = [v];
      return v;
    };
    for (const value of [JSON.parse('{"__proto__": 1}'), { value: [1, , 3] }, { value: { "\ud800": 1 } }, { value: deep(30) }]) {
      const message = { type: "result", id: 1, value } as NodeMessage;
      throwsCode(() => checkNodeMessage(message, "call"), "MESSAGE_INVALID");
      assert.equal(clientAccepts(message, "call"), false, "the client refuses it too");
    }
    // Not plain data, though cbor-x would write something for them: refused rather than guessed at.
    for (const value of [{ value: new Map() }, { value: 10n }, { value: new Date(0) }]) {
      throwsCode(() => checkNodeMessage({ type: "result", id: 1, value } as unknown as NodeMessage, "call"), "MESSAGE_INVALID");
    }
    checkNodeMessage({ type: "result", id: 1, value: { value: deep(29) } } as NodeMessage, "call");
  });

  test("checks a result against its request type's shape", () => {
    throwsCode(() => checkNodeMessage({ type: "result", id: 1, value: { name: 1 } }, "status"), "MESSAGE_INVALID", "status result");
  });

  test("never accepts a result the client would refuse (seeded property)", () => {
    fc.assert(
      fc.property(moduleValue, fc.boolean(), (value, wrap) => {
        const message = { type: "result", id: 1, value: wrap ? { value } : value } as NodeMessage;
        if (nodeAccepts(message, "call")) assert.ok(clientAccepts(message, "call"), `the node accepted what the client refuses: ${fc.stringify(value)}`);
      }),
      fuzz,
    );
  });

  test("accepts every plain JSON-like result the client accepts (seeded property)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const message = { type: "result", id: 1, value: { value } } as NodeMessage;
        assert.equal(nodeAccepts(message, "call"), clientAccepts(message, "call"));
      }),
      fuzz,
    );
  });
});
