/**
 * One node's out-of-service time: Fixpoint's guarded restart onto a new release, beside the
 * same app under PM2's `reload` (cluster mode) and under a plain stop-and-start, each with the
 * same ten counters and records, measured by clients that retry nothing.
 */
import type { BenchContext } from "../devloop/bench-context.js";
import { mib, sleep, table } from "../devloop/measure.js";
import { MODULES, itemsFor } from "./app.js";
import { ClientLoop, answeredSum, failuresText, hitsAfterSave, readCounters, stateVerdict, type LoopReport, type Target } from "./clients.js";
import { buildRelease, printUpgradeLog, restartSplit, settled, stage, startAppNode, stepTimes, upgrade, type Release } from "./fixpoint.js";
import { PM2_VERSION, Pm2App, PlainApp, ensurePm2, fillAll } from "./peers.js";

/** Pause of each client loop between an answer (or failure) and its next request, ms. */
export const PAUSE_MS = 5;
/** Traffic before and after the restart, ms. */
const AROUND_MS = 300;

interface Measured {
  /** What the restart itself reports as out of service (Fixpoint's `outOfServiceMs`), ms. */
  reportedMs: number | null;
  /** The whole operation as its caller waited for it (upgrade request, `pm2 reload`, stop+start), ms. */
  commandMs: number;
  fresh: LoopReport;
  keep: LoopReport;
  state: { kept: boolean; text: string };
}

/** Runs `restart` under both client loops, with the state read before and after. */
export async function underTraffic(target: Target, restart: () => Promise<{ reportedMs: number | null; commandMs: number }>): Promise<Measured> {
  const before = await readCounters(target, MODULES);
  const loops = [new ClientLoop("fresh", [target], MODULES, PAUSE_MS), new ClientLoop("keep-alive", [target], MODULES, PAUSE_MS)];
  await sleep(AROUND_MS);
  const r = await restart();
  await sleep(AROUND_MS);
  const [fresh, keep] = await Promise.all(loops.map((l) => l.stop()));
  const after = await readCounters(target, MODULES);
  return { ...r, fresh: fresh!, keep: keep!, state: stateVerdict(before, after, answeredSum([fresh!, keep!])) };
}

const ms = (n: number | null) => (n === null ? "-" : n.toFixed(0));
const seen = (r: LoopReport) => `${r.longestGapMs.toFixed(0)} / ${r.slowestMs.toFixed(0)}`;

