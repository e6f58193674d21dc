/**
 * The one app every peer serves: a hit counter kept in memory, answered with a version
 * string, `"<version> hits=<n>"`. For Fixpoint it is a module (state in `ctx.state`); for
 * `node --watch` and nodemon it is a plain node:http server (state in a variable). An edit
 * changes only the version string.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** The Fixpoint module: also has functions, for the calls/s measurement. */
export function moduleSource(version: string): string {
  return `import { defineModule } from "fixpoint";

const VERSION = ${JSON.stringify(version)};

export default defineModule({
  version: VERSION,
  state: { hits: 0 },
  functions: {
    hit: (ctx) => ++ctx.state.hits,
  },
  http: (_request, ctx) => new Response(VERSION + " hits=" + ++ctx.state.hits, { headers: { "content-type": "text/plain" } }),
});
`;
}

/**
 * A folder for the plain app: server.js with `version`, and a package.json that makes it
 * CommonJS whatever the folders above it say (the bench works inside this repository).
 */
export function writePlainApp(dir: string, version: string): string {
  writeFileSync(join(dir, "package.json"), '{ "type": "commonjs" }\n');
  const file = join(dir, "server.js");
  writeSource(file, plainServerSource(version));
  return file;
}

/** The same app as a plain node:http server on $PORT (CommonJS). */
export function plainServerSource(version: string): string {
  return `const VERSION = ${JSON.stringify(version)};
let hits = 0;
require("node:http")
  .createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(VERSION + " hits=" + ++hits);
  })
  .listen(Number(process.env.PORT), "127.0.0.1");
`;
}

/**
 * Writes the whole file with one writeFileSync (one write(2) for these few hundred bytes).
 * Not temp + rename: Node 20's `node --watch` watches the file's inode and stops seeing a
 * file replaced by rename (tried on this machine: the second rename is never noticed), so
 * the one method all three peers follow is an in-place write.
 */
export function writeSource(file: string, text: string): void {
  writeFileSync(file, text);
}

export interface Answer {
  version: string;
  hits: number;
}

/** Parses `"<version> hits=<n>"`; null for anything else. */
export function parseAnswer(body: string): Answer | null {
  const m = /^(\S+) hits=(\d+)$/.exec(body);
  return m === null ? null : { version: m[1]!, hits: Number(m[2]) };
}
