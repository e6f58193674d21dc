/**
 * A node inside a host app (issue 14): startNode in this test process, with its runtime a real
 * child process. Its options are checked before anything starts; one data directory takes one
 * node, in this process or another; the handle tells the host about swaps, crashes and
 * runtime restarts; a stop with swaps and calls in flight ends them with coded errors and
 * leaves a data directory the next node starts on with its state.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair, type FixpointError } from "../../loader/index.js";
import { startNode, type NodeEvents, type NodeHandle, type StartNodeOptions } from "../../devtool/embed/start-node.js";
import { createDataDir } from "../../devtool/node-admin.js";
import { connect } from "../../devtool/client/index.js";
import { signedModule } from "../helpers/modules.js";
import { runCli, startNode as startNodeProcess, tempDir } from "../helpers/processes.js";

const dev = generateKeyPair();
const newDir = () => createDataDir(join(tempDir(), "node"), { name: "embedded", authorize: [{ key: dev.publicKey, roles: ["dev", "observe"] }] });
const client = (node: NodeHandle) => connect({ host: "127.0.0.1", port: node.channel.port, identity: dev, timeoutMs: 20_000, checkNodeKey: () => {} });

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: FixpointError) => {
    assert.equal(err.code, code, err.message);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

test("startNode refuses bad options with CONFIG_INVALID naming the option and what it may be, and starts nothing", async () => {
  const dataDir = newDir();
  const cases: [unknown, RegExp][] = [
    [{ dataDir, lisen: "127.0.0.1:0" }, /unknown key "lisen" \(known keys: dataDir, listen,/],
    [{ dataDir, listen: "localhost" }, /"listen" must be "HOST:PORT"/],
    [{ dataDir, listen: 7420 }, /"listen" must be "HOST:PORT"/],
    [{ dataDir, mode: "prod" }, /"mode" must be dev or production/],
    [{ dataDir, moduleLimits: { cpuMs: 5 } }, /"moduleLimits\.cpuMs" must be an integer from 10 to 60000/],
    [{ dataDir, moduleLimits: { memoryMb: 1e6 } }, /"moduleLimits\.memoryMb" must be an integer from 8 to 4096/],
    [{ dataDir, limits: { maxConnections: 0 } }, /"maxConnections" must be at least 1/],
    [{ dataDir, capabilityTimeoutMs: "5s" }, /"capabilityTimeoutMs" must be an integer from 1 to 600000/],
    [{ dataDir, logger: console.log }, /"logger" must be an object with a log/],
    [{ dataDir, capabilities: { db: { query: "select 1" } } }, /"capabilities\.db\.query" must be a function, got string/],
    [{ dataDir, capabilities: { "my-db": { query: () => 1 } } }, /capability name "my-db" must be an identifier/],
    [{ dataDir, capabilities: { db: {} } }, /"capabilities\.db" grants no function/],
    [{ listen: "127.0.0.1:0" }, /missing "dataDir"/],
  ];
  for (const [options, message] of cases) await rejectsWith(startNode(options as StartNodeOptions), "CONFIG_INVALID", message);
  // Nothing started: the data directory is not held, and a good start on it works.
  assert.equal(existsSync(join(dataDir, "node.lock")), false);
  const node = await startNode({ dataDir, listen: "127.0.0.1:0" });
  await node.stop();
});

test("two nodes on one data directory in one process: the second is NODE_LOCKED, and the first serves on", async () => {
  const dataDir = newDir();
  const first = await startNode({ dataDir, listen: "127.0.0.1:0" });
  try {
    await rejectsWith(startNode({ dataDir, listen: "127.0.0.1:0" }), "NODE_LOCKED", /in use by a running node \(pid \d+\)/);
    assert.equal((await first.status()).name, "embedded");
  } finally {
    await first.stop();
  }
  // Free again once stopped.
  await (await startNode({ dataDir, listen: "127.0.0.1:0" })).stop();
});

test("two nodes on one data directory in two processes: NODE_LOCKED whichever starts second", async () => {
  const setup = await startNodeProcess();
  try {
    await rejectsWith(startNode({ dataDir: setup.dataDir, listen: "127.0.0.1:0" }), "NODE_LOCKED", new RegExp(`pid ${setup.child.pid}`));
  } finally {
    assert.equal(await setup.stop(), 0);
  }
  const embedded = await startNode({ dataDir: setup.dataDir, listen: "127.0.0.1:0" });
  try {
    const other = runCli("loader", ["start", "--data", setup.dataDir, "--listen", "127.0.0.1:0"]);
    assert.notEqual(other.status, 0);
    assert.match(other.stderr, /NODE_LOCKED/);
  } finally {
    await embedded.stop();
  }
});

test("the handle reports swaps, module crashes and runtime restarts as typed events, and every log entry", async () => {
  const node = await startNode({ dataDir: newDir(), listen: "127.0.0.1:0" });
  const seen: { [E in keyof NodeEvents]: NodeEvents[E][] } = { swap: [], crash: [], restart: [], log: [] };
  for (const event of Object.keys(seen) as (keyof NodeEvents)[]) node.on(event, ((e: unknown) => (seen[event] as unknown[]).push(e)) as never);
  const conn = await client(node);
  try {
    const source = `import { defineModule } from "fixpoint";
export default defineModule({ version: "2", limits: { memoryMb: 16, cpuMs: 30000 }, functions: { hog: () => { const a: number[][] = []; for (;;) a.push(new Array(16384).fill(a.length)); } } });`;
    const { bundle } = await signedModule("hog", source, dev);
    await conn.request("push", { bundle }, { timeoutMs: 30_000 });
    await until(() => seen.swap.length === 1, "a swap event");
    assert.deepEqual({ module: seen.swap[0]!.module, version: seen.swap[0]!.version }, { module: "hog", version: "2" });
    await conn.request("call", { module: "hog", fn: "hog", args: [] }).catch(() => {});
    await until(() => seen.crash.length === 1, "a crash event");
    assert.equal(seen.crash[0]!.module, "hog");
    assert.equal(seen.crash[0]!.code, "MODULE_MEMORY_LIMIT");
    assert.ok(seen.log.some((e) => e.event === "module.stopped"), "log entries reach on('log')");
    // The runtime: this process's child running runtime.js.
    const runtime = execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(process.pid)], { encoding: "utf8" }).split("\n").filter((l) => /runtime/.test(l)).map((l) => l.trim().split(" ")[0]);
    assert.equal(runtime.length, 1, `one runtime process: ${runtime.join(", ")}`);
    process.kill(Number(runtime[0]), "SIGKILL");
    await until(() => seen.restart.length === 1, "a restart event");
    assert.equal(seen.restart[0]!.signal, "SIGKILL");
  } finally {
    conn.close();
    await node.stop();
  }
});

async function until(ok: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const slowCounter = (version: string) => `import { defineModule } from "fixpoint";
export default defineModule({
  version: ${JSON.stringify(version)},
  state: { hits: 0 },
  functions: {
    hit: async (ctx) => { const n = ++ctx.state.hits; await new Promise((r) => setTimeout(r, 150)); return n; },
    hits: (ctx) => ctx.state.hits,
  },
});
`;

test("a host that stops its node while swaps and calls are in flight: each ends or fails with a code, and the next node starts on the data directory with the module and its state", { timeout: 120_000 }, async () => {
  const dataDir = newDir();
  const node = await startNode({ dataDir, listen: "127.0.0.1:0" });
  const conn = await client(node);
  const bundles = [];
  for (let i = 1; i <= 4; i++) bundles.push((await signedModule("slow", slowCounter(`v${i}`), dev)).bundle);
  await conn.request("push", { bundle: bundles[0]! }, { timeoutMs: 30_000 });
  const calls = Array.from({ length: 20 }, () => conn.request("call", { module: "slow", fn: "hit", args: [] }));
  const pushes = bundles.slice(1).map((bundle) => conn.request("push", { bundle }, { timeoutMs: 30_000 }));
  await new Promise((r) => setTimeout(r, 30));
  await node.stop();
  const outcomes = await Promise.allSettled([...calls, ...pushes]);
  for (const o of outcomes) {
    if (o.status === "rejected") assert.match((o.reason as FixpointError).code, /^(SHUTTING_DOWN|CHANNEL_CLOSED|RUNTIME_UNAVAILABLE|MODULE_STOPPED)$/, String(o.reason));
  }
  const hitsDone = outcomes.slice(0, calls.length).filter((o) => o.status === "fulfilled").length;
  // Nothing half-written: no temp file left in the store, no lock.
  const leftovers = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? leftovers(join(dir, e.name)) : /\.tmp|\.change/.test(e.name) ? [e.name] : []));
  assert.deepEqual(leftovers(dataDir), []);
  assert.equal(existsSync(join(dataDir, "node.lock")), false);

  const again = await startNode({ dataDir, listen: "127.0.0.1:0" });
  const conn2 = await client(again);
  try {
    const status = await again.status();
    const slow = status.modules.find((m) => m.name === "slow");
    assert.ok(slow !== undefined && slow.running, JSON.stringify(status.modules));
    assert.ok(["v1", "v2", "v3", "v4"].includes(String(slow.version)));
    const hits = ((await conn2.request("call", { module: "slow", fn: "hits", args: [] })) as { value: number }).value;
    assert.ok(hits >= hitsDone, `state kept: ${hits} hits after restart, ${hitsDone} calls answered before the stop`);
  } finally {
    conn2.close();
    await again.stop();
  }
});
