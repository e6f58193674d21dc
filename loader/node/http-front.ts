/**
 * The node's two HTTP ports, both owned by the loader so they stay open while the runtime
 * restarts.
 *
 * - The modules' port: each accepted connection is handed, unread, to the runtime process,
 *   which parses and answers it (runtime/http/server.ts). No request byte passes through the
 *   loader, and clients wait instead of failing while the runtime is replaced.
 * - The readiness endpoint, for load balancers, systemd and Kubernetes probes: GET answers 200
 *   "ready" while the node serves, 503 "not ready" from a guarded restart's drain to its commit
 *   (or the end of its rollback). Its own port, because the modules' port's connections go to
 *   the runtime, which is exactly what is replaced during a restart.
 */
import { createServer as createNetServer, type Server as NetServer } from "node:net";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { FixpointError } from "../protocol/errors.js";
import { parseHostPort } from "../protocol/node-config.js";
import type { RuntimeSupervisor } from "../supervisor/runtime-supervisor.js";

/** Listens on `address` ("HOST:PORT", given as `flag`); CONFIG_INVALID naming the flag when it cannot. */
function listenOn(server: NetServer, address: string, flag: string, what: string): Promise<{ host: string; port: number }> {
  const hp = parseHostPort(address);
  if (hp === null) return Promise.reject(new FixpointError("CONFIG_INVALID", `${flag} must be HOST:PORT, got "${address}"`));
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(new FixpointError("CONFIG_INVALID", `cannot serve ${what} on ${address} (${err.code ?? err.message}); pass another ${flag} HOST:PORT`)));
    server.listen({ host: hp.host, port: hp.port }, () => {
      const a = server.address();
      if (a === null || typeof a === "string") return reject(new FixpointError("INTERNAL", `no ${what} address after listen`));
      resolve({ host: a.address, port: a.port });
    });
  });
}

export class HttpFront {
  private readonly server: NetServer;

  constructor(
    private readonly address: string,
    runtime: RuntimeSupervisor,
  ) {
    this.server = createNetServer({ pauseOnConnect: true }, (socket) => runtime.handSocket(socket));
  }

  listen(): Promise<{ host: string; port: number }> {
    return listenOn(this.server, this.address, "--http", "HTTP");
  }

  /** Stops accepting; connections already handed over are the runtime's to finish (500 ms at most here). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 500);
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

export class Readiness {
  private readonly server: HttpServer;

  constructor(
    private readonly address: string,
    isReady: () => boolean,
  ) {
    this.server = createHttpServer((_req, res) => {
      const ready = isReady();
      res.writeHead(ready ? 200 : 503, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
      res.end(ready ? "ready\n" : "not ready\n");
    });
  }

  listen(): Promise<{ host: string; port: number }> {
    return listenOn(this.server, this.address, "--ready", "readiness");
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}