export async function restartSection(ctx: BenchContext, options: { upgrades: number; sizesMb: number[]; peers: ReadonlySet<string> }): Promise<void> {
  const { out } = ctx;
  out(`## One node's restart under traffic`);
  out(
    `10 modules (one node:http server with the same 10 counters and records for the peers); state = records of small objects, sized as the runtime saves them (JSON text). ` +
      `Clients that retry nothing, each a loop with ${PAUSE_MS} ms between requests, ${AROUND_MS} ms of traffic before and after: "fresh" opens a connection per request (agent: false), ` +
      `"keep-alive" reuses one. Gap / slowest: the longest time between two answered requests, and the longest a single answered request took, ms. ` +
      `Reported: Fixpoint's outOfServiceMs (drain to commit). Command: the upgrade request, \`pm2 reload\`, or stop + start until answering, as its caller waited.\n`,
  );
  const rows: string[][] = [];
  const stepRows: string[][] = [];
  const releases = new Map<number, Release>();
  const releaseOf = async (n: number) => releases.get(n) ?? releases.set(n, await buildRelease(ctx, n)).get(n)!;
  const pm2 = options.peers.has("pm2") ? ensurePm2(out) : { why: "left out (--peers)" };
  if ("why" in pm2 && options.peers.has("pm2")) out(`PM2 cannot run here, so it is left out: ${pm2.why}\n`);

  const row = (app: string, size: string, n: number, m: Measured) =>
    rows.push([app, size, String(n), ms(m.reportedMs), ms(m.commandMs), seen(m.fresh), failuresText(m.fresh), seen(m.keep), failuresText(m.keep), String(m.fresh.requests + m.keep.requests), m.state.text]);

  for (const mb of options.sizesMb) {
    const { items, bytesPerModule } = itemsFor(mb * 2 ** 20);
    const size = `${mb} MB`;
    out(`state ${size}: ${items} records per module, ${mib(bytesPerModule)} serialized per module, ${mib(bytesPerModule * MODULES.length)} in all`);

    // Fixpoint: a fresh production node per size; releases 1..N, each staged before the traffic starts.
    const fx = await startAppNode(ctx, `upgrade-${mb}mb`, items);
    try {
      let lastCommitted: string | null = "dev";
      for (let n = 1; n <= options.upgrades; n++) {
        const r = await releaseOf(n);
        await stage(fx.conn, r);
        await settled(fx.node);
        let failure: string | null = null;
        const m = await underTraffic(fx.target, async () => {
          const t = performance.now();
          try {
            const result = await upgrade(fx.conn, n);
            return { reportedMs: result.outOfServiceMs, commandMs: performance.now() - t };
          } catch (err) {
            // A rolled-back upgrade is a result too: print it, with the node's log of it.
            failure = `${(err as { code?: string }).code ?? "error"}: ${(err as Error).message}`;
            return { reportedMs: null, commandMs: performance.now() - t };
          }
        });
        if (failure !== null) {
          out(`release ${n} (${size}) did not commit: ${failure}`);
          printUpgradeLog(out, fx.node, n);
          m.state.text += `; NOT COMMITTED (see above)`;
        } else {
          if (!m.fresh.versions.includes(`r${n}`)) throw new Error(`bench: clients never saw release ${n}'s answers (${m.fresh.versions.join(", ")})`);
          if (lastCommitted !== null) {
            const late = hitsAfterSave([m.fresh, m.keep], lastCommitted, `r${n}`);
            if (late > 0) m.state.text += `; ${late} hit(s) answered by the old release after its state was saved`;
          }
          lastCommitted = `r${n}`;
        }
        row("fixpoint guarded restart", size, n, m);
        const steps = stepTimes(fx.node, n);
        if (process.env["BENCH_UPGRADE_LOG"] === "1") printUpgradeLog(out, fx.node, n);
        const split = restartSplit(fx.node, n);
        stepRows.push([
          size,
          String(n),
          ...["verifying", "draining", "saving", "trying", "restarting"].map((s) => ms(steps.find((x) => x.step === s)?.ms ?? null)),
          ms(split.processMs),
          ms(split.modulesMs),
          ...["checking", "committing"].map((s) => ms(steps.find((x) => x.step === s)?.ms ?? null)),
        ]);
      }
    } finally {
      fx.conn.close();
      await fx.node.stop();
    }

    if ("bin" in pm2) {
      let app: Pm2App | null = null;
      try {
        app = await Pm2App.start(pm2.bin, ctx.work);
        for (let n = 1; n <= options.upgrades; n++) {
          await fillAll(app.target, MODULES, items);
          const a = app;
          const m = await underTraffic(a.target, async () => ({ reportedMs: null, commandMs: await a.reload(`r${n}`) }));
          row(`pm2 ${PM2_VERSION} reload (cluster, 1 instance)`, size, n, m);
        }
      } catch (err) {
        out(`PM2 failed, so its rows are missing for ${size}: ${(err as Error).message}`);
      } finally {
        await app?.kill();
      }
    }

    if (options.peers.has("plain")) {
      const plain = await PlainApp.start(ctx.work);
      try {
        for (let n = 1; n <= options.upgrades; n++) {
          await fillAll(plain.target, MODULES, items);
          const m = await underTraffic(plain.target, async () => ({ reportedMs: null, commandMs: await plain.restart(`r${n}`) }));
          row("plain process restart", size, n, m);
        }
      } finally {
        await plain.stop();
      }
    }

    const goalMs = mb >= 10 ? 500 : mb <= 1 ? 250 : null;
    const fxRows = rows.filter((r) => r[0]!.startsWith("fixpoint") && r[1] === size);
    if (goalMs !== null && fxRows.length > 0) {
      const committed = fxRows.filter((r) => r[3] !== "-");
      const worstReported = Math.max(...committed.map((r) => Number(r[3])));
      const worstGap = Math.max(...committed.map((r) => Number(r[5]!.split(" / ")[0])));
      const notCommitted = fxRows.length - committed.length;
      ctx.goals.push({
        goal: `guarded restart, ${size}: out of service < ${goalMs} ms`,
        measured: committed.length === 0 ? `none of ${notCommitted} committed` : `worst of ${committed.length}: reported ${worstReported} ms, clients' longest gap ${worstGap} ms${notCommitted > 0 ? `; ${notCommitted} did not commit` : ""}`,
        met: notCommitted === 0 && worstReported < goalMs && worstGap < goalMs,
      });
      const failed = fxRows.filter((r) => r[6] !== "0" || r[8] !== "0").length;
      ctx.goals.push({ goal: `guarded restart, ${size}: zero refused, zero failed`, measured: failed === 0 ? `0 in ${fxRows.length} restarts` : `failures in ${failed} of ${fxRows.length} restarts`, met: failed === 0 });
      const lost = fxRows.filter((r) => !r[10]!.startsWith("yes")).length;
      ctx.goals.push({ goal: `guarded restart, ${size}: state survives`, measured: lost === 0 ? `kept in ${fxRows.length} of ${fxRows.length}` : `lost in ${lost} of ${fxRows.length}`, met: lost === 0 });
    }
  }
  out("");
  out(table(["app", "state", "#", "reported ms", "command ms", "fresh: gap / slowest ms", "fresh: failed", "keep-alive: gap / slowest ms", "keep-alive: failed", "requests", "state survived"], rows, new Set([2, 3, 4, 5, 7, 9])));
  out(`\n### Where the guarded restart's time goes (ms between the node's upgrade.step log lines; "committing" runs to upgrade.committed)\n`);
  out(`restarting = process (old runtime stopped, new one started, to its first module restored) + modules (to runtime.up: every module loaded with its state).\n`);
  out(table(["state", "#", "verifying", "draining", "saving", "trying", "restarting", "process", "modules", "checking", "committing"], stepRows, new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])));
  out("");
}
