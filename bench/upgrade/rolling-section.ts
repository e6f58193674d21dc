/**
 * A rolling upgrade of several local nodes under steady traffic, run by the rollout that
 * `devtool upgrade` and fixpoint/client's rollingUpgrade run (devtool/release/rollout.ts): stage
 * the release on all nodes at once (bundles travel before anyone goes down, and each node
 * prepares the release's modules), then node by node: check the others are ready, upgrade this
 * one, wait for its commit. Five local nodes share this machine's cores, which real nodes do not:
 * their preparing at once slows the first in line.
 * The clients pick a node per request and retry nothing: a node being restarted holds their
 * connections.
 */
import type { ClientConnection } from "../../devtool/client/index.js";
import { dial, type BenchContext } from "../devloop/bench-context.js";
import { mib, sleep, table } from "../devloop/measure.js";
import { MODULES, itemsFor } from "./app.js";
import { ClientLoop, answeredSum, failuresText, readCounters, stateVerdict } from "./clients.js";
import { runRollout, type RolloutRelease } from "../../devtool/release/rollout.js";
import { buildRelease, printUpgradeLog, settled, startAppNode, type AppNode, type Release } from "./fixpoint.js";
import { PAUSE_MS } from "./restart-section.js";

/** Client loops of each kind, spread over the nodes. */
const LOOPS = 2;
const AROUND_MS = 300;
/** The rollout's goal, ms. */
const GOAL_MS = 3000;

