/**
 * A node inside a host app (issue 14), and what `loader start` runs: one code path. The node's
 * modules still run in a runtime process it supervises; the host gets a small handle (its
 * addresses, status, stop, events), grants modules its own functions (`capabilities`), and may
 * mount the modules' HTTP handlers in its own server (host-http.ts).
 *
 * @example
 * const dir = createDataDir("/var/lib/app/node", { authorize: [{ key: devPublicKey, roles: ["dev", "observe"] }] });
 * const node = await startNode({ dataDir: dir, listen: "127.0.0.1:0", capabilities: { db: { query: (sql: string) => pool.query(sql) } } });
 * app.use("/app", node.httpListener());
 * node.on("swap", (e) => console.log(`${e.module} is now version ${e.version}`));
 * await node.stop();
 */
import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import { serialize } from "node:v8";
import { runtimeEntry } from "../supervisor/runtime-entry.js";
import { DEFAULT_RUNTIME_LIMITS, ISOLATE_LIMIT_BOUNDS, MAX_CAPABILITY_BYTES, type RuntimeLimits } from "../protocol/runtime-ipc.js";
import { FixpointError } from "../protocol/errors.js";
import { MODES, MODULE_NAME, MODULE_NAME_RULE, type Mode, type ResultOf } from "../protocol/messages.js";
import { described, object, oneOf, string, stringWhere, uint, validateFile, type Schema } from "../protocol/schema.js";
import { logEntry, type LogEntry, type Logger } from "../protocol/log.js";
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from "../channel/server.js";
import { parseHostPort } from "../protocol/node-config.js";
import { LoaderNode } from "./node.js";
import { hostHttp } from "./host-http.js";

/** Functions a host grants its node's modules, by capability name: `{ db: { query(sql) {…} } }`. */
export type Capabilities = Record<string, Record<string, (...args: never[]) => unknown>>;

export interface StartNodeOptions {
  /** The node's data directory, made with `createDataDir` (devtool/node-admin.ts) or `loader init`. */
  dataDir: string;
  /** Where the node writes its log events; without it they reach only `on("log")` and `devtool logs`. */
  logger?: Logger;
  /** Overrides config.json's channel address, "HOST:PORT" (port 0: a free one, in `channel`). */
  listen?: string;
  /** Overrides config.json's mode. */
  mode?: Mode;
  /** "HOST:PORT" for the node's own HTTP front, if any (a host app usually mounts `httpListener` instead). */
  http?: string;
  /** The module serving paths no other module claims. Default "index". */
  httpRoot?: string;
  /** "HOST:PORT" for the readiness endpoint (200 ready, 503 draining), if any. */
  ready?: string;
  /** The channel's limits; unset ones are DEFAULT_SERVER_LIMITS. */
  limits?: Partial<ServerLimits>;
  /** Limits per module isolate and per state; unset ones are DEFAULT_RUNTIME_LIMITS. */
  moduleLimits?: Partial<RuntimeLimits>;
  /** How often changed module states are saved, ms. Default 1000. */
  snapshotMs?: number;
  /** The host functions modules may call as `ctx.host.NAME.FN(...)`; nothing else is granted. */
  capabilities?: Capabilities;
  /** Longest wait for one capability call, ms, 1..600000; then the module gets CAPABILITY_TIMEOUT. Default 5000. */
  capabilityTimeoutMs?: number;
}

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

const EVENT_OF: Readonly<Record<string, keyof NodeEvents>> = { "module.pushed": "swap", "module.stopped": "crash", "runtime.exited": "restart" };

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
    limits: object(Object.fromEntries(Object.keys(DEFAULT_SERVER_LIMITS).map((k) => [k, ms(2 ** 31 - 1)])) as Record<string, Schema>, Object.keys(DEFAULT_SERVER_LIMITS)),
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
function checkOptions(options: StartNodeOptions): { granted: Map<string, Map<string, (...args: unknown[]) => unknown>> } {
  if (typeof options !== "object" || options === null) throw invalid("must be an object with at least dataDir");
  const { logger, capabilities, ...data } = options;
  validateFile(optionsSchema, data, WHERE, "CONFIG_INVALID");
  for (const [k, v] of Object.entries(options.moduleLimits ?? {})) {
    const bounds = ISOLATE_LIMIT_BOUNDS[k as keyof typeof ISOLATE_LIMIT_BOUNDS];
    if (bounds !== undefined && (v as number) < bounds[0]) throw invalid(`"moduleLimits.${k}" must be an integer from ${bounds[0]} to ${bounds[1]}`);
  }
  for (const [k, v] of Object.entries({ ...options.limits, ...options.moduleLimits, snapshotMs: options.snapshotMs, capabilityTimeoutMs: options.capabilityTimeoutMs })) {
    if (v === 0) throw invalid(`"${k}" must be at least 1`);
  }
  if (logger !== undefined && typeof (logger as Partial<Logger> | null)?.log !== "function") throw invalid('"logger" must be an object with a log(level, event, fields) function');
  const granted = new Map<string, Map<string, (...args: unknown[]) => unknown>>();
  if (capabilities === undefined) return { granted };
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
  return { granted };
}

