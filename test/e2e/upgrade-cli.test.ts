/**
 * `devtool upgrade` and `devtool rollback` on one real node: staging, the guarded restart that
 * commits with the state migrated, the rollbacks a node does by itself (a failed health check,
 * a migrate hook that throws), and a rollback asked for. The loader's own guarantees (a crash
 * at every step of the restart) are test/e2e/production.test.ts's.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { call, counter, counterV2, firstRelease, ok, productionNodes, status } from "../helpers/production.js";

test("upgrade stages a release and restarts the node onto it: it commits with its state migrated; rollback --to returns it to a release it holds", { timeout: 170_000 }, async () => {
  const { nodes, project: p } = await productionNodes(1, ["--ready", "127.0.0.1:0"]);
  const node = nodes[0]!;
  try {
    await firstRelease(p, nodes, 3);
    p.write(counterV2);
    ok(await p.devtool(["release", "create", "--notes", "count, not hits"]), "release create");
    const up = ok(await p.devtool(["upgrade"]), "upgrade to release 2");
    assert.match(up, /n1 +staged release 2, 1 bundle\(s\) sent/);
    assert.match(up, /n1 +no other node to check/);
    assert.match(up, /n1 +restarting on release 2…/);
    assert.match(up, /n1 +release 1 → 2 out of service \d+ ms/);
    assert.match(up, /upgrade to release 2 done/);
    assert.equal(await call(node, "count"), 3);

    const s = await status(node);
    assert.equal(s.release?.number, 2);
    assert.deepEqual(s.release?.held, [1, 2]);
    assert.match(ok(await p.devtool(["status"]), "status"), /release +2, committed \d+s ago .*; holds 1, 2\n +ready +yes/);
    const readyAt = String((await node.waitForLog("node.started"))["ready"]);
    assert.equal((await fetch(`http://${readyAt}/`)).status, 200);

    // Again: the node has every bundle (nothing travels twice) and runs the release already.
    const again = ok(await p.devtool(["upgrade"]), "upgrade again");
    assert.match(again, /staged release 2 \(it had every bundle\)/);
    assert.match(again, /n1 +already on release 2/);

    // Going back is only by rollback: an upgrade to an older release is a replay, refused.
    const replay = await p.devtool(["upgrade", "--release", "1"]);
    assert.equal(replay.status, 1);
    assert.match(replay.stdout, /n1 +refused RELEASE_OLD/);

    const back = ok(await p.devtool(["rollback", "--to", "1"]), "rollback");
    assert.match(back, /n1 +rolling back to release 1…/);
    assert.match(back, /n1 +release 2 → 1/);
    assert.equal(await call(node, "version"), "1");
    assert.equal(await call(node, "hits"), 3);
    assert.equal((await status(node)).release?.number, 1);

    const unheld = await p.devtool(["rollback", "--to", "9"]);
    assert.equal(unheld.status, 1);
    assert.match(unheld.stdout, /n1 +refused RELEASE_NOT_STAGED/);
    assert.equal((await p.devtool(["rollback"])).status, 2);
  } finally {
    await node.stop();
  }
});

test("a release whose health check fails, or whose migrate hook throws, is rolled back: the node runs the old release with its state, and upgrade exits 1 saying why", { timeout: 170_000 }, async () => {
  const { nodes, project: p } = await productionNodes(1);
  const node = nodes[0]!;
  try {
    await firstRelease(p, nodes, 2);
    p.write(counter("2-sick", `health: () => ({ ok: false, detail: "database unreachable" }),`));
    ok(await p.devtool(["release", "create"]), "release create");
    const sick = await p.devtool(["upgrade"]);
    assert.equal(sick.status, 1, sick.stdout + sick.stderr);
    assert.match(sick.stdout, /n1 +rolled back UPGRADE_ROLLED_BACK: .*database unreachable/);
    assert.match(sick.stdout, /upgrade to release 2 stopped/);
    assert.match(sick.stderr, /UPGRADE_ROLLED_BACK: rollout stopped: n1 rolled back/);
    assert.equal(await call(node, "version"), "1");
    assert.equal(await call(node, "hits"), 2);
    assert.equal((await status(node)).release?.number, 1);

    p.write(counter("3-broken").replace(/migrate: .*\n/, 'migrate: () => { throw new Error("cannot read the old shape"); },\n'));
    ok(await p.devtool(["release", "create"]), "release create");
    const broken = await p.devtool(["upgrade"]);
    assert.equal(broken.status, 1, broken.stdout + broken.stderr);
    assert.match(broken.stdout, /n1 +rolled back UPGRADE_ROLLED_BACK: .*cannot read the old shape/);
    assert.equal(await call(node, "hit"), 3);
    assert.equal((await status(node)).release?.number, 1);
  } finally {
    await node.stop();
  }
});
