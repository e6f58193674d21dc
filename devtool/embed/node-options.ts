/**
 * A node in a host app (issue 14): the handle startNode (devtool/embed/start-node.ts) gives the
 * host, its events, and the options it takes, checked with the
 * schema mechanism config.json goes through (node-config.ts), before anything starts: an
 * unknown key, a wrong type or a limit out of bounds is CONFIG_INVALID naming the option and
 * what it may be (`startNode options: "moduleLimits.cpuMs" must be an integer from 10 to 60000`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { FixpointError } from "../../loader/protocol/errors.js";
import type { LogEntry } from "../../loader/protocol/log.js";
import { MODES, MODULE_NAME, MODULE_NAME_RULE, type ResultOf } from "../../loader/protocol/messages.js";
import { ISOLATE_LIMIT_BOUNDS, type RuntimeLimits } from "../../loader/protocol/runtime-ipc.js";
import { parseHostPort } from "../../loader/protocol/node-config.js";
import { data, described, object, oneOf, string, stringWhere, uint, validateFile, type Schema } from "../../loader/protocol/schema.js";

/** Functions a host grants its node's modules, by capability name: `{ db: { query(sql) {…} } }`. */
export type Capabilities = Record<string, Record<string, (...args: never[]) => unknown>>;

/** What a node tells its host, by event name (`node.on(name, listener)`). */
export interface NodeEvents {
  /** A module version went live (a push or a reload). */
  swap: { module: string; digest: string; version?: string; swapMs?: number; changed: boolean; by?: string };
  /** A module's isolate was stopped (memory limit); the node restarts it from its last good code. */
  crash: { module: string; code: string; reason: string };
  /** The runtime process exited and is being restarted on every module's last state. */
  restart: { code: number | null; signal: string | null; restarts: number; restartInMs: number };
  /** Every log event of the node. */
  log: LogEntry;
}

/** A node started in this process. */
export interface NodeHandle {
  /** The channel's address: what devtool and the client library connect to. */
  readonly channel: { host: string; port: number };
  /** The node's own HTTP front (`http`), if it has one. */
  readonly http: { host: string; port: number } | null;
  /** The node's public key, to pin in a client. */
  readonly publicKey: Uint8Array;
  /** What `devtool status` shows. */
  status(): Promise<ResultOf<"status">>;
  /**
   * Stops the node: channel requests in flight get up to 5 s, then SHUTTING_DOWN; mounted HTTP
   * requests arriving now get 503 SHUTTING_DOWN; every module's state is saved before the
   * runtime goes. Resolves once the data directory is free again.
   */
  stop(): Promise<void>;
  on<E extends keyof NodeEvents>(event: E, listener: (payload: NodeEvents[E]) => void): NodeHandle;
  off<E extends keyof NodeEvents>(event: E, listener: (payload: NodeEvents[E]) => void): NodeHandle;
  /** A node:http / Express listener for the modules' HTTP handlers, mounted below `prefix` (stripped). */
  httpListener(prefix?: string): (req: IncomingMessage, res: ServerResponse) => void;
  /** The same as a web-standard `fetch` handler (Hono's `app.mount`). */
  fetchHandler(prefix?: string): (request: Request) => Promise<Response>;
}

/** The options as checked: what a caller in plain JavaScript may have passed. */
interface Options {
  logger?: unknown;
  capabilities?: Capabilities;
  limits?: unknown;
  moduleLimits?: Partial<RuntimeLimits>;
  snapshotMs?: number;
  capabilityTimeoutMs?: number;
}

