/**
 * The messages carried in the channel's encrypted frames, one CBOR map per frame.
 *
 * Every message is a member of one union discriminated by `type`. Requests carry an `id`
 * chosen by the client (unique among its requests in flight) and are answered by exactly one
 * `result` or `error` with the same id; answers may come in any order. `event`s flow from
 * node to client unasked (logs). `heartbeat`s flow both ways once per interval; either side
 * treats a silent peer as dead. `goodbye` says why a side is about to close.
 *
 *   client → node: ping, status, push, call, subscribe, eval, complete, heartbeat, goodbye
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
import { FixpointError, isErrorCode, type ErrorData } from "../errors.js";
import { decodeCbor, encodeCbor, encodeCborParts } from "./cbor.js";
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
  }),
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
  const value = decodeCbor(bytes);
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

/** Checks a result's value against the shape its request type promises. */
export function validateResult<K extends RequestType>(type: K, value: unknown): ResultOf<K> {
  check(resultSchemas[type], value, `${type} result`);
  return value as ResultOf<K>;
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

