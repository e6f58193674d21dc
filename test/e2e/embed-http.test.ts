/**
 * A node's modules mounted in the host app's own HTTP server (issue 14): the node:http
 * listener and the web-standard fetch handler route "/NAME/..." below the mount point to module
 * NAME as the node's own --http does, and a client looping over the mounted path while the
 * module is pushed again and again sees no failed request.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { generateKeyPair } from "../../loader/index.js";
import { startNode, type NodeHandle } from "../../devtool/embed/start-node.js";
import { createDataDir } from "../../devtool/node-admin.js";
import { connect, type ClientConnection } from "../../devtool/client/index.js";
import { signedModule } from "../helpers/modules.js";
import { tempDir } from "../helpers/processes.js";

const dev = generateKeyPair();

const web = (version: string) => `import { defineModule } from "fixpoint";
export default defineModule({
  version: ${JSON.stringify(version)},
  state: { hits: 0 },
  http: async (request, ctx) => {
    const url = new URL(request.url);
    if (request.method === "POST") return new Response("echo " + (await request.text()), { status: 201, headers: { "x-module": "web" } });
    if (url.pathname.endsWith("/empty")) return new Response(null, { status: 204 });
    return new Response(${JSON.stringify(version)} + " " + url.pathname + url.search + " hits=" + ++ctx.state.hits);
  },
});
`;

describe("modules mounted in the host's server", () => {
  let node: NodeHandle;
  let conn: ClientConnection;
  let server: Server;
  let base: string;

  before(async () => {
    const dataDir = createDataDir(join(tempDir(), "node"), { authorize: [{ key: dev.publicKey, roles: ["dev", "observe"] }] });
    node = await startNode({ dataDir, listen: "127.0.0.1:0" });
    conn = await connect({ host: "127.0.0.1", port: node.channel.port, identity: dev, timeoutMs: 20_000, checkNodeKey: () => {} });
    await conn.request("push", { bundle: (await signedModule("web", web("v0"), dev)).bundle }, { timeoutMs: 30_000 });
    const modules = node.httpListener("/app");
    server = createServer((req, res) => {
      if (req.url?.startsWith("/app/")) return modules(req, res);
      res.end("the host's own page");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  after(async () => {
    conn?.close();
    await new Promise((r) => server?.close(r));
    await node?.stop();
  });

  test("the listener routes /app/NAME/... to module NAME with the mount point stripped, and leaves the host's other paths alone", async () => {
    const res = await fetch(`${base}/app/web/hello?x=1`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^v0 \/web\/hello\?x=1 hits=\d+$/);
    assert.equal(await (await fetch(`${base}/other`)).text(), "the host's own page");
    const posted = await fetch(`${base}/app/web/echo`, { method: "POST", body: "ping" });
    assert.equal(posted.status, 201);
    assert.equal(posted.headers.get("x-module"), "web");
    assert.equal(await posted.text(), "echo ping");
    const missing = await fetch(`${base}/app/nobody/here`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /no module serves \/nobody\/here/);
  });

  test("a body over the limit is 413, and the node serves on", async () => {
    const res = await fetch(`${base}/app/web/echo`, { method: "POST", body: new Uint8Array(9 * 1024 * 1024) });
    assert.equal(res.status, 413);
    assert.equal((await fetch(`${base}/app/web/ok`)).status, 200);
  });

  test("the fetch handler answers web-standard Requests the same way", async () => {
    const handler = node.fetchHandler("/app");
    const res = await handler(new Request("http://example.test/app/web/hi"));
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^v0 \/web\/hi hits=\d+$/);
    const posted = await handler(new Request("http://example.test/app/web/x", { method: "POST", body: "pong" }));
    assert.equal(await posted.text(), "echo pong");
    assert.equal((await handler(new Request("http://example.test/app/web/empty"))).status, 204);
    // Hono's app.mount strips the prefix itself: a handler with none sees the path as it is.
    assert.match(await (await node.fetchHandler()(new Request("http://h/web/bare"))).text(), /^v0 \/web\/bare /);
  });

  test("a client looping over the mounted path while the module is pushed again and again sees no failed request", { timeout: 120_000 }, async () => {
    const bundles = [];
    for (let i = 1; i <= 8; i++) bundles.push((await signedModule("web", web(`v${i}`), dev)).bundle);
    let stop = false;
    const failures: string[] = [];
    const versions = new Set<string>();
    let requests = 0;
    const loop = async () => {
      while (!stop) {
        try {
          const res = await fetch(`${base}/app/web/loop`);
          const text = await res.text();
          requests++;
          if (res.status !== 200) failures.push(`${res.status} ${text}`);
          else versions.add(text.split(" ")[0]!);
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const loops = [loop(), loop()];
    for (const bundle of bundles) await conn.request("push", { bundle }, { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(loops);
    assert.deepEqual(failures, []);
    assert.ok(versions.has("v8"), `saw ${[...versions].join(", ")} in ${requests} requests`);
  });

  test("requests reaching a stopping node get 503 SHUTTING_DOWN", async () => {
    const dataDir = createDataDir(join(tempDir(), "node"));
    const other = await startNode({ dataDir, listen: "127.0.0.1:0" });
    const handler = other.fetchHandler();
    await other.stop();
    const res = await handler(new Request("http://h/web/x"));
    assert.equal(res.status, 503);
    assert.match(await res.text(), /^SHUTTING_DOWN/);
  });
});
