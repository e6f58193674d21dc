/**
 * A node's modules mounted in a host app's own HTTP server (issue 14): a node:http or Express
 * request listener, and a web-standard fetch handler (Hono, or anything taking
 * `(request: Request) => Promise<Response>`). Each request crosses to the runtime process over
 * its IPC and is routed there exactly as the node's own --http routes it (one definition,
 * runtime/http/server.ts), with the path below the mount point: "/app/counter/hit" mounted on
 * "/app" reaches module counter as "/counter/hit". While the runtime restarts a request waits
 * (the supervisor holds it), so a swap or a guarded restart fails none.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { FixpointError, toFixpointError } from "../../loader/protocol/errors.js";
import { MAX_HTTP_BODY_BYTES, type HttpWireRequest, type HttpWireResponse } from "../../loader/protocol/runtime-ipc.js";

type Answer = (path: string, request: HttpWireRequest) => Promise<HttpWireResponse>;

/** The path below `prefix`, or null when the request is not under it. */
function below(url: string, prefix: string): string | null {
  if (prefix === "" || prefix === "/") return url.startsWith("/") ? url : `/${url}`;
  if (!url.startsWith(prefix)) return null;
  const rest = url.slice(prefix.length);
  return rest === "" || rest.startsWith("?") ? `/${rest}` : rest.startsWith("/") ? rest : null;
}

function failure(err: unknown): HttpWireResponse {
  const e = toFixpointError(err);
  const status = e.code === "ARGUMENTS_INVALID" ? 413 : e.code === "RUNTIME_UNAVAILABLE" || e.code === "SHUTTING_DOWN" ? 503 : e.code === "USAGE" ? 404 : 500;
  return { status, statusText: "", headers: [["content-type", "text/plain; charset=utf-8"]], body: Buffer.from(`${e.code}: ${e.message}\n`) };
}

const tooLarge = () => new FixpointError("ARGUMENTS_INVALID", `request body over ${MAX_HTTP_BODY_BYTES} bytes`);

async function readBounded(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array | null> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.length;
    if (size > MAX_HTTP_BODY_BYTES) throw tooLarge();
    parts.push(chunk);
  }
  return size === 0 ? null : Buffer.concat(parts, size);
}

export function hostHttp(answer: Answer, stopping: () => boolean) {
  const serve = async (url: string, prefix: string, origin: string, request: () => Promise<HttpWireRequest>): Promise<HttpWireResponse> => {
    try {
      if (stopping()) throw new FixpointError("SHUTTING_DOWN", "the node is stopping");
      const path = below(url, prefix);
      if (path === null) throw new FixpointError("USAGE", `${url} is not under the node's mount point ${prefix}`);
      return await answer(path, { ...(await request()), url: `${origin}${path}` });
    } catch (err) {
      return failure(err);
    }
  };
  return {
    /**
     * A request listener for node:http, or Express's `app.use(prefix, …)` (which strips the
     * prefix itself: mount it with none). A body Express's parsers consumed already is gone.
     */
    listener(prefix = ""): (req: IncomingMessage, res: ServerResponse) => void {
      return (req, res) => {
        const request = async (): Promise<HttpWireRequest> => {
          const headers: [string, string][] = [];
          for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
          if (Number(req.headers["content-length"] ?? 0) > MAX_HTTP_BODY_BYTES) throw tooLarge();
          const body = req.method === "GET" || req.method === "HEAD" ? (req.resume(), null) : await readBounded(req);
          return { method: req.method ?? "GET", url: "", headers, body };
        };
        void serve(req.url ?? "/", prefix, `http://${req.headers.host ?? "localhost"}`, request).then((r) => {
          if (res.headersSent) return void res.destroy();
          res.writeHead(r.status, r.statusText, r.headers).end(r.body);
        });
      };
    },
    /** A web-standard handler: `app.mount("/app", node.fetchHandler())` in Hono (which strips the prefix), or `fetchHandler("/app")`. */
    fetchHandler(prefix = ""): (request: Request) => Promise<Response> {
      return async (req) => {
        const url = new URL(req.url);
        const request = async (): Promise<HttpWireRequest> => {
          if (Number(req.headers.get("content-length") ?? 0) > MAX_HTTP_BODY_BYTES) throw tooLarge();
          const body = req.body === null ? null : await readBounded(req.body as unknown as AsyncIterable<Uint8Array>);
          const headers: [string, string][] = [];
          req.headers.forEach((value, key) => headers.push([key, value]));
          return { method: req.method, url: "", headers, body };
        };
        const r = await serve(url.pathname + url.search, prefix, url.origin, request);
        // A Response refuses a body with these statuses, even an empty one.
        const empty = [101, 103, 204, 205, 304].includes(r.status);
        return new Response(empty ? null : (r.body as Uint8Array<ArrayBuffer>), { status: r.status, ...(r.statusText === "" ? {} : { statusText: r.statusText }), headers: r.headers });
      };
    },
  };
}
