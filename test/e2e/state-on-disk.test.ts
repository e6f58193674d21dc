/**
 * Module states survive the loader (issue 10): saved to the data directory after each swap,
 * every second while they change and on an orderly stop; a node started again on its data
 * directory brings every module back on its current version with its last saved state. A
 * damaged save is reported and never read as an empty state; a state too large to save is
 * refused before a swap commits.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hasCode, type KeyPair } from "../../loader/index.js";
import { type ClientConnection } from "../../devtool/client/index.js";
import { signedModule } from "../helpers/modules.js";
import { flushedSnapshot, runCli, startNode, type NodeProcess } from "../helpers/processes.js";

/** A module counting hits, labelled `marker`; `extra` goes into its definition. */
function counter(marker: string, extra = ""): string {
  return `import { defineModule } from "fixpoint";
export default defineModule({
  version: ${JSON.stringify(marker)},
  state: { hits: 0 },
  ${extra}
  functions: { hit: (ctx) => ++ctx.state.hits, hits: (ctx) => ctx.state.hits, version: () => ${JSON.stringify(marker)} },
});
`;
}

async function push(conn: ClientConnection, name: string, source: string, key: KeyPair) {
  const { bundle, manifest } = await signedModule(name, source, key);
  await conn.request("push", { bundle });
  return manifest.digest;
}

const call = async (conn: ClientConnection, module: string, fn: string) => (await conn.request("call", { module, fn, args: [] })).value;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function storeTable(node: NodeProcess): Record<string, string> {
  const table = JSON.parse(readFileSync(join(node.dataDir, "store", "modules.json"), "utf8")) as { modules: Record<string, { digest: string }> };
  return Object.fromEntries(Object.entries(table.modules).map(([name, e]) => [name, e.digest]));
}

test("a node stopped with SIGTERM and started again has every module on its version with its state", async () => {
  const node = await startNode();
  let conn = await node.connect();
  const counterDigest = await push(conn, "counter", counter("c-v1"), node.dev);
  await push(conn, "other", counter("o-v1"), node.dev);
  for (let i = 0; i < 5; i++) await call(conn, "counter", "hit");
  await call(conn, "other", "hit");
  conn.close();
  assert.equal(await node.stop(), 0);

  const again = await startNode({ dataDir: node.dataDir, dev: node.dev });
  try {
    conn = await again.connect();
    assert.equal(await call(conn, "counter", "hits"), 5, "changes made just before the stop were saved by the stop");
    assert.equal(await call(conn, "other", "hits"), 1);
    const status = await conn.request("status", {});
    const m = status.modules.find((x) => x.name === "counter")!;
    assert.equal(m.digest, counterDigest);
    assert.equal(m.status, "current");
    assert.equal(m.running, true);
    assert.ok(m.state !== undefined && m.state.bytes > 0, "status shows the saved state");
    conn.close();
  } finally {
    assert.equal(await again.stop(), 0);
  }
});

test("a node started again takes each saved state as it is: no module's state is written again until its code runs", async () => {
  const node = await startNode();
  let conn = await node.connect();
  await push(conn, "counter", counter("c-v1"), node.dev);
  for (let i = 0; i < 3; i++) await call(conn, "counter", "hit");
  conn.close();
  assert.equal(await node.stop(), 0);
  const saves = () => readdirSync(join(node.dataDir, "store", "states", "counter")).sort();
  const before = saves();

  const again = await startNode({ dataDir: node.dataDir, dev: node.dev });
  try {
    conn = await again.connect();
    // Three snapshot ticks with no code run: the restored bytes are the saved ones.
    await sleep(3500);
    assert.deepEqual(saves(), before, "a restore is not saved again");
    assert.equal(await call(conn, "counter", "hit"), 4);
    conn.close();
  } finally {
    assert.equal(await again.stop(), 0);
  }
  assert.notDeepEqual(saves(), before, "a change after the restore is saved (here by the stop)");
});

