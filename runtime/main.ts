/**
 * The runtime process: forked by the loader (loader/supervisor/), it hosts the module
 * isolates and serves HTTP on sockets the loader hands it. It speaks only the IPC interface in
 * loader/protocol/runtime-ipc.ts. If it dies — a module's allocation can abort V8 itself —
 * the loader restarts it on the last good code and state.
 */
import type { Socket } from "node:net";
import { serialize } from "node:v8";
import { FixpointError, toFixpointError } from "../loader/protocol/errors.js";
import { MAX_CAPABILITY_BYTES, type HostReply, type RuntimeBoot, type RuntimeMessage, type RuntimeRequest, type RuntimeResults } from "../loader/protocol/runtime-ipc.js";
import { ModuleTable } from "./swap/module-table.js";
import { createHttpServer, drainHttp, respond, serveSocket } from "./http/server.js";
import { grantHost } from "./host/capabilities.js";
import { DEFAULT_ISOLATE_LIMITS } from "./host/module-isolate.js";
import { ReplSessions } from "./repl/sessions.js";
import { withDeadline } from "./deadline.js";

function send(message: RuntimeMessage): void {
  process.send?.(message);
}

const boot = JSON.parse(process.argv[2] ?? "{}") as RuntimeBoot;

// Host capabilities run in the loader's process (the host app's): a call goes there and waits
// for its host-reply. The loader bounds its time; the module's own asyncMs bounds it too.
const hostCalls = new Map<number, { resolve: (value: unknown) => void; reject: (err: FixpointError) => void }>();
let nextHostCall = 1;
grantHost({
  shape: boot.capabilities ?? {},
  call: (capability, fn, args) => {
    const size = serialize(args).length;
    if (size > MAX_CAPABILITY_BYTES) return Promise.reject(new FixpointError("ARGUMENTS_INVALID", `the arguments to host capability ${capability}.${fn} are ${size} bytes serialized, over the ${MAX_CAPABILITY_BYTES} a call may carry`));
    const id = nextHostCall++;
    return new Promise((resolve, reject) => {
      hostCalls.set(id, { resolve, reject });
      send({ type: "host-call", id, capability, fn, args });
    });
  },
});
const table = new ModuleTable(
  {
    log: (module, level, text) => {
      send({ type: "log", module, level, text });
      repl.moduleOutput(module, level, text);
    },
    onModuleDead: (module, reason, fatal) => {
      if (!fatal) return send({ type: "dead", module, error: reason.toData() });
      endAfterCatastrophe(module, reason);
    },
  },
  { limits: boot.limits, maxStateBytes: boot.limits.maxStateBytes },
);
// REPL scratch isolates get the same limits as modules (issue 6).
const repl = new ReplSessions(table, { ...DEFAULT_ISOLATE_LIMITS, ...boot.limits }, {
  output: (session, level, text) => send({ type: "repl-output", session, level, text }),
  fatal: (session, reason) => endAfterCatastrophe(`(repl ${session})`, reason),
});

/**
 * V8 lost control of an isolate: its memory and thread are gone for good and the call on it
 * would hang until asyncMs. End the process (isolated-vm's advice for onCatastrophicError);
 * the loader restarts it on every module's last snapshot and fails that call
 * RUNTIME_UNAVAILABLE. SIGKILL, not exit(): exit waits for the stuck isolate thread and
 * hangs until the heartbeat kills it (measured: 3 s more); abort() would dump a huge core.
 */
function endAfterCatastrophe(module: string, reason: FixpointError): void {
  const exit = () => process.kill(process.pid, "SIGKILL");
  setTimeout(exit, 1000);
  process.send?.({ type: "log", module, level: "error", text: `${reason.code}: ${reason.message}; restarting the runtime process` } satisfies RuntimeMessage, undefined, {}, exit);
}

const httpLog = (level: "info" | "warn" | "error", event: string, fields: Record<string, string | number>): void =>
  send({ type: "log", module: String(fields["module"] ?? ""), level, text: `${event} ${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(" ")}` });
// Read at each request: a node switched to production stops showing stack frames at once ("mode").
const httpOptions = { stacks: boot.mode === "dev" };
const http = createHttpServer(table, boot.http.rootModule, httpLog, httpOptions);

/** How long status waits for a module's health check, ms: a check that takes longer is a failing one. */
const HEALTH_WAIT_MS = 1000;

async function checkHealth(module: string): Promise<{ ok: boolean; detail?: string }> {
  try {
    return await withDeadline(table.health(module), HEALTH_WAIT_MS, () => ({ ok: false, detail: `the health check did not answer within ${HEALTH_WAIT_MS} ms` }));
  } catch (err) {
    const e = toFixpointError(err);
    return { ok: false, detail: `${e.code}: ${e.message}`.slice(0, 1024) };
  }
}

async function answer(request: RuntimeRequest): Promise<unknown> {
  switch (request.type) {
    case "load":
      return table.load(request.restore === undefined ? request : { ...request, restore: request.restore });
    case "call":
      return table.call(request.module, request.fn, request.args);
    case "health":
      return table.health(request.module);
    case "export":
      return table.exportChanged(request.skip);
    case "unload":
      table.unload(request.name);
      return null;
    case "status": {
      const modules = await Promise.all((await table.list()).map(async (m) => (m.health ? { ...m, checked: await checkHealth(m.name) } : m)));
      const memory = process.memoryUsage();
      return { modules, rss: memory.rss, heapUsed: memory.heapUsed } satisfies RuntimeResults["status"];
    }
    case "ping":
      return null;
    case "check":
      await table.check(request);
      return null;
    case "prepare":
      await table.prepare(request);
      return null;
    case "drain":
      await drainHttp(http, request.timeoutMs);
      return null;
    case "mode":
      httpOptions.stacks = request.mode === "dev";
      return null;
    case "repl-eval":
      return repl.evaluate(request);
    case "repl-complete":
      return repl.complete(request);
    case "repl-drop":
      return { dropped: repl.drop(request.session) } satisfies RuntimeResults["repl-drop"];
    case "http":
      return respond(table, boot.http.rootModule, request.path, request.request, httpLog, httpOptions) satisfies Promise<RuntimeResults["http"]>;
    default: {
      const exhaustive: never = request;
      throw new FixpointError("INTERNAL", `unknown runtime request ${JSON.stringify(exhaustive)}`);
    }
  }
}

process.on("message", (message: unknown, handle: unknown) => {
  const m = message as RuntimeRequest | HostReply | { type: "http-socket" };
  if (m.type === "http-socket") {
    if (handle !== undefined) serveSocket(http, handle as Socket);
    return;
  }
  if (m.type === "host-reply") {
    const waiting = hostCalls.get(m.id);
    hostCalls.delete(m.id);
    if (m.ok) waiting?.resolve(m.value);
    else waiting?.reject(FixpointError.fromData(m.error));
    return;
  }
  answer(m).then(
    (value) => send({ type: "reply", id: m.id, ok: true, value }),
    (err: unknown) => send({ type: "reply", id: m.id, ok: false, error: toFixpointError(err).toData() }),
  );
});

// Ctrl-C in a terminal, or a SIGTERM sent to the whole process group (npm, a service
// manager), reaches the runtime too; the loader decides when its runtime stops (it
// disconnects, and kills after a grace period), so the runtime does not act on either.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => {});

// The loader going away means this process has no purpose left.
process.on("disconnect", () => {
  repl.dispose();
  table.dispose();
  process.exit(0);
});

send({ type: "ready", pid: process.pid });