/** Answers a module's capability call in the host: only granted names, within the time limit, a result that copies. */
function capabilityCaller(granted: Map<string, Map<string, (...args: unknown[]) => unknown>>, timeoutMs: number) {
  return async (capability: string, fn: string, args: unknown[]): Promise<unknown> => {
    const f = granted.get(capability)?.get(fn);
    if (f === undefined) throw new FixpointError("CAPABILITY_NOT_GRANTED", `this node grants no host capability "${capability}.${fn}"`);
    let timer: NodeJS.Timeout | undefined;
    const running = (async () => f(...args))();
    running.catch(() => {}); // past its time limit nobody awaits it
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FixpointError("CAPABILITY_TIMEOUT", `host capability ${capability}.${fn} did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    let value: unknown;
    try {
      value = await Promise.race([running, limit]);
    } catch (err) {
      if (err instanceof FixpointError && err.code === "CAPABILITY_TIMEOUT") throw err;
      // The message only: the host's stack and its error's other properties stay in the host.
      throw new FixpointError("CAPABILITY_FAILED", err instanceof Error ? err.message : String(err));
    } finally {
      clearTimeout(timer);
    }
    let size: number;
    try {
      size = serialize(value).length;
    } catch (err) {
      throw new FixpointError("CAPABILITY_FAILED", `host capability ${capability}.${fn} returned something that cannot be copied to a module (${(err as Error).message}); return plain data`);
    }
    if (size > MAX_CAPABILITY_BYTES) throw new FixpointError("CAPABILITY_FAILED", `host capability ${capability}.${fn} returned ${size} bytes serialized, over the ${MAX_CAPABILITY_BYTES} a call may carry`);
    return value;
  };
}

/**
 * Starts a node on `options.dataDir` and resolves once it serves. Bad options are
 * CONFIG_INVALID before anything starts; a failure while starting (a port in use, a data
 * directory another node holds: NODE_LOCKED) stops whatever had started before it is thrown.
 */
export async function startNode(options: StartNodeOptions): Promise<NodeHandle> {
  const { granted } = checkOptions(options);
  const { http, httpRoot, moduleLimits, capabilities: _, capabilityTimeoutMs = 5000, logger: outer, ...rest } = options;
  const events = new EventEmitter();
  const logger: Logger = {
    log(level, event, fields = {}) {
      outer?.log(level, event, fields);
      // Later, not inside the node's own code: a host listener that throws must not break it.
      const typed = EVENT_OF[event];
      if (typed !== undefined && events.listenerCount(typed) > 0) process.nextTick(() => events.emit(typed, fields));
      if (events.listenerCount("log") > 0) {
        const entry = logEntry(level, event, fields);
        process.nextTick(() => events.emit("log", entry));
      }
    },
  };
  const names = Object.fromEntries([...granted].map(([name, fns]) => [name, [...fns.keys()]]));
  const node = new LoaderNode({
    ...rest,
    logger,
    runtime: {
      entry: runtimeEntry(),
      limits: { ...DEFAULT_RUNTIME_LIMITS, ...moduleLimits },
      ...(http === undefined ? {} : { http }),
      ...(httpRoot === undefined ? {} : { httpRoot }),
      capabilities: { names, call: capabilityCaller(granted, capabilityTimeoutMs) },
    },
  });
  let channel: { host: string; port: number };
  try {
    channel = await node.start();
  } catch (err) {
    await node.stop().catch(() => {});
    throw err;
  }
  let stopped: Promise<void> | null = null;
  const mounted = hostHttp((path, request) => node.runtimeProcess.http(path, request), () => stopped !== null);
  const handle: NodeHandle = {
    channel,
    http: node.httpAddress,
    publicKey: node.identity.publicKey,
    status: () => node.report(),
    stop: () => (stopped ??= node.stop()),
    on: (event, listener) => (events.on(event, listener), handle),
    off: (event, listener) => (events.off(event, listener), handle),
    httpListener: (prefix) => mounted.listener(prefix),
    fetchHandler: (prefix) => mounted.fetchHandler(prefix),
  };
  return handle;
}
