/**
 * The readiness endpoint, for load balancers, systemd and Kubernetes probes: GET on its own
 * port answers 200 "ready" while the node serves, 503 "not ready" from a guarded restart's
 * drain to its commit (or the end of its rollback). Its own port, because the HTTP port's
 * connections go unread to the runtime, which is exactly what is replaced during a restart.
 */
import { createServer, type Server } from "node:http";
import { FixpointError } from "../protocol/errors.js";
import { parseHostPort } from "./config.js";

export class Readiness {
  private readonly server: Server;

  constructor(
    private readonly address: string,
    isReady: () => boolean,
  ) {
    this.server = createServer((req, res) => {
      const ready = isReady();
      res.writeHead(ready ? 200 : 503, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
      res.end(ready ? "ready\n" : "not ready\n");
    });
  }

  listen(): Promise<{ host: string; port: number }> {
    const hp = parseHostPort(this.address);
    if (hp === null) return Promise.reject(new FixpointError("CONFIG_INVALID", `--ready must be HOST:PORT, got "${this.address}"`));
    return new Promise((resolve, reject) => {
      this.server.once("error", (err: NodeJS.ErrnoException) => reject(new FixpointError("CONFIG_INVALID", `cannot serve readiness on ${this.address} (${err.code ?? err.message}); pass another --ready HOST:PORT`)));
      this.server.listen({ host: hp.host, port: hp.port }, () => {
        const a = this.server.address();
        if (a === null || typeof a === "string") return reject(new FixpointError("INTERNAL", "no readiness address after listen"));
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}