test("after kill -9 of the loader a node comes back with the state of its last snapshot", async () => {
  const node = await startNode();
  let conn = await node.connect();
  await push(conn, "counter", counter("c-v1"), node.dev);
  for (let i = 0; i < 3; i++) await call(conn, "counter", "hit");
  await sleep(1600); // one periodic snapshot at least
  await node.kill();

  const again = await startNode({ dataDir: node.dataDir, dev: node.dev });
  try {
    conn = await again.connect();
    assert.equal(await call(conn, "counter", "hits"), 3);
    conn.close();
  } finally {
    assert.equal(await again.stop(), 0);
  }
});

test("a damaged newest save falls back to the one before; with every save damaged the module is not started and status says why", async () => {
  const node = await startNode();
  let conn = await node.connect();
  await push(conn, "counter", counter("c-v1"), node.dev);
  await push(conn, "other", counter("o-v1"), node.dev);
  await call(conn, "counter", "hit");
  await sleep(1500);
  await call(conn, "counter", "hit");
  await call(conn, "other", "hit");
  conn.close();
  assert.equal(await node.stop(), 0);

  const dir = join(node.dataDir, "store", "states", "counter");
  const saves = readdirSync(dir).sort((a, b) => parseInt(b) - parseInt(a));
  assert.equal(saves.length, 2, `two saves kept: ${saves.join(", ")}`);
  const newest = join(dir, saves[0]!);
  writeFileSync(newest, readFileSync(newest).subarray(0, 30)); // truncated

  let again = await startNode({ dataDir: node.dataDir, dev: node.dev });
  try {
    const problem = await again.waitForLog("state.corrupt");
    assert.equal(problem["code"], "STATE_CORRUPT");
    assert.equal(problem["file"], newest);
    conn = await again.connect();
    assert.equal(await call(conn, "counter", "hits"), 1, "the save before the damaged one");
    conn.close();
  } finally {
    assert.equal(await again.stop(), 0);
  }

  // Every save damaged: a bit flipped in one, the other replaced by another module's.
  for (const f of readdirSync(dir)) {
    const bytes = readFileSync(join(dir, f));
    bytes[bytes.length - 40] = bytes[bytes.length - 40]! ^ 0x10;
    writeFileSync(join(dir, f), bytes);
  }
  const otherDir = join(node.dataDir, "store", "states", "other");
  writeFileSync(join(dir, "99.state"), readFileSync(join(otherDir, readdirSync(otherDir)[0]!)));
  again = await startNode({ dataDir: node.dataDir, dev: node.dev });
  try {
    conn = await again.connect();
    const status = await conn.request("status", {});
    const m = status.modules.find((x) => x.name === "counter")!;
    assert.equal(m.running, false);
    assert.equal(m.status, "failed");
    assert.equal(m.error?.code, "STATE_CORRUPT");
    assert.match(m.error?.message ?? "", /remove those files/);
    await assert.rejects(conn.request("call", { module: "counter", fn: "hits", args: [] }), (err: unknown) => hasCode(err, "MODULE_NOT_FOUND"));
    // A push does not reset it either: the state is not silently lost.
    await assert.rejects(push(conn, "counter", counter("c-v2"), again.dev), (err: unknown) => hasCode(err, "STATE_CORRUPT"));
    assert.equal(await call(conn, "other", "hits"), 1, "the other module runs with its state");
    conn.close();
  } finally {
    assert.equal(await again.stop(), 0);
  }
});

test("a migration to a state too large for the limit is refused with STATE_TOO_LARGE and the old version serves on with its state", async () => {
  const node = await startNode({ args: ["--max-state-mb", "1"] });
  try {
    const conn = await node.connect();
    const v1 = await push(conn, "counter", counter("c-v1"), node.dev);
    await call(conn, "counter", "hit");
    await call(conn, "counter", "hit");
    // Cheap to build, huge once copied: a rope string stays small until something flattens it.
    const big = counter("c-v2", `migrate: (old) => ({ ...old, blob: "x".repeat(5_000_000) }),`);
    await assert.rejects(push(conn, "counter", big, node.dev), (err: unknown) => hasCode(err, "STATE_TOO_LARGE") && /1048576/.test((err as Error).message));
    const fn = counter("c-v3", `migrate: (old) => ({ ...old, f: () => 1 }),`);
    await assert.rejects(push(conn, "counter", fn, node.dev), (err: unknown) => hasCode(err, "STATE_NOT_COPYABLE"));
    assert.equal(await call(conn, "counter", "version"), "c-v1");
    assert.equal(await call(conn, "counter", "hits"), 2);
    await flushedSnapshot(node, conn); // the table on disk follows pushes at the next snapshot
    assert.deepEqual(storeTable(node), { counter: v1 });
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }

  // And across a restart, still the old version with its state.
  const again = await startNode({ dataDir: node.dataDir, dev: node.dev });
  try {
    const conn = await again.connect();
    assert.equal(await call(conn, "counter", "version"), "c-v1");
    assert.equal(await call(conn, "counter", "hits"), 2);
    conn.close();
  } finally {
    assert.equal(await again.stop(), 0);
  }
});

