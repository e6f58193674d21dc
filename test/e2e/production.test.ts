/**
 * Production on real loader processes (issue 11, the loader's side): a node switched to
 * production takes code only as signed releases, refuses a bad one whole before it touches
 * anything, applies a good one by guarded restart with every module's state carried through
 * its migrate hook, rolls back a release that fails to start or is unhealthy, and survives
 * `kill -9` at every step of the restart on one whole release with its state.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { get } from "node:http";
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair, hasCode, UPGRADE_STEPS, type KeyPair } from "../../loader/index.js";
import { signRelease, type ClientConnection } from "../../devtool/client/index.js";
import { signedModule } from "../helpers/modules.js";
import { runCli, startNode, tempDir, type NodeProcess } from "../helpers/processes.js";

const ROLES = ["dev", "observe", "release", "admin"] as const;

/** A module counting hits; `extra` goes into its definition (a migrate hook, a health check). */
function counter(marker: string, extra = ""): string {
  return `import { defineModule } from "fixpoint";
export default defineModule({
  version: ${JSON.stringify(marker)},
  state: { hits: 0 },
  ${extra}
  functions: { hit: (ctx) => ++ctx.state.hits, hits: (ctx) => ctx.state.hits, version: () => ${JSON.stringify(marker)}, state: (ctx) => ctx.state },
  http: (request, ctx) => new Response(${JSON.stringify(marker)} + " " + ++ctx.state.hits),
});
`;
}

const call = async (conn: ClientConnection, module: string, fn: string) => (await conn.request("call", { module, fn, args: [] })).value;

/** A node in production with modules a and b pushed in dev mode first (release 0: no release yet). */
async function productionNode(options: { env?: NodeJS.ProcessEnv; args?: string[] } = {}): Promise<{ node: NodeProcess; conn: ClientConnection }> {
  const node = await startNode({ roles: [...ROLES], ...options });
  const conn = await node.connect();
  for (const name of ["a", "b"]) {
    const { bundle } = await signedModule(name, counter(`${name}-dev`), node.dev);
    await conn.request("push", { bundle });
    for (let i = 0; i < 3; i++) await call(conn, name, "hit");
  }
  assert.deepEqual(await conn.request("mode", { mode: "production" }), { mode: "production", previous: "dev" });
  return { node, conn };
}

/** Signs release `number` of `sources` (module → source) with `key`, its bundles built and signed. */
async function release(number: number, sources: Record<string, string>, key: KeyPair, cluster = "default") {
  const built = await Promise.all(Object.entries(sources).map(([name, source]) => signedModule(name, source, key)));
  const { release: wire, manifest } = signRelease({ cluster, number, modules: built.map((b) => ({ name: b.manifest.name, digest: b.manifest.digest })), notes: `release ${number}` }, key);
  return { release: wire, manifest, bundles: built.map((b) => b.bundle) };
}

async function stageAndUpgrade(conn: ClientConnection, r: Awaited<ReturnType<typeof release>>) {
  const staged = await conn.request("stage", { release: r.release, bundles: r.bundles });
  assert.deepEqual(staged, { number: r.manifest.number, missing: [] });
  return conn.request("upgrade", { number: r.manifest.number }, { timeoutMs: 30_000 });
}

const migrateAdds = (n: number) => `migrate: (old) => ({ ...old, hits: old.hits + ${n} }),`;