export async function rollingSection(ctx: BenchContext, options: { nodes: number; stateMb: number; rollouts: number }): Promise<void> {
  const { out } = ctx;
  const { items, bytesPerModule } = itemsFor(options.stateMb * 2 ** 20);
  out(`## Rolling upgrade of ${options.nodes} local nodes under traffic`);
  out(
    `Each node: 10 modules, ${mib(bytesPerModule * MODULES.length)} of state. Clients: ${LOOPS} fresh-connection and ${LOOPS} keep-alive loops, ` +
      `each request to the next node (retrying nothing), ${PAUSE_MS} ms between requests. Rollout, timed from here: connect to every node, ` +
      `stage on all at once (each node prepares), then per node: status of the others (all ready), upgrade, commit.\n`,
  );
  const nodes: AppNode[] = [];
  try {
    for (let i = 0; i < options.nodes; i++) nodes.push(await startAppNode(ctx, `rolling-${i + 1}`, items));
    const targets = nodes.map((n) => n.target);
    const rows: string[][] = [];
    const totals: number[] = [];
    let failures = 0;
    let lost = 0;
    let incomplete = 0;
    for (let number = 1; number <= options.rollouts; number++) {
      const release = await buildRelease(ctx, number);
      const before = new Map([...(await Promise.all(targets.map((t) => readCounters(t, MODULES))))].flatMap((m) => [...m]));
      const loops = [...Array.from({ length: LOOPS }, () => new ClientLoop("fresh", targets, MODULES, PAUSE_MS)), ...Array.from({ length: LOOPS }, () => new ClientLoop("keep-alive", targets, MODULES, PAUSE_MS))];
      await sleep(AROUND_MS);
      await Promise.all(nodes.map((n) => settled(n.node)));

      const t0 = performance.now();
      const conns: ClientConnection[] = await Promise.all(nodes.map((n) => dial(ctx, n.node)));
      const connected = performance.now();
      // The rollout `devtool upgrade` and fixpoint/client's rollingUpgrade run (devtool/release/rollout.ts).
      let staged = connected;
      const checkMs = new Map<string, number>();
      const report = await runRollout(
        conns.map((conn, i) => ({ label: String(i + 1), conn })),
        {
          number,
          rollback: false,
          release: rolloutRelease(release),
          deadlineMs: 60_000,
          onEvent: (e) => {
            if (e.step === "staged") staged = Math.max(staged, performance.now());
            if (e.step === "checked") checkMs.set(e.node, e.ms ?? 0);
          },
        },
      );
      const perNode: { checkMs: number; upgradeMs: number; outOfServiceMs: number }[] = [];
      for (const { node, fate } of report.fates) if (fate.kind === "upgraded") perNode.push({ checkMs: checkMs.get(node) ?? 0, upgradeMs: fate.ms, outOfServiceMs: fate.outOfServiceMs });
      const stopped = report.stopped === null ? null : `${report.stopped.code}: ${report.stopped.message}`;
      if (stopped !== null) {
        out(`rollout ${number}: ${stopped}`);
        const failed = report.fates.findIndex((f) => f.fate.kind === "rolled-back" || f.fate.kind === "unknown");
        if (failed >= 0) printUpgradeLog(out, nodes[failed]!.node, number);
      }
      const total = performance.now() - t0;
      for (const c of conns) c.close();

      await sleep(AROUND_MS);
      const reports = await Promise.all(loops.map((l) => l.stop()));
      const after = new Map([...(await Promise.all(targets.map((t) => readCounters(t, MODULES))))].flatMap((m) => [...m]));
      const state = stateVerdict(before, after, answeredSum(reports));
      const fresh = reports.filter((r) => r.kind === "fresh");
      const keep = reports.filter((r) => r.kind === "keep-alive");
      const merged = (rs: typeof reports) => ({
        ...rs[0]!,
        requests: rs.reduce((s, r) => s + r.requests, 0),
        refused: rs.reduce((s, r) => s + r.refused, 0),
        failed: rs.reduce((s, r) => s + r.failed, 0),
        reasons: new Map(rs.flatMap((r) => [...r.reasons]).reduce((m, [k, v]) => m.set(k, (m.get(k) ?? 0) + v), new Map<string, number>())),
        longestGapMs: Math.max(...rs.map((r) => r.longestGapMs)),
        slowestMs: Math.max(...rs.map((r) => r.slowestMs)),
      });
      const f = merged(fresh);
      const k = merged(keep);
      failures += f.refused + f.failed + k.refused + k.failed;
      if (!state.kept) lost++;
      if (stopped === null) totals.push(total);
      else incomplete++;
      out(`rollout ${number}: per node (check others ms + upgrade ms, of which out of service ms): ${perNode.map((p, i) => `${i + 1}: ${p.checkMs.toFixed(0)} + ${p.upgradeMs.toFixed(0)} (${p.outOfServiceMs.toFixed(0)})`).join(", ")}`);
      rows.push([
        String(number),
        (connected - t0).toFixed(0),
        (staged - connected).toFixed(0),
        perNode.reduce((s, p) => s + p.checkMs + p.upgradeMs, 0).toFixed(0),
        stopped === null ? total.toFixed(0) : "stopped",
        `${f.longestGapMs.toFixed(0)} / ${f.slowestMs.toFixed(0)}`,
        failuresText(f),
        `${k.longestGapMs.toFixed(0)} / ${k.slowestMs.toFixed(0)}`,
        failuresText(k),
        String(f.requests + k.requests),
        state.text,
      ]);
    }
    out("");
    out(table(["rollout", "connect ms", "stage ms", "restarts ms", "total ms", "fresh: gap / slowest ms", "fresh: failed", "keep-alive: gap / slowest ms", "keep-alive: failed", "requests", "state survived"], rows, new Set([0, 1, 2, 3, 4, 5, 7, 9])));
    out("");
    const worst = Math.max(...totals);
    ctx.goals.push({
      goal: `rolling upgrade of ${options.nodes} nodes < ${GOAL_MS / 1000} s`,
      measured: `worst of ${totals.length}: ${(worst / 1000).toFixed(2)} s${incomplete > 0 ? `; ${incomplete} rollout(s) stopped by a failed node` : ""}`,
      met: incomplete === 0 && worst < GOAL_MS,
    });
    ctx.goals.push({ goal: `rolling upgrade: zero failed requests, clients spread over the nodes`, measured: `${failures} failed in ${totals.length} rollouts`, met: failures === 0 });
    ctx.goals.push({ goal: `rolling upgrade: zero state lost`, measured: lost === 0 ? `kept in ${totals.length} of ${totals.length}` : `lost in ${lost} of ${totals.length}`, met: lost === 0 });
  } finally {
    for (const n of nodes) n.conn.close();
    await Promise.all(nodes.map((n) => n.node.stop()));
  }
}

/** The bench's release as the rollout takes it. */
function rolloutRelease(r: Release): RolloutRelease {
  const bundles = r.byDigest;
  return {
    release: r.release,
    manifest: r.manifest,
    bundle: (digest) => {
      const b = bundles.get(digest);
      if (b === undefined) throw new Error(`bench: release ${r.manifest.number} has no bundle ${digest}`);
      return b;
    },
  };
}
