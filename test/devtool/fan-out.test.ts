/**
 * The devtool's fan-out to nodes (devtool/nodes/fan-out.ts), which every command that talks to
 * several nodes goes through.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { FixpointError } from "../../loader/index.js";
import { eachNode, NODE_FAN_OUT } from "../../devtool/nodes/fan-out.js";
import type { Target } from "../../devtool/nodes/targets.js";

const targets = (n: number): Target[] => Array.from({ length: n }, (_, i) => ({ label: `n${i}`, address: { host: "127.0.0.1", port: 7000 + i }, pinned: null }));

test("talks to at most NODE_FAN_OUT nodes at once, and to all of them concurrently up to that", async () => {
  let now = 0;
  let most = 0;
  const outcomes = await eachNode(targets(NODE_FAN_OUT * 3 + 1), async (target) => {
    most = Math.max(most, ++now);
    await sleep(5);
    now--;
    return target.label;
  });
  assert.equal(most, NODE_FAN_OUT);
  assert.deepEqual(
    outcomes.map((o) => o.value),
    targets(NODE_FAN_OUT * 3 + 1).map((t) => t.label),
  );
});

test("answers in the targets' order, one node's failure its own, as a coded error", async () => {
  const outcomes = await eachNode(targets(4), async (target) => {
    await sleep(target.label === "n0" ? 20 : 1);
    if (target.label === "n1") throw new FixpointError("REQUEST_TIMEOUT", "slow");
    if (target.label === "n2") throw new Error("plain");
    return target.label;
  });
  assert.deepEqual(outcomes.map((o) => [o.target.label, o.value, o.error?.code]), [
    ["n0", "n0", undefined],
    ["n1", undefined, "REQUEST_TIMEOUT"],
    ["n2", undefined, "INTERNAL"],
    ["n3", "n3", undefined],
  ]);
  assert.deepEqual(await eachNode([], async () => 1), []);
});
