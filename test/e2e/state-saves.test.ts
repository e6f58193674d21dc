/**
 * When module states are written (issue 10): a swap hands the new version's state to the
 * loader, which keeps it and saves it with the next snapshot (every snapshotMs, 1 s), not with
 * a crash-safe write of its own on every push; a burst of pushes saves a few times, not once
 * per push, and the newest version's state is on disk a snapshot later.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { decodeState } from "../../loader/protocol/state-file.js";
import { signedModule } from "../helpers/modules.js";
import { startNode } from "../helpers/processes.js";

function counter(marker: string): string {
  return `import { defineModule } from "fixpoint";
export default defineModule({
  version: ${JSON.stringify(marker)},
  state: { hits: 0 },
  functions: { hit: (ctx) => ++ctx.state.hits, hits: (ctx) => ctx.state.hits },
});
`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a burst of pushes saves the module's state with the snapshots, not once per push, and the newest version's state is on disk a snapshot later", async () => {
  const pushes = 20;
  const node = await startNode();
  try {
    const bundles = [];
    for (let i = 1; i <= pushes; i++) bundles.push(await signedModule("burst", counter(`burst-v${i}`), node.dev));
    const conn = await node.connect();
    for (const { bundle } of bundles) await conn.request("push", { bundle }, { timeoutMs: 30_000 });
    await conn.request("call", { module: "burst", fn: "hit", args: [] });
    await sleep(2500); // two snapshots at least
    const dir = join(node.dataDir, "store", "states", "burst");
    const seqs = readdirSync(dir).map((f) => parseInt(f)).sort((a, b) => b - a);
    assert.ok(seqs[0]! < pushes / 2, `${pushes} pushes made ${seqs[0]} saves`);
    const newest = decodeState(readFileSync(join(dir, `${seqs[0]}.state`)), "burst", "newest");
    assert.equal(newest.digest, bundles.at(-1)!.manifest.digest, "the newest save is the last version's");
    assert.equal(newest.version, `burst-v${pushes}`);
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});
