/**
 * The one app the upgrade benchmark serves, three ways: ten Fixpoint modules, or the same ten
 * counters and records in one plain node:http server (run under PM2 and as a plain process).
 * Every module (or path) `mK` answers
 *
 *   GET /mK/          "<version> hits=<n>"    one more hit (the steady traffic)
 *   GET /mK/count     "<hits> <items>"        reads without counting (the state check)
 *   GET /mK/fill/N    "filled N"              replaces the module's records with N of them
 *
 * The records are small objects, not one big string, so that saving and restoring them costs
 * what a real module's state would (a string of 1 MB is one memcpy to save).
 */
import { stateToBytes } from "../../runtime/host/state-codec.js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export const MODULES = Array.from({ length: 10 }, (_, i) => `m${i}`);

/** The records of one module; the same expression runs in the isolate and in the plain server. */
const MAKE_ITEMS = `(n) => Array.from({ length: n }, (_, i) => ({ id: i, name: "item-" + i, tags: ["t" + (i % 7), "u" + (i % 13)], score: i / 3 }))`;

type Item = { id: number; name: string; tags: string[]; score: number };
// The one definition both apps use, also run here to size the state.
const makeItems = new Function(`return ${MAKE_ITEMS}`)() as (n: number) => Item[];

/**
 * How many records each of `modules` modules holds for `totalBytes` of state in all, as the
 * runtime writes it to disk (runtime/host/state-codec.ts: JSON text for plain data like this),
 * and the size of one module's state at that count.
 */
export function itemsFor(totalBytes: number, modules = MODULES.length): { items: number; bytesPerModule: number } {
  const probe = 10_000;
  const size = (n: number) => stateToBytes("probe", { json: JSON.stringify({ hits: 0, items: makeItems(n) }) }, Infinity).length;
  const perItem = size(probe) / probe;
  const items = Math.round(totalBytes / modules / perItem);
  return { items, bytesPerModule: size(items) };
}

/** Module `name` at `version` (no migrate hook: the state passes through unchanged). */
export function moduleSource(name: string, version: string): string {
  return `import { defineModule } from "fixpoint";

const VERSION = ${JSON.stringify(`${name}-${version}`)};
const makeItems = ${MAKE_ITEMS};

export default defineModule({
  version: VERSION,
  state: { hits: 0, items: [] as { id: number; name: string; tags: string[]; score: number }[] },
  http: (request, ctx) => {
    const fill = /\\/fill\\/(\\d+)$/.exec(request.url);
    if (fill !== null) {
      ctx.state.items = makeItems(Number(fill[1]));
      return new Response("filled " + ctx.state.items.length);
    }
    if (request.url.endsWith("/count")) return new Response(ctx.state.hits + " " + ctx.state.items.length);
    return new Response(VERSION + " hits=" + ++ctx.state.hits, { headers: { "content-type": "text/plain" } });
  },
});
`;
}

/**
 * The same app as one plain node:http server on $PORT (CommonJS), with the graceful stop a
 * careful operator gives a server under PM2 (its docs: handle SIGINT, close the server, exit):
 * the listening socket closes, idle keep-alive connections close, requests in flight finish.
 */
export function plainServerSource(version: string): string {
  return `const VERSION = ${JSON.stringify(version)};
const makeItems = ${MAKE_ITEMS};
const modules = new Map(${JSON.stringify(MODULES)}.map((name) => [name, { hits: 0, items: [] }]));
const server = require("node:http").createServer((req, res) => {
  const [, name, rest = ""] = /^\\/([^/]+)\\/?(.*)$/.exec(req.url) ?? [];
  const state = modules.get(name);
  let body;
  if (state === undefined) {
    res.writeHead(404);
    return res.end("no such module");
  }
  const fill = /^fill\\/(\\d+)$/.exec(rest);
  if (fill !== null) {
    state.items = makeItems(Number(fill[1]));
    body = "filled " + state.items.length;
  } else if (rest === "count") body = state.hits + " " + state.items.length;
  else body = name + "-" + VERSION + " hits=" + ++state.hits;
  res.writeHead(200, { "content-type": "text/plain" });
  res.end(body);
});
server.listen(Number(process.env.PORT), "127.0.0.1");
const stop = () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 1500).unref();
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
`;
}

/** Writes server.js (and a package.json making the folder CommonJS) into `dir`. */
export function writePlainApp(dir: string, version: string): string {
  writeFileSync(join(dir, "package.json"), '{ "type": "commonjs" }\n');
  const file = join(dir, "server.js");
  writeFileSync(file, plainServerSource(version));
  return file;
}

/** Parses `"<module>-<version> hits=<n>"`; null for anything else. */
export function parseHit(body: string): { module: string; version: string; hits: number } | null {
  const m = /^(m\d+)-(\S+) hits=(\d+)$/.exec(body);
  return m === null ? null : { module: m[1]!, version: m[2]!, hits: Number(m[3]) };
}
