/**
 * The messages carried in the channel's encrypted frames, each a CBOR map. A frame's plaintext
 * (a record) is one message in protocol version 1, and one or more messages back to back (a CBOR
 * sequence, RFC 8742, at most MAX_RECORD_MESSAGES) in version 2: a side seals the messages it
 * writes in one tick as one record, as TLS does, so that a burst of requests or answers costs
 * one seal and one open instead of one each (issue 13; bench/channel.ts). Messages in a record
 * are handled in order, and a record is accepted only if every message in it is valid.
 *
 * Every message is a member of one union discriminated by `type`. Requests carry an `id`
 * chosen by the client (unique among its requests in flight) and are answered by exactly one
 * `result` or `error` with the same id; answers may come in any order. `event`s flow from
 * node to client unasked (logs). `heartbeat`s flow both ways once per interval; either side
 * treats a silent peer as dead. `goodbye` says why a side is about to close.
 *
 *   client → node: ping, status, push, call, subscribe, eval, complete, stage, upgrade, mode,
 *                  heartbeat, goodbye
 *   node → client: welcome (first frame after the handshake), result, error, event,
 *                  heartbeat, goodbye
 *
 * `eval` and `complete` are the remote REPL (issue 6). The code runs on the node, in a scratch
 * isolate of the connection's own (dropped when the connection closes) or, with `module`, in
 * that module's live isolate. The value comes back already inspected into text inside the
 * isolate, so nothing the code returns needs to be copyable. Console output an evaluation
 * produces arrives before its result as `event`s of topic "repl" on the same connection.
 *
 * Decoding is strict (see cbor.ts and schema.ts): an unknown `type` is MESSAGE_UNKNOWN, any
 * other deviation — a missing or extra field, a wrong type, a value out of range — is
 * MESSAGE_INVALID. Either closes the connection after a `goodbye` naming the error.
 */
import { FixpointError, isErrorCode, type ErrorData } from "./errors.js";
import { checkEncodable, decodeCbor, decodeCborSequence, encodeCbor, encodeCborParts } from "./cbor.js";
import { DEFAULT_MAX_FRAME_BYTES } from "./limits.js";
import { array, bool, bytes, data, literal, number, object, oneOf, string, uint, check, type Infer, type Schema } from "./schema.js";

export const ROLES = ["observe", "dev", "release", "admin"] as const;
export type Role = (typeof ROLES)[number];

export const MODES = ["dev", "production"] as const;
export type Mode = (typeof MODES)[number];

/**
 * Event topics a client can subscribe to. `log`: the node's own log events, as
 * { time, level, event, fields } (module console output joins it with the runtime).
 */
export const TOPICS = ["log"] as const;
export type Topic = (typeof TOPICS)[number];

/**
 * Topics an `event` may carry: the subscribable ones, and "repl", which a node sends only to
 * the connection whose REPL evaluation printed it, as { level, text } (not subscribable).
 */
export const EVENT_TOPICS = [...TOPICS, "repl"] as const;
export type EventTopic = (typeof EVENT_TOPICS)[number];

/** Longest source text one `eval` may carry, characters. */
export const MAX_EVAL_SOURCE = 256 * 1024;
/** Longest text before the cursor a `complete` may carry, characters. */
export const MAX_COMPLETE_SOURCE = 4096;
/** Most candidates a `complete` answers with. */
export const MAX_COMPLETIONS = 2000;

/** Module names: what a file name can say, and safe as a path segment and an HTTP prefix. */
export const MODULE_NAME = /^[a-z][a-z0-9-]{0,62}$/;
/** MODULE_NAME in words, for the messages that refuse a name. */
export const MODULE_NAME_RULE = 'lowercase letters, digits and "-", starting with a letter, at most 63 characters';
/** Lowercase hex SHA-256. */
export const DIGEST = /^[0-9a-f]{64}$/;

/** A module's life on a node, as status reports it. */
export const MODULE_STATUSES = ["restoring", "loading", "current", "failed"] as const;

const id = uint();
const publicKey = bytes(32, 32);
const errorData = object(
  {
    code: string(64, /^[A-Z][A-Z0-9_]*$/),
    message: string(16_384),
    location: object({ file: string(4096), line: uint(), column: uint() }, ["line", "column"]),
  },
  ["location"],
);

