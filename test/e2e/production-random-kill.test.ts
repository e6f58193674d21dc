/**
 * The guarded restart survives `kill -9` of the loader at any moment, not only on entering a
 * step (production.test.ts does each step's entry): rounds of upgrades, each loader killed at a
 * random time within how long an upgrade takes here, then started again on its data directory.
 * Every time the node comes back on one whole release, old or new, with every module's state
 * exactly as it was before the upgrade began (issue 11: "run each step many times").
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPair, hasCode, type KeyPair } from "../../loader/index.js";
import { signRelease, type ClientConnection } from "../../devtool/client/index.js";
import { signedModule } from "../helpers/modules.js";
import { startNode, type NodeProcess } from "../helpers/processes.js";
import { ALL_ROLES, counter } from "../helpers/production.js";

const MODULES = ["a", "b", "c"];
const ROUNDS = 6;

const call = async (conn: ClientConnection, module: string, fn: string) => (await conn.request("call", { module, fn, args: [] })).value;

async function release(number: number, key: KeyPair) {
  // Its migrate hook keeps the hits: a module's hits after any boot must equal its hits before the upgrade.
  const built = await Promise.all(MODULES.map((name) => signedModule(name, counter(`${name}-r${number}`), key)));
  const { release: wire } = signRelease({ cluster: "default", number, modules: built.map((b) => ({ name: b.manifest.name, digest: b.manifest.digest })) }, key);
  return { release: wire, bundles: built.map((b) => b.bundle) };
}

/** Each module's version marker and hits, as the node answers them. */
async function observe(conn: ClientConnection): Promise<{ versions: string[]; hits: number[] }> {
  const versions: string[] = [];
  const hits: number[] = [];
  for (const name of MODULES) {
    versions.push(String(await call(conn, name, "version")));
    hits.push(Number(await call(conn, name, "hits")));
  }
  return { versions, hits };
}

/** A small seeded generator, so that a failing round can be replayed from the seed it prints. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
}

test(`kill -9 of the loader at random moments of ${ROUNDS} guarded restarts: each boot is one whole release with the states from before the upgrade`, async (t) => {
  const seed = Number(process.env["FIXPOINT_TEST_SEED"] ?? Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed} (FIXPOINT_TEST_SEED=${seed} replays it)`);
  const next = random(seed);
  const key = generateKeyPair();
  let node: NodeProcess = await startNode({ roles: ALL_ROLES, dev: key });
  let conn = await node.connect();
  const first = await release(1, key);
  // Release 1 in dev mode is a push of each module; then production, and release 1 committed whole.
  for (const bundle of first.bundles) await conn.request("push", { bundle });
  await conn.request("mode", { mode: "production" });
  await conn.request("stage", { release: first.release, bundles: first.bundles });
  const t0 = performance.now();
  assert.equal((await conn.request("upgrade", { number: 1 }, { timeoutMs: 30_000 })).outcome, "committed");
  // How long an upgrade takes on this machine now: the kills land anywhere within it.
  const upgradeMs = performance.now() - t0;
  let current = 1;
  let number = 1;
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const name of MODULES) for (let i = 0; i <= round; i++) await call(conn, name, "hit");
      const before = await observe(conn);
      number++;
      const r = await release(number, key);
      await conn.request("stage", { release: r.release, bundles: r.bundles });
      // Past the periodic save: a kill before the restart saves anything may lose at most that last
      // second, as any kill -9 may; this test is about the restart's own steps.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const killAfterMs = Math.round(next() * upgradeMs * 2);
      const upgrading = conn.request("upgrade", { number }, { timeoutMs: 30_000 }).then(
        () => "answered",
        (err: unknown) => (hasCode(err, "CHANNEL_CLOSED") || hasCode(err, "PEER_TIMEOUT") ? "cut" : Promise.reject(err)),
      );
      await new Promise((resolve) => setTimeout(resolve, killAfterMs));
      await node.kill();
      await upgrading;
      node = await startNode({ dataDir: node.dataDir, dev: key });
      conn = await node.connect();
      const after = await observe(conn);
      const status = await conn.request("status", {});
      const on = status.release?.number;
      const what = `round ${round}, killed ${killAfterMs} ms into an upgrade from release ${current} to ${number}`;
      assert.ok(on === current || on === number, `${what}: the node is on release ${on}`);
      assert.deepEqual(after.versions, MODULES.map((m) => `${m}-r${on}`), `${what}: every module on release ${on}, none from another`);
      assert.deepEqual(after.hits, before.hits, `${what}: every state as it was before the upgrade`);
      t.diagnostic(`${what}: came back on release ${on}`);
      current = on!;
    }
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});