const WHERE = "startNode options";
const ms = (most: number) => described(uint(most), `an integer from 1 to ${most}`);
const hostPort = described(stringWhere(300, (t) => parseHostPort(t) !== null), '"HOST:PORT", e.g. "127.0.0.1:0"');
const optionsSchema = object(
  {
    dataDir: described(string(4096), "a directory path"),
    listen: hostPort,
    mode: described(oneOf(MODES), MODES.join(" or ")),
    http: hostPort,
    httpRoot: described(string(63, MODULE_NAME), `a module name (${MODULE_NAME_RULE})`),
    ready: hostPort,
    limits: data(),
    moduleLimits: object(
      {
        ...Object.fromEntries(Object.entries(ISOLATE_LIMIT_BOUNDS).map(([k, [least, most]]) => [k, described(uint(most), `an integer from ${least} to ${most}`)])),
        maxStateBytes: described(uint(), "a positive integer (bytes)"),
      } as Record<string, Schema>,
      ["memoryMb", "cpuMs", "asyncMs", "maxStateBytes"],
    ),
    snapshotMs: ms(3_600_000),
    capabilityTimeoutMs: ms(600_000),
  },
  ["listen", "mode", "http", "httpRoot", "ready", "limits", "moduleLimits", "snapshotMs", "capabilityTimeoutMs"],
);

const invalid = (why: string) => new FixpointError("CONFIG_INVALID", `${WHERE}: ${why}`);
const CAPABILITY_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,62}$/;

/**
 * Checks the options an embedder passes, before anything starts: unknown keys, wrong types and
 * limits out of bounds are CONFIG_INVALID naming the option and what it must be.
 */
export function checkNodeOptions(options: Options, serverLimits: string[]): Map<string, Map<string, (...args: unknown[]) => unknown>> {
  if (typeof options !== "object" || options === null) throw invalid("must be an object with at least dataDir");
  const { logger, capabilities, ...rest } = options;
  validateFile(optionsSchema, rest, WHERE, "CONFIG_INVALID");
  // The channel's limits are the loader's (channel/server.ts): their names come from there.
  const limitsSchema: Schema = { kind: "object", fields: Object.fromEntries(serverLimits.map((k) => [k, ms(2 ** 31 - 1)])), optional: serverLimits };
  // <never>: the type inferred from a schema built at run time is too deep for TypeScript, and nothing is read from it.
  if (options.limits !== undefined) validateFile<never>(limitsSchema as never, options.limits, `${WHERE}, "limits":`, "CONFIG_INVALID");
  for (const [k, v] of Object.entries(options.moduleLimits ?? {})) {
    const bounds = ISOLATE_LIMIT_BOUNDS[k as keyof typeof ISOLATE_LIMIT_BOUNDS];
    if (bounds !== undefined && (v as number) < bounds[0]) throw invalid(`"moduleLimits.${k}" must be an integer from ${bounds[0]} to ${bounds[1]}`);
  }
  for (const [k, v] of Object.entries({ ...(options.limits as object), ...options.moduleLimits, snapshotMs: options.snapshotMs, capabilityTimeoutMs: options.capabilityTimeoutMs })) {
    if (v === 0) throw invalid(`"${k}" must be at least 1`);
  }
  if (logger !== undefined && typeof (logger as { log?: unknown } | null)?.log !== "function") throw invalid('"logger" must be an object with a log(level, event, fields) function');
  const granted = new Map<string, Map<string, (...args: unknown[]) => unknown>>();
  if (capabilities === undefined) return granted;
  if (typeof capabilities !== "object" || capabilities === null) throw invalid('"capabilities" must be an object of capabilities, each an object of functions: { db: { query(sql) {…} } }');
  for (const [name, capability] of Object.entries(capabilities)) {
    if (!CAPABILITY_NAME.test(name)) throw invalid(`capability name "${name}" must be an identifier of at most 63 characters`);
    if (typeof capability !== "object" || capability === null) throw invalid(`"capabilities.${name}" must be an object of functions`);
    const fns = new Map<string, (...args: unknown[]) => unknown>();
    for (const [fn, f] of Object.entries(capability)) {
      if (!CAPABILITY_NAME.test(fn)) throw invalid(`function name "${name}.${fn}" must be an identifier of at most 63 characters`);
      if (typeof f !== "function") throw invalid(`"capabilities.${name}.${fn}" must be a function, got ${f === null ? "null" : typeof f}`);
      // Bound now: what the host changes in its object later grants nothing new.
      fns.set(fn, (f as (...args: unknown[]) => unknown).bind(capability));
    }
    if (fns.size === 0) throw invalid(`"capabilities.${name}" grants no function`);
    granted.set(name, fns);
  }
  return granted;
}