test("a state far larger than the module's memory once flattened never replaces the old version's", async () => {
  const node = await startNode();
  try {
    const conn = await node.connect();
    await push(conn, "counter", counter("c-v1"), node.dev);
    await call(conn, "counter", "hit");
    // Saved: should the copy take the runtime down, the restart restores this (at most the last
    // second of changes is lost when the runtime dies, as for any crash).
    await sleep(1200);
    const huge = counter("c-v2", `migrate: (old) => ({ ...old, blob: "x".repeat(400_000_000) }),`);
    // Here the flattening copy takes the runtime process down (RUNTIME_UNAVAILABLE); a smaller
    // one is refused by the isolate's memory limit or the state limit.
    await assert.rejects(push(conn, "counter", huge, node.dev), (err: unknown) =>
      ["STATE_TOO_LARGE", "MODULE_MEMORY_LIMIT", "RUNTIME_UNAVAILABLE"].includes((err as { code: string }).code),
    );
    await sleep(1200); // a periodic snapshot, and a runtime restart if the copy took it down
    assert.equal(await call(conn, "counter", "version"), "c-v1");
    assert.equal(await call(conn, "counter", "hits"), 1);
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});

test("a second node on a data directory in use is refused with NODE_LOCKED", async () => {
  const node = await startNode();
  try {
    const second = runCli("loader", ["start", "--data", node.dataDir, "--listen", "127.0.0.1:0"]);
    assert.equal(second.status, 2);
    assert.match(second.stderr, /NODE_LOCKED/);
    assert.match(second.stderr, new RegExp(`pid ${node.child.pid}`));
    const conn = await node.connect();
    assert.equal((await conn.request("status", {})).name, "test-node", "the first node serves on");
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});

/** Status, the store's table and the runtime agree on every module, each on one whole version. */
async function assertAgree(node: NodeProcess, conn: ClientConnection, markers: Map<string, string>) {
  const status = await conn.request("status", {});
  const table = storeTable(node);
  assert.deepEqual(status.modules.map((m) => m.name).sort(), Object.keys(table).sort());
  for (const m of status.modules) {
    assert.equal(m.digest, table[m.name], `${m.name}: status and store agree`);
    assert.equal(m.running, true, `${m.name} runs (${m.status} ${m.error?.message ?? ""})`);
    assert.equal(m.status, "current");
    assert.equal(await call(conn, m.name, "version"), markers.get(m.digest), `${m.name}: the runtime runs the stored version`);
  }
}

test("pushes and runtime kills at once: status, store and runtime agree on every module and no state is reset", async () => {
  const node = await startNode();
  const names = ["alpha", "beta", "gamma"];
  const markers = new Map<string, string>();
  const builds = new Map<string, Awaited<ReturnType<typeof signedModule>>[]>();
  for (const name of names) {
    const versions = await Promise.all([1, 2, 3].map((v) => signedModule(name, counter(`${name}-v${v}`), node.dev)));
    versions.forEach((b, i) => markers.set(b.manifest.digest, `${name}-v${i + 1}`));
    builds.set(name, versions);
  }
  try {
    const conn = await node.connect({ ...node.dev });
    for (const name of names) {
      await conn.request("push", { bundle: builds.get(name)![0]!.bundle });
      for (let i = 0; i < 5; i++) await call(conn, name, "hit");
    }
    await sleep(1500); // every module saved with hits = 5
    const lowest = new Map(names.map((n) => [n, 5]));
    // At least 5 s and at least three kills: a loaded machine restarts a runtime slowly (within 30 s).
    const until = Date.now() + 5000;
    const hardStop = Date.now() + 30_000;
    const runtimePids = new Set<number>();
    const running = () => (Date.now() < until || runtimePids.size < 3) && Date.now() < hardStop;
    const killer = (async () => {
      while (running()) {
        await sleep(400 + Math.random() * 600);
        const up = [...node.logs].reverse().find((l) => l["event"] === "runtime.up");
        const pid = Number(up?.["pid"]);
        if (pid > 0 && !runtimePids.has(pid)) {
          runtimePids.add(pid);
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
      }
    })();
    const workers = names.map(async (name, i) => {
      let n = 0;
      while (running()) {
        const version = builds.get(name)![(n++ + i) % 3]!;
        await conn.request("push", { bundle: version.bundle }).catch(() => {});
        const hits = await call(conn, name, "hit").catch(() => null);
        if (typeof hits === "number") assert.ok(hits > lowest.get(name)!, `${name} was reset: hit returned ${hits}`);
      }
    });
    await Promise.all([killer, ...workers]);
    assert.ok(runtimePids.size >= 3, `the runtime was killed ${runtimePids.size} times`);
    await sleep(1500);
    await node.waitForLog("runtime.up");
    // Requests wait for a restarting runtime: one call per module settles the storm.
    for (const name of names) assert.ok(((await call(conn, name, "hits")) as number) > 5);
    await assertAgree(node, conn, markers);
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});

test("kill -9 of the loader at random moments during a stream of pushes: each restart has every module on one whole version with its saved state", async () => {
  let node = await startNode();
  const dev = node.dev;
  const names = ["alpha", "beta"];
  const markers = new Map<string, string>();
  const builds = new Map<string, Awaited<ReturnType<typeof signedModule>>[]>();
  for (const name of names) {
    const versions = await Promise.all([1, 2].map((v) => signedModule(name, counter(`${name}-v${v}`), dev)));
    versions.forEach((b, i) => markers.set(b.manifest.digest, `${name}-v${i + 1}`));
    builds.set(name, versions);
  }
  let conn = await node.connect();
  for (const name of names) {
    await conn.request("push", { bundle: builds.get(name)![0]!.bundle });
    await call(conn, name, "hit");
  }
  await sleep(1500);
  for (let round = 0; round < 5; round++) {
    const stopAt = Date.now() + 200 + Math.random() * 1300;
    let n = round;
    while (Date.now() < stopAt) {
      for (const name of names) {
        await conn.request("push", { bundle: builds.get(name)![n % 2]!.bundle }).catch(() => {});
        await call(conn, name, "hit").catch(() => {});
      }
      n++;
    }
    await node.kill();
    node = await startNode({ dataDir: node.dataDir, dev });
    conn = await node.connect();
    for (const name of names) assert.ok(((await call(conn, name, "hits")) as number) >= 1, `${name} kept its state`);
    await assertAgree(node, conn, markers);
  }
  conn.close();
  assert.equal(await node.stop(), 0);
});

test("a push that fails to load leaves no bundle in the store; the running version and its files stay", async () => {
  const node = await startNode();
  try {
    const conn = await node.connect();
    const v1 = await push(conn, "counter", counter("c-v1"), node.dev);
    await call(conn, "counter", "hit");
    const bundles = () => readdirSync(join(node.dataDir, "store", "bundles")).filter((f) => f.endsWith(".bundle")).sort();
    const before = bundles();
    const throwing = counter("c-v2", `...(() => { throw new Error("boom at load"); })(),`);
    await assert.rejects(push(conn, "counter", throwing, node.dev), (err: unknown) => hasCode(err, "MODULE_LOAD_FAILED"));
    const failing = counter("c-v3", `migrate: () => { throw new Error("no"); },`);
    await assert.rejects(push(conn, "counter", failing, node.dev), (err: unknown) => hasCode(err, "MIGRATION_FAILED"));
    assert.deepEqual(bundles(), before, "only the bundle that became current is stored");
    await flushedSnapshot(node, conn); // the table on disk follows pushes at the next snapshot
    assert.deepEqual(storeTable(node), { counter: v1 });
    assert.equal(await call(conn, "counter", "hits"), 1);
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});
