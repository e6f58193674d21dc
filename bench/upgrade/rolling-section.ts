/**
 * A rolling upgrade of several local nodes under steady traffic, driven from here with the
 * channel client the way `devtool upgrade` is specified (issue 11): connect to every node, stage
 * the release on all of them at once (bundles travel before anyone goes down), then node by
 * node: check the others are ready, upgrade this one, wait for its commit. The clients pick a
 * node per request and retry nothing: a node being restarted holds their connections.
 */
import type { ClientConnection } from "../../devtool/client/index.js";
import { dial, type BenchContext } from "../devloop/bench-context.js";
import { mib, sleep, table } from "../devloop/measure.js";
import { MODULES, itemsFor } from "./app.js";
import { ClientLoop, answeredSum, failuresText, readCounters, stateVerdict } from "./clients.js";
import { buildRelease, printUpgradeLog, stage, startAppNode, upgrade, type AppNode } from "./fixpoint.js";
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
      `stage on all at once, then per node: status of the others (all ready), upgrade, commit.\n`,
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

      const t0 = performance.now();
      const conns: ClientConnection[] = await Promise.all(nodes.map((n) => dial(ctx, n.node)));
      const connected = performance.now();
      await Promise.all(conns.map((c) => stage(c, release)));
      const staged = performance.now();
      const perNode: { checkMs: number; upgradeMs: number; outOfServiceMs: number }[] = [];
      let stopped: string | null = null;
      for (let i = 0; i < conns.length; i++) {
        const c0 = performance.now();
        const others = await Promise.all(conns.filter((_, j) => j !== i).map((c) => c.request("status", {})));
        const notReady = others.filter((s) => s.ready === false || s.modules.some((m) => !m.running));
        if (notReady.length > 0) throw new Error(`bench: ${notReady.map((s) => s.name).join(", ")} not ready before upgrading node ${i + 1}; rollout stopped`);
        const u0 = performance.now();
        try {
          const result = await upgrade(conns[i]!, number);
          perNode.push({ checkMs: u0 - c0, upgradeMs: performance.now() - u0, outOfServiceMs: result.outOfServiceMs });
        } catch (err) {
          // As `devtool upgrade` does: the rollout stops at the first failure (that node rolled back).
          stopped = `node ${i + 1} did not commit (${(err as { code?: string }).code ?? "error"}: ${(err as Error).message}); rollout stopped`;
          out(`rollout ${number}: ${stopped}`);
          printUpgradeLog(out, nodes[i]!.node, number);
          break;
        }
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