/** A bundle as it travels: the manifest's signed bytes, the signature, and the two payloads. */
export const bundleSchema = object({
  manifest: bytes(4096),
  signature: bytes(64, 64),
  code: bytes(DEFAULT_MAX_FRAME_BYTES),
  sourceMap: bytes(DEFAULT_MAX_FRAME_BYTES),
});
export type WireBundle = Infer<typeof bundleSchema>;

/** A release as it travels (loader/release/release.ts): the signed manifest bytes and the signature. */
export const releaseSchema = object({ manifest: bytes(64 * 1024), signature: bytes(64, 64) });

/** How a guarded restart ended (loader/release/guarded-restart.ts). */
export const UPGRADE_OUTCOMES = ["committed", "unchanged"] as const;

const requestSchemas = {
  ping: object({ type: literal("ping"), id, data: bytes(DEFAULT_MAX_FRAME_BYTES) }, ["data"]),
  status: object({ type: literal("status"), id }),
  push: object({ type: literal("push"), id, bundle: bundleSchema }),
  /** `backlog`: also send back up to this many of the most recent events of the topics. */
  subscribe: object({ type: literal("subscribe"), id, topics: array(oneOf(TOPICS), TOPICS.length), backlog: uint(1000) }, ["backlog"]),
  call: object({ type: literal("call"), id, module: string(64, MODULE_NAME), fn: string(128), args: array(data(), 256) }),
  /** `module`: evaluate in that module's isolate instead of the connection's scratch one; `colors`: ANSI colours in the text. */
  eval: object({ type: literal("eval"), id, source: string(MAX_EVAL_SOURCE), module: string(64, MODULE_NAME), colors: bool() }, ["module", "colors"]),
  /** `source`: the input line up to the cursor. */
  complete: object({ type: literal("complete"), id, source: string(MAX_COMPLETE_SOURCE), module: string(64, MODULE_NAME) }, ["module"]),
  /**
   * Production. `stage`: verify and keep a release and whichever of its bundles are given, before
   * any node goes down; the answer lists the digests still missing (send them in another stage).
   * `prepare`: once the node holds all of it, also start its next runtime process and the
   * release's modules in it now, for an upgrade soon (a rollout asks the next node in line while
   * it restarts this one). `upgrade`: the guarded restart onto a staged release (`rollback`: to a
   * lower number the node holds). `mode`: switch the node between dev and production (persisted).
   */
  stage: object({ type: literal("stage"), id, release: releaseSchema, bundles: array(bundleSchema, 256), prepare: bool() }, ["prepare"]),
  upgrade: object({ type: literal("upgrade"), id, number: uint(), rollback: bool() }, ["rollback"]),
  mode: object({ type: literal("mode"), id, mode: oneOf(MODES) }),
} as const;

const moduleInfo = object(
  {
    name: string(64, MODULE_NAME),
    digest: string(64, DIGEST),
    size: uint(),
    builtAt: string(64),
    signer: string(128),
    storedAt: string(64),
    /** Whether the runtime has this version live, and what it says of it. */
    running: bool(),
    version: string(256),
    functions: array(string(128), 1024),
    http: bool(),
    heapUsed: uint(),
    calls: uint(),
    /** The module's health check, if it has one: asked on every status. */
    health: object({ ok: bool(), detail: string(1024) }, ["detail"]),
    /** Its life as the node's code server sees it (loader/node/code-server.ts). */
    status: oneOf(MODULE_STATUSES),
    /** Why it is failed. */
    error: errorData,
    /** Its last state saved to disk: when, and its size in bytes. */
    state: object({ savedAt: string(64), bytes: uint() }),
  },
  ["version", "functions", "http", "heapUsed", "calls", "health", "status", "error", "state"],
);

