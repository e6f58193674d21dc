/**
 * A rolling upgrade across five real nodes that fails on the third: the rollout stops there,
 * as `devtool upgrade` promises. Five loader processes (and their runtimes) on a small machine:
 * the module is tiny and the test keeps to one rollout.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { call, counter, firstRelease, ok, productionNodes, status } from "../helpers/production.js";

test("a rollout of five nodes where the third fails: nodes 1-2 on the new release, 3 back on the old, 4-5 untouched, the rollout stopped, exit 1; no node restarted while another is unhealthy", { timeout: 175_000 }, async () => {
  const { nodes, project: p } = await productionNodes(5);
  try {
    // Release 1 on all five at once (--max-unavailable 5); then the third node's state is one
    // the next release's health check rejects.
    await firstRelease(p, nodes, 1);
    await call(nodes[2]!, "poison");
    p.write(counter("2", `health: (ctx) => ctx.state.poisoned || ctx.state.sick ? { ok: false, detail: ctx.state.poisoned ? "poisoned state" : "sick" } : true,`));
    ok(await p.devtool(["release", "create"]), "release create");

    const up = await p.devtool(["upgrade"]);
    assert.equal(up.status, 1, up.stdout + up.stderr);
    const out = up.stdout;
    // Every node staged before any went down.
    const staged = [1, 2, 3, 4, 5].map((n) => out.indexOf(`n${n}  staged release 2`));
    assert.ok(staged.every((i) => i >= 0 && i < out.indexOf("restarting on release 2")), out);
    assert.match(out, /n1 +4 other node\(s\) ready and healthy/);
    assert.match(out, /n3 +restarting on release 2…/);
    assert.doesNotMatch(out, /n4 +restarting/);
    const summary = out.slice(out.indexOf("upgrade to release 2 stopped"));
    assert.match(summary, /n1 +release 1 → 2/);
    assert.match(summary, /n2 +release 1 → 2/);
    assert.match(summary, /n3 +rolled back UPGRADE_ROLLED_BACK: .*poisoned state/);
    assert.match(summary, /n4 +untouched \(release 2 staged\)/);
    assert.match(summary, /n5 +untouched \(release 2 staged\)/);
    assert.match(up.stderr, /rollout stopped: n3 rolled back/);

    const after = await Promise.all(nodes.map((n) => status(n)));
    assert.deepEqual(after.map((s) => s.release?.number), [2, 2, 1, 1, 1]);
    assert.deepEqual(after[4]!.release?.held, [1, 2]);
    assert.equal(await call(nodes[2]!, "hits"), 1);
    assert.equal(await call(nodes[0]!, "version"), "2");

    // No node goes down while another of the rollout is unhealthy.
    await call(nodes[4]!, "sicken");
    const held = await p.devtool(["upgrade", "--nodes", "n4,n5"]);
    assert.equal(held.status, 1, held.stdout + held.stderr);
    assert.match(held.stdout, /n4 +not restarted: n5: module counter is unhealthy \(sick\)/);
    assert.match(held.stdout, /n4 +untouched \(release 2 staged\)/);
    assert.match(held.stderr, /NODE_UNHEALTHY: rollout stopped before n4: node n5: module counter is unhealthy/);
    assert.equal((await status(nodes[3]!)).release?.number, 1);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
});