test("a node in production refuses pushes, and a staged release is applied by guarded restart with every state migrated", async () => {
  const { node, conn } = await productionNode();
  try {
    const { bundle } = await signedModule("a", counter("a-pushed"), node.dev);
    await assert.rejects(conn.request("push", { bundle }), (err: unknown) => hasCode(err, "FORBIDDEN") && /release create/.test((err as Error).message));
    const r1 = await release(1, { a: counter("a-r1", migrateAdds(100)), b: counter("b-r1", migrateAdds(200)), c: counter("c-r1") }, node.dev);
    const outcome = await stageAndUpgrade(conn, r1);
    assert.equal(outcome.outcome, "committed");
    assert.deepEqual([outcome.from, outcome.to], [0, 1]);
    assert.equal(await call(conn, "a", "version"), "a-r1");
    assert.equal(await call(conn, "a", "hits"), 103, "a's state went through its migrate hook");
    assert.equal(await call(conn, "b", "hits"), 203);
    assert.equal(await call(conn, "c", "hits"), 0, "a module new in the release starts from its initial state");
    const status = await conn.request("status", {});
    assert.equal(status.release?.number, 1);
    assert.equal(status.ready, true);
    assert.deepEqual(status.modules.map((m) => [m.name, m.digest, m.running]), r1.manifest.modules.map((m) => [m.name, m.digest, true]));
    // The same release again changes nothing.
    assert.equal((await conn.request("upgrade", { number: 1 })).outcome, "unchanged");
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
  // And it is what the node boots.
  const again = await startNode({ dataDir: node.dataDir, dev: node.dev });
  try {
    const conn2 = await again.connect();
    assert.equal((await conn2.request("status", {})).mode, "production", "the mode was kept in config.json");
    assert.equal(await call(conn2, "a", "version"), "a-r1");
    assert.equal(await call(conn2, "a", "hits"), 103);
    conn2.close();
  } finally {
    assert.equal(await again.stop(), 0);
  }
});

test("a bad release is refused whole before the node changes: signature, signer's role, cluster, replay, bundles", async () => {
  const { node, conn } = await productionNode();
  try {
    const good = await release(1, { a: counter("a-r1"), b: counter("b-r1") }, node.dev);
    const tampered = { ...good.release, manifest: Buffer.from(Buffer.from(good.release.manifest).toString("utf8").replace("release 1", "release X")) };
    await assert.rejects(conn.request("stage", { release: tampered, bundles: [] }), (err: unknown) => hasCode(err, "RELEASE_SIGNATURE_INVALID"));
    const stranger = generateKeyPair();
    const untrusted = await release(1, { a: counter("a-r1") }, stranger);
    await assert.rejects(conn.request("stage", { release: untrusted.release, bundles: [] }), (err: unknown) => hasCode(err, "RELEASE_SIGNER_UNTRUSTED"));
    const elsewhere = await release(1, { a: counter("a-r1") }, node.dev, "other-cluster");
    await assert.rejects(conn.request("stage", { release: elsewhere.release, bundles: [] }), (err: unknown) => hasCode(err, "RELEASE_WRONG_CLUSTER"));
    // A bundle whose code is not what the release names.
    const other = await signedModule("a", counter("a-other"), node.dev);
    const swapped = [{ ...good.bundles[0]!, code: other.bundle.code }];
    await assert.rejects(conn.request("stage", { release: good.release, bundles: swapped }), (err: unknown) => hasCode(err, "RELEASE_BUNDLE_INVALID"));
    // Staged without its bundles: the node says what is missing and will not upgrade.
    const partial = await conn.request("stage", { release: good.release, bundles: [] });
    assert.equal(partial.missing.length, 2);
    await assert.rejects(conn.request("upgrade", { number: 1 }), (err: unknown) => hasCode(err, "RELEASE_NOT_STAGED"));
    assert.equal(await call(conn, "a", "version"), "a-dev", "nothing changed");
    assert.equal(await call(conn, "a", "hits"), 3);
    // The good one, then a replay of an older number.
    assert.equal((await stageAndUpgrade(conn, good)).outcome, "committed");
    const r2 = await release(2, { a: counter("a-r2"), b: counter("b-r2") }, node.dev);
    assert.equal((await stageAndUpgrade(conn, r2)).outcome, "committed");
    await assert.rejects(conn.request("upgrade", { number: 1 }), (err: unknown) => hasCode(err, "RELEASE_OLD"));
    const stale = await release(1, { a: counter("a-stale") }, node.dev);
    await assert.rejects(conn.request("stage", { release: stale.release, bundles: stale.bundles }), (err: unknown) => hasCode(err, "RELEASE_INVALID") || hasCode(err, "RELEASE_OLD"));
    // A signed rollback to a release the node holds is allowed.
    const back = await conn.request("upgrade", { number: 1, rollback: true });
    assert.deepEqual([back.outcome, back.from, back.to], ["committed", 2, 1]);
    assert.equal(await call(conn, "a", "version"), "a-r1");
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});

test("a release whose health check fails, or whose migrate throws, is rolled back with every state intact", async () => {
  const { node, conn } = await productionNode();
  try {
    const unhealthy = await release(1, { a: counter("a-r1", `health: () => ({ ok: false, detail: "db unreachable" }),`), b: counter("b-r1") }, node.dev);
    await assert.rejects(stageAndUpgrade(conn, unhealthy), (err: unknown) => hasCode(err, "UPGRADE_ROLLED_BACK") && /db unreachable/.test((err as Error).message));
    assert.equal(await call(conn, "a", "version"), "a-dev");
    assert.equal(await call(conn, "a", "hits"), 3);
    assert.equal(await call(conn, "b", "hits"), 3);
    const throws = await release(2, { a: counter("a-r2"), b: counter("b-r2", `migrate: () => { throw new Error("cannot read v1 state"); },`) }, node.dev);
    await assert.rejects(stageAndUpgrade(conn, throws), (err: unknown) => hasCode(err, "UPGRADE_ROLLED_BACK") && /cannot read v1 state/.test((err as Error).message));
    assert.equal(await call(conn, "b", "version"), "b-dev");
    assert.equal(await call(conn, "b", "hits"), 3);
    const status = await conn.request("status", {});
    assert.equal(status.release?.number, undefined, "still no committed release");
    assert.equal(status.ready, true);
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});

test("the HTTP port keeps answering through a guarded restart, and the readiness endpoint says not ready meanwhile", async () => {
  const { node, conn } = await productionNode({ args: ["--http", "127.0.0.1:0", "--ready", "127.0.0.1:0"] });
  const started = node.logs.find((l) => l["event"] === "node.started")!;
  const [httpPort, readyPort] = [started["http"], started["ready"]].map((a) => Number(String(a).split(":").pop()));
  const fetchText = (port: number, path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      }).on("error", reject);
    });
  try {
    assert.deepEqual(await fetchText(readyPort!, "/"), { status: 200, body: "ready\n" });
    let stop = false;
    const results: string[] = [];
    const readiness: number[] = [];
    const traffic = (async () => {
      while (!stop) results.push(await fetchText(httpPort!, "/a/").then((r) => `${r.status} ${r.body.split(" ")[0]}`, (e: Error) => `failed ${e.message}`));
    })();
    const probe = (async () => {
      while (!stop) {
        readiness.push((await fetchText(readyPort!, "/")).status);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    const r1 = await release(1, { a: counter("a-r1", `migrate: (old) => { const until = Date.now() + 200; while (Date.now() < until); return old; },`), b: counter("b-r1") }, node.dev);
    assert.equal((await stageAndUpgrade(conn, r1)).outcome, "committed");
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await Promise.all([traffic, probe]);
    const failed = results.filter((r) => !r.startsWith("200 "));
    assert.deepEqual(failed, [], `every request answered (${results.length} requests)`);
    assert.ok(results.includes("200 a-dev") && results.at(-1) === "200 a-r1", "the answers move from the old release to the new");
    // Every answered request counted once, whichever release answered it: none was answered by
    // the old runtime after its state was saved.
    assert.equal(await call(conn, "a", "hits"), 3 + results.length, "no hit lost across the restart");
    assert.ok(readiness.includes(503), "not ready during the restart");
    assert.equal(readiness.at(-1), 200, "ready again after the commit");
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});

/** What a node that was killed at `step` of a guarded restart to release 1 comes back as. */
async function killedAt(step: string, failing: boolean, tamper?: (dataDir: string) => void) {
  const { node, conn } = await productionNode({ env: { FIXPOINT_FAULT_AT: step } });
  const r1 = await release(1, { a: counter("a-r1", failing ? `health: () => ({ ok: false, detail: "no" }), ${migrateAdds(100)}` : migrateAdds(100)), b: counter("b-r1", migrateAdds(200)) }, node.dev);
  await conn.request("stage", { release: r1.release, bundles: r1.bundles });
  // On disk by the periodic save: a kill before the restart saves anything loses at most that
  // last second, as any kill -9 does; this test is about the restart's own steps.
  await new Promise((r) => setTimeout(r, 1200));
  await assert.rejects(conn.request("upgrade", { number: 1 }, { timeoutMs: 30_000 }), (err: unknown) => hasCode(err, "CHANNEL_CLOSED") || hasCode(err, "PEER_TIMEOUT"));
  await node.kill();
  tamper?.(node.dataDir);
  const again = await startNode({ dataDir: node.dataDir, dev: node.dev });
  const conn2 = await again.connect();
  const status = await conn2.request("status", {});
  const versions = [await call(conn2, "a", "version"), await call(conn2, "b", "version")];
  const hits = [await call(conn2, "a", "hits"), await call(conn2, "b", "hits")];
  const table = JSON.parse(readFileSync(join(node.dataDir, "store", "modules.json"), "utf8")) as { modules: Record<string, { digest: string }> };
  conn2.close();
  assert.equal(await again.stop(), 0);
  return { status, versions, hits, table, r1 };
}

for (const step of UPGRADE_STEPS.filter((s) => s !== "rolling-back")) {
  test(`kill -9 of the loader on entering "${step}": the node boots one whole release with its state`, async () => {
    // Killed on entering a step, before its work: up to "committing" itself the pointer names the old release.
    const { status, versions, hits, table, r1 } = await killedAt(step, false);
    assert.deepEqual(versions, ["a-dev", "b-dev"], "the old release, whole");
    assert.deepEqual(hits, [3, 3], "with the state it had");
    assert.equal(status.release?.number, undefined);
    for (const m of status.modules) assert.equal(table.modules[m.name]?.digest, m.digest, "status and store agree");
    assert.ok(!Object.values(table.modules).some((e) => r1.manifest.modules.some((m) => m.digest === e.digest)), "no module of the new release");
  });
}

test("kill -9 of the loader right after the commit point: the node boots the new release, its table repaired, with the migrated state", async () => {
  const { status, versions, hits, table, r1 } = await killedAt("after-commit", false);
  assert.deepEqual(versions, ["a-r1", "b-r1"]);
  assert.deepEqual(hits, [103, 203], "the states saved at drain, through the new release's migrate");
  assert.equal(status.release?.number, 1);
  assert.deepEqual(Object.fromEntries(Object.entries(table.modules).map(([n, e]) => [n, e.digest])), Object.fromEntries(r1.manifest.modules.map((m) => [m.name, m.digest])));
});

test(`kill -9 of the loader on entering "rolling-back": the node boots the old release with its state`, async () => {
  const { versions, hits } = await killedAt("rolling-back", true);
  assert.deepEqual(versions, ["a-dev", "b-dev"]);
  assert.deepEqual(hits, [3, 3]);
});

test("kill -9 of the runtime while the new release starts rolls the node back with its state", async () => {
  const { node, conn } = await productionNode();
  try {
    // Loading module a of release 1 takes the runtime process down (an allocation V8 cannot survive).
    const r1 = await release(1, { a: counter("a-r1", `migrate: () => { const a = []; for (;;) a.push("x".repeat(1e6) + a.length); },`), b: counter("b-r1") }, node.dev);
    await assert.rejects(stageAndUpgrade(conn, r1), (err: unknown) => hasCode(err, "UPGRADE_ROLLED_BACK"));
    assert.equal(await call(conn, "a", "version"), "a-dev");
    assert.equal(await call(conn, "a", "hits"), 3);
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});

/** The pointer a node had with release 1 on trial: what the disk holds if the commit's write was lost. */
function tryingPointer(dataDir: string): string {
  const states: Record<string, number> = {};
  for (const name of ["a", "b"]) {
    const seqs = readdirSync(join(dataDir, "store", "states", name)).map((f) => parseInt(f, 10)).filter(Number.isInteger);
    states[name] = Math.max(...seqs);
  }
  return JSON.stringify({ format: 1, committed: null, trying: { number: 1, from: 0, states, at: new Date().toISOString() }, highest: 0 });
}

test("a lost write of the commit (the pointer still says trying) boots the old release with the states saved at drain", async () => {
  const { versions, hits, status } = await killedAt("after-commit", false, (dir) => writeFileSync(join(dir, "store", "release.json"), tryingPointer(dir)));
  assert.deepEqual(versions, ["a-dev", "b-dev"]);
  assert.deepEqual(hits, [3, 3]);
  assert.equal(status.release?.number, undefined);
});

test("a lost write of the trial (the pointer never said trying) boots the old release with its newest states", async () => {
  const { versions, hits } = await killedAt("restarting", false, (dir) => writeFileSync(join(dir, "store", "release.json"), JSON.stringify({ format: 1, committed: null, trying: null, highest: 0 })));
  assert.deepEqual(versions, ["a-dev", "b-dev"]);
  assert.deepEqual(hits, [3, 3]);
});

test("a release whose module fails to compile or start is refused before the node goes down, and a second upgrade at once is UPGRADE_IN_PROGRESS", async () => {
  const { node, conn } = await productionNode({ args: ["--ready", "127.0.0.1:0"] });
  try {
    const broken = await release(1, { a: counter("a-r1", `...(() => { throw new Error("bad config at load"); })(),`), b: counter("b-r1") }, node.dev);
    await conn.request("stage", { release: broken.release, bundles: broken.bundles });
    await assert.rejects(conn.request("upgrade", { number: 1 }), (err: unknown) => hasCode(err, "MODULE_LOAD_FAILED") && /before the node went down/.test((err as Error).message));
    assert.ok(!node.logs.some((l) => l["event"] === "upgrade.step" && l["step"] === "draining"), "it never drained");
    const r2 = await release(2, { a: counter("a-r2"), b: counter("b-r2") }, node.dev);
    await conn.request("stage", { release: r2.release, bundles: r2.bundles });
    const [first, second] = await Promise.allSettled([conn.request("upgrade", { number: 2 }), conn.request("upgrade", { number: 2 })]);
    assert.equal(first.status, "fulfilled");
    assert.equal(second.status === "rejected" && hasCode(second.reason, "UPGRADE_IN_PROGRESS"), true, String(second.status === "rejected" ? second.reason : "fulfilled"));
    assert.equal(await call(conn, "a", "version"), "a-r2");
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});

test("a stage asked to prepare starts the release's modules ahead: the upgrade then commits with them, and a module that cannot start still refuses the upgrade before the node goes down", async () => {
  const { node, conn } = await productionNode();
  try {
    // Prepared ahead, code that cannot start is only logged; the upgrade refuses it, as without preparing.
    const broken = await release(1, { a: counter("a-r1", `...(() => { throw new Error("bad config at load"); })(),`), b: counter("b-r1") }, node.dev);
    await conn.request("stage", { release: broken.release, bundles: broken.bundles, prepare: true });
    await node.waitForLog("release.prepare-failed");
    await assert.rejects(conn.request("upgrade", { number: 1 }), (err: unknown) => hasCode(err, "MODULE_LOAD_FAILED") && /before the node went down/.test((err as Error).message));
    assert.ok(!node.logs.some((l) => l["event"] === "upgrade.step" && l["step"] === "draining"), "it never drained");
    assert.equal(await call(conn, "a", "hits"), 3, "the dev modules serve on with their state");

    const r2 = await release(2, { a: counter("a-r2", migrateAdds(10)), b: counter("b-r2") }, node.dev);
    assert.deepEqual(await conn.request("stage", { release: r2.release, bundles: r2.bundles, prepare: true }), { number: 2, missing: [] });
    const result = await conn.request("upgrade", { number: 2 }, { timeoutMs: 30_000 });
    assert.equal(result.outcome, "committed");
    assert.equal(await call(conn, "a", "version"), "a-r2");
    assert.equal(await call(conn, "a", "hits"), 13, "the prepared module took the state and migrated it");
    // A plain stage only stores: nothing is prepared, nothing logged about it.
    const r3 = await release(3, { a: counter("a-r3"), b: counter("b-r3") }, node.dev);
    await conn.request("stage", { release: r3.release, bundles: r3.bundles });
    assert.equal(node.logs.filter((l) => l["event"] === "release.prepare-failed").length, 1);
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});

/** The loader's child processes (its runtime, and the one it started ahead if any). */
function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
}

async function until<T>(what: string, probe: () => T | null, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== null) return found;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("in production a node keeps a runtime process started ahead: a guarded restart runs on it, another follows, and back in dev it ends", async () => {
  const { node, conn } = await productionNode();
  try {
    const runtimePid = Number((await node.waitForLog("runtime.up"))["pid"]);
    const ahead = await until("a second runtime process", () => childrenOf(node.child.pid!).find((p) => p !== runtimePid) ?? null);
    const r1 = await release(1, { a: counter("a-r1"), b: counter("b-r1") }, node.dev);
    assert.equal((await stageAndUpgrade(conn, r1)).outcome, "committed");
    assert.equal(await call(conn, "a", "hits"), 3);
    const ups = node.logs.filter((l) => l["event"] === "runtime.up");
    assert.equal(ups.at(-1)!["pid"], ahead, "the release runs in the process started ahead");
    assert.ok(!childrenOf(node.child.pid!).includes(runtimePid), "the old runtime process is gone");
    await until("the next process started ahead", () => childrenOf(node.child.pid!).find((p) => p !== ahead) ?? null);
    await conn.request("mode", { mode: "dev" });
    await until("only the runtime process", () => (childrenOf(node.child.pid!).length === 1 ? true : null));
    assert.equal(await call(conn, "b", "hits"), 3);
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});

test("a node switched to production stops showing stack frames to HTTP clients at once, and so does its next runtime process", async () => {
  const node = await startNode({ roles: [...ROLES], args: ["--http", "127.0.0.1:0"] });
  const httpPort = Number(String(node.logs.find((l) => l["event"] === "node.started")!["http"]).split(":").pop());
  const fetchText = () =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      get({ host: "127.0.0.1", port: httpPort, path: "/boom/", agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      }).on("error", reject);
    });
  const frames = /\n\s+at /;
  try {
    const conn = await node.connect();
    const { bundle } = await signedModule("boom", `import { defineModule } from "fixpoint";
export default defineModule({ version: "1", state: {}, http: () => { throw new Error("kaput"); } });
`, node.dev);
    await conn.request("push", { bundle });
    const dev = await fetchText();
    assert.equal(dev.status, 500);
    assert.match(dev.body, frames, "in dev an HTTP client sees where it failed");
    await conn.request("mode", { mode: "production" });
    const production = await fetchText();
    assert.equal(production.status, 500);
    assert.match(production.body, /kaput/);
    assert.doesNotMatch(production.body, frames, "in production only the code and the message");
    // A runtime process started after the switch (here: after the runtime crashed) boots in production.
    const runtimePid = Number(node.logs.filter((l) => l["event"] === "runtime.up").at(-1)!["pid"]);
    process.kill(runtimePid, "SIGKILL");
    await until("the runtime back", () => (node.logs.filter((l) => l["event"] === "runtime.up").length >= 2 ? true : null));
    const after = await fetchText();
    assert.match(after.body, /kaput/);
    assert.doesNotMatch(after.body, frames);
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});

test("mode switches are for admin keys only", async () => {
  const node = await startNode({ roles: ["dev", "observe", "release"] });
  try {
    const conn = await node.connect();
    await assert.rejects(conn.request("mode", { mode: "production" }), (err: unknown) => hasCode(err, "FORBIDDEN"));
    await assert.rejects(conn.request("upgrade", { number: 1 }), (err: unknown) => hasCode(err, "FORBIDDEN") && /devtool mode/.test((err as Error).message));
    assert.equal((await conn.request("status", {})).mode, "dev");
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});

test("a full disk while staging refuses the release before the node goes down", async (t) => {
  const dir = tempDir();
  const mount = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
  if (mount.status !== 0) return t.skip("needs root to mount a small tmpfs");
  try {
    const dev = generateKeyPair();
    const dataDir = join(dir, "node");
    assert.equal(runCli("loader", ["init", "--data", dataDir, "--name", "test-node"]).status, 0);
    const { formatPublicKeyLine } = await import("../../loader/index.js");
    assert.equal(runCli("loader", ["authorize", "--data", dataDir, "--key", formatPublicKeyLine(dev.publicKey), "--roles", ROLES.join(",")]).status, 0);
    const node = await startNode({ dataDir, dev });
    try {
      const conn = await node.connect();
      const { bundle } = await signedModule("a", counter("a-dev"), dev);
      await conn.request("push", { bundle });
      await call(conn, "a", "hit");
      await conn.request("mode", { mode: "production" });
      // A bundle larger than the space left.
      const big = await release(1, { a: counter("a-r1", `blob: ${JSON.stringify("x".repeat(1_200_000))},`) }, dev);
      await assert.rejects(conn.request("stage", { release: big.release, bundles: big.bundles }), (err: unknown) => hasCode(err, "STORE_WRITE_FAILED"));
      await assert.rejects(conn.request("upgrade", { number: 1 }), (err: unknown) => hasCode(err, "RELEASE_NOT_STAGED"));
      assert.equal(await call(conn, "a", "version"), "a-dev");
      assert.equal(await call(conn, "a", "hits"), 1);
      conn.close();
    } finally {
      assert.equal(await node.stop(), 0);
    }
  } finally {
    spawnSync("umount", [dir]);
  }
});
