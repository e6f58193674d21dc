/**
 * HTTP inside the runtime process. The loader owns the listening socket and hands each
 * accepted connection over as a handle, so requests reach the isolates without a second hop
 * through the loader, and the socket keeps accepting while the runtime restarts.
 *
 * Routing: a path "/NAME" or "/NAME/..." goes to module NAME when it has an http handler;
 * every other path goes to the root module (`--http-root`, default "index"). The module sees
 * the full URL, unchanged.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { FixpointError, toFixpointError } from "../../loader/protocol/errors.js";
import { MODULE_NAME } from "../../loader/protocol/messages.js";
import type { WireRequest } from "../isolate/harness.js";
import type { ModuleTable } from "../swap/module-table.js";

/** Largest request body passed to a module, bytes. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

export function routeOf(path: string, table: ModuleTable, rootModule: string): string | null {
  const first = /^\/([^/?#]*)/.exec(path)?.[1];
  if (first !== undefined && MODULE_NAME.test(first) && table.shapeOf(first)?.http === true) return first;
  return table.shapeOf(rootModule)?.http === true ? rootModule : null;
}

function readBody(req: IncomingMessage): Promise<Uint8Array | null> | null {
  // Most requests have no body (GET): no stream to wait for, no promise to settle.
  if (req.headers["content-length"] === undefined && req.headers["transfer-encoding"] === undefined) {
    req.resume();
    return null;
  }
  if (req.headers["content-length"] === "0") {
    req.resume();
    return null;
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new FixpointError("ARGUMENTS_INVALID", `request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(size === 0 ? null : Buffer.concat(chunks, size)));
    req.on("error", reject);
  });
}

/**
 * Node writes a small string body in one write with the head, but a Buffer beside it (writev):
 * measured 7-14% fewer requests/s. latin1 maps each byte to one char, so the bytes go out as
 * they are.
 */
function endWith(res: ServerResponse, body: Uint8Array): void {
  if (body.length > 16 * 1024) return void res.end(body);
  res.end(Buffer.from(body.buffer, body.byteOffset, body.length).toString("latin1"), "latin1");
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(text + "\n");
}

export interface HttpOptions {
  /**
   * Whether a 500's body carries the module's stack (its own frames, mapped to its TypeScript):
   * in dev mode only. Otherwise a client gets the code and the error's message, and no source
   * path at all; the node's log has the stack either way.
   */
  stacks: boolean;
}

/** An error's message without its stack: the lines before the first frame. */
export function withoutFrames(message: string): string {
  const lines = message.split("\n");
  const first = lines.findIndex((l) => /^\s+at /.test(l));
  return (first === -1 ? lines : lines.slice(0, first)).join("\n");
}

export function createHttpServer(
  table: ModuleTable,
  rootModule: string,
  log: (level: "info" | "warn" | "error", event: string, fields: Record<string, string | number>) => void,
  options: HttpOptions = { stacks: false },
): Server {
  const flight = { count: 0, connections: 0, draining: false, idle: [] as (() => void)[] };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    flight.count++;
    res.once("close", () => {
      --flight.count;
      settle(flight);
    });
    // Draining for a restart: finish this request, then close its connection, so the client's
    // next request opens a new one, which the loader holds until the new runtime is up.
    if (flight.draining) res.shouldKeepAlive = false;
    const path = req.url ?? "/";
    const module = routeOf(path, table, rootModule);
    if (module === null) {
      plain(res, 404, `no module serves ${path}: push one with an http handler named after the path's first segment, or "${rootModule}" for the rest`);
      return;
    }
    try {
      const headers: [string, string][] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
      const reading = readBody(req);
      const wire: WireRequest = {
        method: req.method ?? "GET",
        url: `http://${req.headers.host ?? "localhost"}${path}`,
        headers,
        body: reading === null ? null : await reading,
      };
      const response = await table.http(module, wire);
      res.writeHead(response.status, response.statusText, response.headers);
      endWith(res, response.body);
    } catch (err) {
      const e = toFixpointError(err);
      log("error", "http.failed", { module, path, code: e.code, reason: e.message });
      if (!res.headersSent) plain(res, e.code === "MODULE_TIMEOUT" ? 504 : e.code === "ARGUMENTS_INVALID" ? 413 : 500, `${e.code}: ${options.stacks ? e.message : withoutFrames(e.message)}`);
      else res.destroy();
    }
  });
  server.keepAliveTimeout = 5000;
  server.on("connection", (socket: Socket) => {
    flight.connections++;
    socket.once("close", () => {
      flight.connections--;
      settle(flight);
    });
  });
  inFlight.set(server, flight);
  return server;
}

interface Flight {
  count: number;
  connections: number;
  draining: boolean;
  idle: (() => void)[];
}

const inFlight = new WeakMap<Server, Flight>();

/** Wakes a drain once nothing is in flight and (draining) no connection is left. */
function settle(flight: Flight): void {
  if (flight.count === 0 && (!flight.draining || flight.connections === 0)) for (const done of flight.idle.splice(0)) done();
}

/**
 * Before the runtime is replaced (a guarded restart): idle keep-alive connections are closed,
 * requests in flight finish (each then closes its connection), and this resolves once no
 * request and no connection is left, or after `timeoutMs`.
 */
export function drainHttp(server: Server, timeoutMs: number): Promise<void> {
  const flight = inFlight.get(server);
  if (flight === undefined) return Promise.resolve();
  flight.draining = true;
  // Every connection handed over ends before the state is saved: a request answered by this
  // runtime after the save would change a state the next one never sees.
  server.closeIdleConnections();
  if (flight.count === 0 && flight.connections === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    flight.idle.push(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Serves one connection the loader accepted. */
export function serveSocket(server: Server, socket: Socket): void {
  server.emit("connection", socket);
  socket.resume();
}
