/**
 * The runtime process: forked by the loader (loader/supervisor/), it hosts the module
 * isolates and serves HTTP on sockets the loader hands it. It speaks only the IPC interface in
 * loader/protocol/runtime-ipc.ts. If it dies — a module's allocation can abort V8 itself —
 * the loader restarts it on the last good code and state.
 */
import type { Socket } from "node:net";
import { FixpointError, toFixpointError } from "../loader/errors.js";
import type { RuntimeBoot, RuntimeMessage, RuntimeRequest, RuntimeResults, StateSnapshot } from "../loader/protocol/runtime-ipc.js";
import type { ErrorData } from "../loader/errors.js";
import { ModuleTable } from "./swap/module-table.js";
import { createHttpServer, serveSocket } from "./http/server.js";

function send(message: RuntimeMessage): void {
  process.send?.(message);
}

const boot = JSON.parse(process.argv[2] ?? "{}") as RuntimeBoot;
const table = new ModuleTable(
  {
    log: (module, level, text) => send({ type: "log", module, level, text }),
    onModuleDead: (module, reason) => send({ type: "dead", module, error: reason.toData() }),
  },
  { limits: boot.limits },
);
const http = createHttpServer(table, boot.http.rootModule, (level, event, fields) =>
  send({ type: "log", module: String(fields["module"] ?? ""), level, text: `${event} ${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(" ")}` }),
);

async function exportAll(): Promise<RuntimeResults["export"]> {
  const snapshot: StateSnapshot = {};
  const failed: Record<string, ErrorData> = {};
  for (const info of table.list()) {
    try {
      const { state, version } = await table.exportState(info.name);
      snapshot[info.name] = { digest: info.digest, version, state };
    } catch (err) {
      failed[info.name] = toFixpointError(err).toData();
    }
  }
  return { snapshot, failed };
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
      return exportAll();
    case "unload":
      table.unload(request.name);
      return null;
    case "status": {
      const memory = process.memoryUsage();
      return { modules: table.list(), rss: memory.rss, heapUsed: memory.heapUsed } satisfies RuntimeResults["status"];
    }
    case "ping":
      return null;
    default: {
      const exhaustive: never = request;
      throw new FixpointError("INTERNAL", `unknown runtime request ${JSON.stringify(exhaustive)}`);
    }
  }
}

process.on("message", (message: unknown, handle: unknown) => {
  const m = message as RuntimeRequest | { type: "http-socket" };
  if (m.type === "http-socket") {
    if (handle !== undefined) serveSocket(http, handle as Socket);
    return;
  }
  answer(m).then(
    (value) => send({ type: "reply", id: m.id, ok: true, value }),
    (err: unknown) => send({ type: "reply", id: m.id, ok: false, error: toFixpointError(err).toData() }),
  );
});

// The loader going away means this process has no purpose left.
process.on("disconnect", () => {
  table.dispose();
  process.exit(0);
});

send({ type: "ready", pid: process.pid });