/** What each request's `result.value` holds. */
export const resultSchemas = {
  ping: object({ data: bytes(DEFAULT_MAX_FRAME_BYTES) }, ["data"]),
  status: object({
    name: string(256),
    cluster: string(256),
    publicKey,
    mode: oneOf(MODES),
    protocolVersion: uint(),
    version: string(64),
    pid: uint(),
    startedAt: string(64),
    uptimeMs: uint(),
    modules: array(moduleInfo),
    memory: object({ rss: uint(), heapUsed: uint() }),
    connections: object({ active: uint(), pending: uint() }),
    /** The committed release (none before the first) and the releases the node holds. */
    release: object({ number: uint(), committedAt: string(64), held: array(uint(), 1024) }, ["number", "committedAt"]),
    /** False from a guarded restart's drain to its commit (what the readiness endpoint says). */
    ready: bool(),
  }, ["release", "ready"]),
  push: object(
    {
      name: string(64, MODULE_NAME),
      digest: string(64, DIGEST),
      stored: bool(),
      changed: bool(),
      /** The running version's label after the push, and how long the swap took, ms. */
      version: string(256),
      swapMs: number(),
    },
    ["version", "swapMs"],
  ),
  call: object({ value: data() }, ["value"]),
  subscribe: object({ topics: array(oneOf(TOPICS), TOPICS.length), backlog: array(data(), 1000) }, ["backlog"]),
  /**
   * `text`: the value (or, with `threw`, what was thrown) inspected inside the isolate;
   * `location`: where a syntax error is in the input (1-based).
   */
  eval: object(
    { threw: bool(), text: string(1024 * 1024), location: object({ line: uint(), column: uint() }) },
    ["location"],
  ),
  /** `prefix`: the word being completed (what each candidate replaces). */
  complete: object({ candidates: array(string(256), MAX_COMPLETIONS), prefix: string(256) }),
  stage: object({ number: uint(), missing: array(string(64, DIGEST), 256) }),
  /** `from`: 0 when the node had no release; `outOfServiceMs`: drain to commit. */
  upgrade: object({ from: uint(), to: uint(), outcome: oneOf(UPGRADE_OUTCOMES), ms: number(), outOfServiceMs: number() }),
  mode: object({ mode: oneOf(MODES), previous: oneOf(MODES) }),
} as const satisfies Record<keyof typeof requestSchemas, Schema>;

const controlSchemas = {
  heartbeat: object({ type: literal("heartbeat") }),
  goodbye: object({ type: literal("goodbye"), error: errorData }, ["error"]),
} as const;

const nodeOnlySchemas = {
  welcome: object({
    type: literal("welcome"),
    version: uint(),
    node: object({ name: string(256), cluster: string(256), mode: oneOf(MODES) }),
    roles: array(oneOf(ROLES), 4),
  }),
  result: object({ type: literal("result"), id, value: data() }),
  error: object({ type: literal("error"), id, error: errorData }),
  event: object({ type: literal("event"), topic: oneOf(EVENT_TOPICS), data: data() }),
} as const;

export type RequestType = keyof typeof requestSchemas;
export type Request = { [K in RequestType]: Infer<(typeof requestSchemas)[K]> }[RequestType];
export type RequestOf<K extends RequestType> = Infer<(typeof requestSchemas)[K]>;
export type ResultOf<K extends RequestType> = Infer<(typeof resultSchemas)[K]>;
/** A request as the caller writes it: the connection assigns the id. */
export type RequestBody<K extends RequestType> = Omit<RequestOf<K>, "id">;

type Control = { [K in keyof typeof controlSchemas]: Infer<(typeof controlSchemas)[K]> }[keyof typeof controlSchemas];
type NodeOnly = { [K in keyof typeof nodeOnlySchemas]: Infer<(typeof nodeOnlySchemas)[K]> }[keyof typeof nodeOnlySchemas];

/** Everything a node may receive. */
export type ClientMessage = Request | Control;
/** Everything a client may receive. */
export type NodeMessage = NodeOnly | Control;
export type Message = ClientMessage | NodeMessage;
export type Welcome = Infer<(typeof nodeOnlySchemas)["welcome"]>;

export const REQUEST_TYPES = Object.keys(requestSchemas) as RequestType[];

const fromClient: Record<string, Schema> = { ...requestSchemas, ...controlSchemas };
const fromNode: Record<string, Schema> = { ...nodeOnlySchemas, ...controlSchemas };

/** The schema of every message each side may send, by type (read-only; for tests that generate messages from it). */
export const MESSAGE_SCHEMAS: { readonly client: Readonly<Record<string, Schema>>; readonly node: Readonly<Record<string, Schema>> } = { client: fromClient, node: fromNode };

