/**
 * The dev loop as a developer runs it, with real processes: `devtool push --watch` swapping a
 * module on every save with its state kept, `devtool logs`, and `devtool dev` with its embedded
 * local node serving the example app over HTTP.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatIdentity, formatPublicKeyLine } from "../../loader/index.js";
import { ROOT, runCli, spawnCli, startNode, tempDir } from "../helpers/processes.js";

const page = (version: string) => `import { defineModule } from "fixpoint";
export default defineModule({
  version: "${version}",
  state: { hits: 0 },
  functions: { shout: (ctx, what: string) => { console.log("shouting", what); return what.toUpperCase(); } },
  http: (request, ctx) => new Response("${version} hits=" + ++ctx.state.hits),
});
`;

async function get(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return res.text();
}

async function until<T>(what: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await what();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting; last: ${String(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function projectFor(node: { port: number; nodeKey: Uint8Array; dev: Parameters<typeof formatIdentity>[0] }) {
  const dir = tempDir("fixpoint-devloop-");
  const home = join(dir, "home");
  mkdirSync(home);
  writeFileSync(join(home, "id_ed25519"), formatIdentity(node.dev), { mode: 0o600 });
  writeFileSync(join(dir, "fixpoint.json"), JSON.stringify({ modules: ["index.ts"], nodes: [{ name: "n1", address: `127.0.0.1:${node.port}`, key: formatPublicKeyLine(node.nodeKey) }] }));
  return { dir, env: { FIXPOINT_HOME: home, FIXPOINT_IDENTITY: "" } };
}

test("push --watch swaps the module on every save, keeps its state, and survives a build error", { timeout: 90_000 }, async () => {
  const node = await startNode({ args: ["--http", "127.0.0.1:0"] });
  const http = String((await node.waitForLog("node.started"))["http"]);
  const { dir, env } = projectFor(node);
  writeFileSync(join(dir, "index.ts"), page("v1"));
  const watch = spawnCli("devtool", ["push", "--watch"], { cwd: dir, env });
  try {
    await watch.waitFor(/watching 1 module/);
    assert.equal(await get(`http://${http}/`), "v1 hits=1");
    for (const version of ["v2", "v3", "v4"]) {
      writeFileSync(join(dir, "index.ts"), page(version));
      const body = await until(() => get(`http://${http}/`), (b) => b.startsWith(version));
      assert.match(body, new RegExp(`^${version} hits=\\d+$`));
    }
    // The counter went on across the swaps: 1 + at least one request per version.
    const hits = Number((await get(`http://${http}/`)).split("=")[1]);
    assert.ok(hits >= 5, `hits kept counting: ${hits}`);
    writeFileSync(join(dir, "index.ts"), "export default 1 +;\n");
    await watch.waitFor(/build failed[\s\S]*index\.ts:1:/);
    assert.match(await get(`http://${http}/`), /^v4 hits=/);
    assert.match(watch.output().stdout, /n1 +index +[0-9a-f]{12} +live vv4/);
  } finally {
    assert.equal(await watch.stop(), 0);
    await node.stop();
  }
});

test("devtool logs shows module console output, and --follow streams it", { timeout: 90_000 }, async () => {
  const node = await startNode();
  const { dir, env } = projectFor(node);
  writeFileSync(join(dir, "index.ts"), page("v1"));
  try {
    assert.equal(runCli("devtool", ["push"], { cwd: dir, env }).status, 0);
    const follow = spawnCli("devtool", ["logs", "--follow", "--lines", "0"], { cwd: dir, env });
    await new Promise((r) => setTimeout(r, 300));
    const call = runCli("devtool", ["call", "index", "shout", '"hey"'], { cwd: dir, env });
    assert.equal(call.status, 0, call.stderr);
    assert.equal(call.stdout.trim(), '"HEY"');
    await follow.waitFor(/n1 info +\[index\] shouting hey/);
    assert.equal(await follow.stop(), 0);
    const recent = runCli("devtool", ["logs", "--lines", "20"], { cwd: dir, env });
    assert.equal(recent.status, 0, recent.stderr);
    assert.match(recent.stdout, /\[index\] shouting hey/);
    assert.match(recent.stdout, /module\.pushed/);
  } finally {
    await node.stop();
  }
});

test("devtool status shows each module's health check: healthy, failing with its detail, throwing, or too slow", { timeout: 90_000 }, async () => {
  const node = await startNode();
  const { dir, env } = projectFor(node);
  const withHealth = (check: string) => `import { defineModule } from "fixpoint";
export default defineModule({ version: "1", state: { up: true }, functions: { down: (ctx) => { ctx.state.up = false; } }, health: ${check} });
`;
  writeFileSync(join(dir, "good.ts"), withHealth(`(ctx) => ctx.state.up ? true : { ok: false, detail: "switched off" }`));
  writeFileSync(join(dir, "thrower.ts"), withHealth(`() => { throw new Error("db unreachable"); }`));
  writeFileSync(join(dir, "slow.ts"), withHealth(`() => new Promise(() => {})`));
  writeFileSync(join(dir, "plain.ts"), `import { defineModule } from "fixpoint";\nexport default defineModule({ version: "1", state: {} });\n`);
  try {
    const push = runCli("devtool", ["push", "good.ts", "thrower.ts", "slow.ts", "plain.ts"], { cwd: dir, env });
    assert.equal(push.status, 0, push.stderr);
    const healthOf = () => {
      const status = runCli("devtool", ["status", "--json"], { cwd: dir, env });
      assert.equal(status.status, 0, status.stderr);
      const modules = (JSON.parse(status.stdout) as { modules: { name: string; health?: { ok: boolean; detail?: string } }[] }).modules;
      return Object.fromEntries(modules.map((m) => [m.name, m.health]));
    };
    const first = healthOf();
    assert.deepEqual(first["good"], { ok: true });
    assert.equal(first["plain"], undefined);
    assert.equal(first["thrower"]?.ok, false);
    assert.match(first["thrower"]?.detail ?? "", /MODULE_ERROR: .*db unreachable/);
    assert.deepEqual(first["slow"], { ok: false, detail: "the health check did not answer within 1000 ms" });
    assert.equal(runCli("devtool", ["call", "good", "down"], { cwd: dir, env }).status, 0);
    assert.deepEqual(healthOf()["good"], { ok: false, detail: "switched off" });
    const text = runCli("devtool", ["status"], { cwd: dir, env }).stdout;
    assert.match(text, /good .* v1 live, UNHEALTHY \(switched off\)/);
  } finally {
    await node.stop();
  }
});

test("devtool dev runs the example app on an embedded node: edit, and the same URL shows the change with the counter still counting", { timeout: 90_000 }, async () => {
  const app = join(tempDir("fixpoint-example-"), "app");
  cpSync(join(ROOT, "examples"), app, { recursive: true, filter: (src) => !src.includes(".fixpoint") });
  const dev = spawnCli("devtool", ["dev", app, "--http", "127.0.0.1:0"], { env: { FIXPOINT_HOME: tempDir() } });
  try {
    const url = (await dev.waitFor(/(http:\/\/127\.0\.0\.1:\d+\/)/))[1]!;
    assert.match(await get(`${url}?name=Ada`), /^Hello, Ada!\nhits: 1 since .*\nversion: 1\n$/);
    assert.match(await get(url), /hits: 2 /);
    const source = join(app, "index.ts");
    const { readFileSync } = await import("node:fs");
    writeFileSync(source, readFileSync(source, "utf8").replace('const VERSION = "1";', 'const VERSION = "2";'));
    const body = await until(() => get(url), (b) => b.includes("version: 2"));
    assert.match(body, /hits: [3-9]\d* /);
    await dev.waitFor(/\[index\] state handed over from version 1 to 2/);
    // A second terminal in the project reaches the same node, with nothing configured.
    const env = { FIXPOINT_HOME: tempDir() };
    const repl = runCli("devtool", ["repl", "--module", "index", "--eval", "state.hits > 2"], { cwd: app, env });
    assert.equal(repl.status, 0, repl.stderr);
    assert.equal(repl.stdout.trim(), "true");
    const status = runCli("devtool", ["status", "--json"], { cwd: app, env });
    assert.equal(status.status, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { node: string }).node, "local");
    assert.equal(await dev.stop("SIGINT"), 0);
    const after = runCli("devtool", ["status"], { cwd: app, env });
    assert.equal(after.status, 2, "once dev has stopped there is no node to talk to");
    assert.match(after.stderr, /lists no nodes/);
  } finally {
    await dev.stop("SIGKILL");
  }
});

test("HTTP bodies reach the client byte for byte, small and large, with their status and headers", { timeout: 60_000 }, async () => {
  const node = await startNode({ args: ["--http", "127.0.0.1:0"] });
  const http = String((await node.waitForLog("node.started"))["http"]);
  const { dir, env } = projectFor(node);
  writeFileSync(
    join(dir, "bytes.ts"),
    `import { defineModule } from "fixpoint";
export default defineModule({ state: {}, http: (request) => {
  const n = Number(new URL(request.url).searchParams.get("n"));
  const body = new Uint8Array(n).map((_, i) => (i * 7) % 256);
  return new Response(body, { status: 203, headers: { "content-type": "application/octet-stream", "x-n": String(n) } });
} });
`,
  );
  try {
    assert.equal(runCli("devtool", ["push", "bytes.ts"], { cwd: dir, env }).status, 0);
    for (const n of [0, 1, 256, 16 * 1024, 16 * 1024 + 1, 300_000]) {
      const res = await fetch(`http://${http}/bytes?n=${n}`, { signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 203);
      assert.equal(res.headers.get("x-n"), String(n));
      const got = new Uint8Array(await res.arrayBuffer());
      assert.equal(got.length, n);
      assert.ok(got.every((b, i) => b === (i * 7) % 256), `every byte of ${n} as sent`);
    }
  } finally {
    await node.stop();
  }
});
