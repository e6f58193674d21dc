/**
 * A node inside a host app (issue 14), and what `loader start` runs: one code path. The
 * host-facing layer over the loader's LoaderNode, outside the fixed point (it is the host's API). The node's
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
import { serialize } from "node:v8";
import { DEFAULT_RUNTIME_LIMITS, MAX_CAPABILITY_BYTES, type RuntimeLimits } from "../../loader/protocol/runtime-ipc.js";
import { FixpointError } from "../../loader/protocol/errors.js";
import type { Mode } from "../../loader/protocol/messages.js";
import { logEntry, type Logger } from "../../loader/protocol/log.js";
import { checkNodeOptions, type Capabilities, type NodeEvents, type NodeHandle } from "./node-options.js";
import { DEFAULT_SERVER_LIMITS, LoaderNode, runtimeEntry, type ServerLimits } from "../../loader/index.js";
import { hostHttp } from "./host-http.js";

export type { Capabilities, NodeEvents, NodeHandle } from "./node-options.js";

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

const EVENT_OF: Readonly<Record<string, keyof NodeEvents>> = { "module.pushed": "swap", "module.stopped": "crash", "runtime.exited": "restart" };

/** Answers a module's capability call in the host: only granted names, within the time limit, a result that copies. */
function capabilityCaller(granted: ReturnType<typeof checkNodeOptions>, timeoutMs: number) {
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
  const granted = checkNodeOptions(options, Object.keys(DEFAULT_SERVER_LIMITS));
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
