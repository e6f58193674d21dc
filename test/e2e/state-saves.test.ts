/**
 * When module states are written (issue 10): a swap hands the new version's state to the
 * loader, which keeps it and saves it with the next snapshot (every snapshotMs, 1 s), not with
 * a crash-safe write of its own on every push; a burst of pushes saves a few times, not once
 * per push, and the newest version's state is on disk a snapshot later.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { stateValue } from "../../runtime/host/state-codec.js";
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

test("a state slow to copy is snapshotted less often, so that snapshots take at most about a tenth of the runtime's time; small states still every second, and an orderly stop saves all", async () => {
  const node = await startNode({ args: ["--max-state-mb", "64"] });
  try {
    const source = `import { defineModule } from "fixpoint";
export default defineModule({
  version: "1",
  state: { hits: 0, items: [] as { id: number; name: string; tags: string[] }[] },
  limits: { memoryMb: 512 },
  functions: {
    fill: (ctx, n: number) => { ctx.state.items = Array.from({ length: n }, (_, i) => ({ id: i, name: "item-" + i, tags: ["a" + (i % 7), "b" + (i % 13)] })); return ctx.state.items.length; },
    hit: (ctx) => ++ctx.state.hits,
  },
});
`;
    const conn = await node.connect();
    await conn.request("push", { bundle: (await signedModule("big", source, node.dev)).bundle });
    await conn.request("push", { bundle: (await signedModule("small", counter("small-v1"), node.dev)).bundle });
    // About 20 MB of small records: each copy takes a good part of a second, even on a quick machine.
    await conn.request("call", { module: "big", fn: "fill", args: [300_000] }, { timeoutMs: 60_000 });
    const states = (name: string) => join(node.dataDir, "store", "states", name);
    const seq = (name: string) => (existsSync(states(name)) ? Math.max(0, ...readdirSync(states(name)).map((f) => parseInt(f)).filter((n) => n > 0)) : 0);
    await sleep(2500);
    const [big0, small0] = [seq("big"), seq("small")];
    const until = Date.now() + 8000;
    while (Date.now() < until) {
      await conn.request("call", { module: "big", fn: "hit", args: [] }, { timeoutMs: 30_000 });
      await conn.request("call", { module: "small", fn: "hit", args: [] }, { timeoutMs: 30_000 });
      await sleep(100);
    }
    const [bigSaves, smallSaves] = [seq("big") - big0, seq("small") - small0];
    // Every second would be about 8; paced, a copy of the 20 MB waits ten times its length.
    assert.ok(bigSaves <= 3, `the big state was saved ${bigSaves} times in 8 s`);
    assert.ok(smallSaves >= 3 && smallSaves > bigSaves, `the small state was saved ${smallSaves} times in 8 s, the big one ${bigSaves}`);
    const hits = await conn.request("call", { module: "big", fn: "hit", args: [] });
    conn.close();
    assert.equal(await node.stop(), 0);
    const newest = decodeState(readFileSync(join(states("big"), `${seq("big")}.state`)), "big", "newest");
    assert.equal((stateValue("big", newest.bytes) as { hits: number }).hits, (hits as { value: number }).value, "the stop saved the big state's last change");
  } finally {
    await node.stop();
  }
});