export function encodeMessage(message: Message): Buffer {
  return encodeCbor(message);
}

/**
 * The encoding of `message` as parts that concatenate to `encodeMessage(message)`, with byte
 * strings of at least `minBytes` (>= 64 KiB) left uncopied; see `encodeCborParts`.
 */
export function encodeMessageParts(message: Message, minBytes: number): Uint8Array[] {
  return encodeCborParts(message, minBytes);
}

function decodeWith(table: Record<string, Schema>, bytes: Uint8Array, side: string): unknown {
  return checkMessage(table, decodeCbor(bytes), side);
}

function checkMessage(table: Record<string, Schema>, value: unknown, side: string): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new FixpointError("MESSAGE_INVALID", "a message must be a map with a \"type\" field");
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== "string") throw new FixpointError("MESSAGE_INVALID", "a message must be a map with a \"type\" field");
  const schema = Object.hasOwn(table, type) ? table[type] : undefined;
  if (schema === undefined) {
    throw new FixpointError("MESSAGE_UNKNOWN", `unknown message type ${JSON.stringify(type.slice(0, 64))} from the ${side}`);
  }
  check(schema, value, type);
  return value;
}

/** Decodes and validates what a client sent. Throws MESSAGE_INVALID or MESSAGE_UNKNOWN. */
export function decodeClientMessage(bytes: Uint8Array): ClientMessage {
  return decodeWith(fromClient, bytes, "client") as ClientMessage;
}

/** Decodes and validates what a node sent. Throws MESSAGE_INVALID or MESSAGE_UNKNOWN. */
export function decodeNodeMessage(bytes: Uint8Array): NodeMessage {
  return decodeWith(fromNode, bytes, "node") as NodeMessage;
}

/**
 * Decodes and validates the messages of one record from a client: at most `maxMessages`
 * (1 in protocol version 1). Throws MESSAGE_INVALID or MESSAGE_UNKNOWN for the first bad one;
 * nothing of a record is returned unless all of it is valid.
 */
export function decodeClientMessages(bytes: Uint8Array, maxMessages: number): ClientMessage[] {
  return decodeCborSequence(bytes, maxMessages).map((value) => checkMessage(fromClient, value, "client") as ClientMessage);
}

/** Decodes and validates the messages of one record from a node; see `decodeClientMessages`. */
export function decodeNodeMessages(bytes: Uint8Array, maxMessages: number): NodeMessage[] {
  return decodeCborSequence(bytes, maxMessages).map((value) => checkMessage(fromNode, value, "node") as NodeMessage);
}

/** Checks a result's value against the shape its request type promises. */
export function validateResult<K extends RequestType>(type: K, value: unknown): ResultOf<K> {
  check(resultSchemas[type], value, `${type} result`);
  return value as ResultOf<K>;
}

/**
 * Throws MESSAGE_INVALID, naming the path, unless the peer would accept `message`: the checks
 * `decodeNodeMessage` and (for a result of `requestType`) `validateResult` make on the other
 * end, made on the value before it is sent. A node checks what it answers with this, so that
 * an answer the client would refuse fails that one request instead of the connection.
 */
export function checkNodeMessage(message: NodeMessage, requestType?: RequestType): void {
  const schema = Object.hasOwn(fromNode, message.type) ? fromNode[message.type] : undefined;
  if (schema === undefined) throw new FixpointError("MESSAGE_UNKNOWN", `no message type ${JSON.stringify(message.type)} from a node`);
  check(schema, message, message.type);
  if (message.type === "result" && requestType !== undefined) check(resultSchemas[requestType], message.value, `${requestType} result`);
  checkEncodable(message, message.type);
}

export function isRequest(message: ClientMessage): message is Request {
  return Object.hasOwn(requestSchemas, message.type);
}

/** Turns wire error data into a FixpointError; a code this build does not know becomes INTERNAL. */
export function errorFromWire(error: Infer<typeof errorData>): FixpointError {
  if (!isErrorCode(error.code)) return new FixpointError("INTERNAL", `${error.code}: ${error.message}`);
  const data: ErrorData = { code: error.code, message: error.message };
  if (error.location !== undefined) data.location = error.location;
  return FixpointError.fromData(data);
}

