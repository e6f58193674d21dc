/**
 * The node's HTTP socket. The loader owns it, so it stays open while the runtime restarts
 * (clients wait instead of failing); each accepted connection is handed, unread, to the
 * runtime process, which parses and answers it (runtime/http/server.ts). No request byte
 * passes through the loader.
 */
import { createServer, type Server } from "node:net";
import { FixpointError } from "../protocol/errors.js";
import { parseHostPort } from "./config.js";
import type { RuntimeSupervisor } from "../supervisor/runtime-supervisor.js";

export class HttpFront {
  private readonly server: Server;

  constructor(
    private readonly address: string,
    runtime: RuntimeSupervisor,
  ) {
    this.server = createServer({ pauseOnConnect: true }, (socket) => runtime.handSocket(socket));
  }

  listen(): Promise<{ host: string; port: number }> {
    const hp = parseHostPort(this.address);
    if (hp === null) return Promise.reject(new FixpointError("CONFIG_INVALID", `--http must be HOST:PORT, got "${this.address}"`));
    return new Promise((resolve, reject) => {
      this.server.once("error", (err: NodeJS.ErrnoException) =>
        reject(new FixpointError("CONFIG_INVALID", `cannot serve HTTP on ${this.address} (${err.code ?? err.message}); pass another --http HOST:PORT`)),
      );
      this.server.listen({ host: hp.host, port: hp.port }, () => {
        const a = this.server.address();
        if (a === null || typeof a === "string") throw new FixpointError("INTERNAL", "no HTTP address after listen");
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /**
   * Stops accepting. Does not wait for connections: those were handed to the runtime, and
   * net.Server's count of them is not a thing to block a shutdown on.
   */
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
