/**
 * The edits section: save → first HTTP answer with the new code, for Fixpoint into 1 node,
 * into 5 and into 20, `node --watch` and nodemon, with steady traffic counting failed requests
 * and the hit counter telling whether the state survived. Peers are measured in blocks of
 * edits, alternating, so that drift on a shared machine hits all alike. The loaders' CPU is
 * read from /proc while each Fixpoint row's edits run.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { moduleSource, plainServerSource, writePlainApp, writeSource } from "./app.js";
import { appUrl, writeProject, type BenchContext } from "./bench-context.js";
import { EDIT_TIMEOUT_MS, POLL_PAUSE_MS, edit, type EditResult, type EditTarget } from "./edits.js";
import { Seen, Traffic } from "./http.js";
import { CpuMeter, percentile, sleep, table } from "./measure.js";
import {
  freePort,
  pushHasWatch,
  pushOnce,
  startFixpointNode,
  startNodeWatch,
  startNodemon,
  startPushWatch,
  stopAll,
  waitServing,
  type FixpointNode,
  type Peer,
} from "./processes.js";

export const FANOUT_NODES = 5;
export const WIDE_NODES = 20;
const WARMUP_EDITS = 2;
const EDITS_PER_BLOCK = 10;
/** Steady traffic: this many keep-alive loops in all, spread over a peer's URLs (at least one per URL). */
const TRAFFIC_LOOPS = 2;
const TRAFFIC_PAUSE_MS = 5;
/** Traffic runs this long before a block's first edit and after its last. */
const TRAFFIC_LEAD_MS = 300;
/** Pause after an edit is served everywhere, before the next write. */
const EDIT_GAP_MS = 250;

/** One thing being edited: a file, the URLs serving it, and the version it serves now. */
interface Subject {
  target: EditTarget;
  current: string;
  /** Fixpoint only: the nodes (for their swap times) and the watcher (for its own timings). */
  nodes: FixpointNode[];
  watcher?: Peer;
}

/** A row of the table: a subject edited with or without steady traffic. */
interface Row {
  key: string;
  label: string;
  subject: Subject;
  traffic: boolean;
  results: EditResult[];
  requests: number;
  failures: number;
  trafficMs: number;
  reasons: Map<string, number>;
  /** The loaders' CPU while this row's edits ran (Fixpoint rows). */
  loaderCpu: CpuMeter;
}

export interface EditOptions {
  edits: number;
  push: "watch" | "process" | undefined;
}

/** Swap times the nodes logged for `version` (the runtime's load, ms): the slowest node's. */
function swapMsOf(subject: Subject, version: string): number | null {
  const times = subject.nodes.map((n) => n.logs.find((l) => l["event"] === "module.pushed" && l["version"] === version)?.["swapMs"]);
  return times.length > 0 && times.every((t) => typeof t === "number") ? Math.max(...(times as number[])) : null;
}

/** The watcher's own "N ms from save" (change noticed → every node answered) for `version`. */
function watcherMsOf(subject: Subject, version: string): number | null {
  let ms: number | null = null;
  for (const line of (subject.watcher?.output() ?? "").split("\n")) {
    const m = /live v(\S+)\s.*?([\d.]+) ms from save/.exec(line);
    if (m !== null && m[1] === version) ms = Math.max(ms ?? 0, Number(m[2]));
  }
  return ms;
}

function pct(values: number[], q: number): number | null {
  return values.length === 0 ? null : percentile([...values].sort((a, b) => a - b), q);
}

const ms = (v: number | null) => (v === null ? "-" : v.toFixed(1));
const times = (r: number | null) => (r === null ? "-" : `${r.toFixed(1)}x`);
const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b);

export async function editSection(ctx: BenchContext, options: EditOptions): Promise<void> {
  const { out } = ctx;
  const mode = options.push ?? (pushHasWatch() ? "watch" : "process");
  out(`## Edits: save → first HTTP answer with the new code`);
  out(
    `Fixpoint: ${mode === "watch" ? "`devtool push app.ts --watch`, one long-running watcher per project" : "one `devtool push app.ts` process per edit, started right after the write"}; ` +
      `1 node: \`--node n0\`; ${FANOUT_NODES} and ${WIDE_NODES} nodes: fixpoint.json lists them with pinned keys, no --node. Peers: \`node --watch server.js\`, \`nodemon server.js\` (defaults).\n`,
  );

  // A few at a time: twenty-six loaders and runtimes starting at once on 2 cores took longer
  // than a start may.
  const nodes: FixpointNode[] = [];
  for (let i = 0; i < 1 + FANOUT_NODES + WIDE_NODES; i += 4) {
    const batch = Array.from({ length: Math.min(4, 1 + FANOUT_NODES + WIDE_NODES - i) }, (_, k) => i + k);
    nodes.push(...(await Promise.all(batch.map((n) => startFixpointNode(join(ctx.work, `node-${n}`), `n${n}`, ctx.identity.publicKey)))));
  }
  const [single, ...others] = nodes as [FixpointNode, ...FixpointNode[]];
  const fan = others.slice(0, FANOUT_NODES);
  const wide = others.slice(FANOUT_NODES);
  const seen = new Seen();

  const fixpointSubject = async (key: string, label: string, targetNodes: FixpointNode[], nodeArgs: string[]): Promise<Subject> => {
    const dir = join(ctx.work, key);
    writeProject(dir, targetNodes);
    const file = join(dir, "app.ts");
    const first = `${key}-0`;
    writeSource(file, moduleSource(first));
    const urls = targetNodes.map(appUrl);
    const target: EditTarget = { label, file, source: moduleSource, urls };
    let watcher: Peer | undefined;
    if (mode === "watch") watcher = startPushWatch(dir, file, nodeArgs, ctx.home);
    else {
      const r = await pushOnce(dir, file, nodeArgs, ctx.home);
      if (r.status !== 0) throw new Error(`bench: the first devtool push failed:\n${r.output}`);
      target.afterWrite = async () => {
        const again = await pushOnce(dir, file, nodeArgs, ctx.home);
        if (again.status !== 0) process.stderr.write(`bench: devtool push failed:\n${again.output}\n`);
      };
    }
    // On a loaded machine a node's first load can fail (its runtime silent past three heartbeats
    // while twenty others start isolates too, and restarted): save the file again, as a developer
    // would, and the watcher pushes again.
    for (let attempt = 1; ; attempt++) {
      try {
        await Promise.all(urls.map((u) => waitServing(u, 30_000)));
        break;
      } catch (err) {
        if (attempt === 3) throw new Error(`${(err as Error).message}; the watcher said:\n${watcher?.output() ?? "-"}`);
        process.stderr.write(`bench: ${label}: not every node serves the first version yet; saving ${file} again\n`);
        writeSource(file, moduleSource(first) + "\n".repeat(attempt));
        await target.afterWrite?.();
      }
    }
    return { target, current: first, nodes: targetNodes, ...(watcher === undefined ? {} : { watcher }) };
  };

  const plainSubject = async (key: string, label: string, start: (dir: string, port: number) => Peer): Promise<Subject> => {
    const dir = join(ctx.work, key);
    mkdirSync(dir, { recursive: true });
    const first = `${key}-0`;
    const file = writePlainApp(dir, first);
    const port = await freePort();
    const url = new URL(`http://127.0.0.1:${port}/app`);
    start(dir, port);
    await waitServing(url);
    return { target: { label, file, source: plainServerSource, urls: [url] }, current: first, nodes: [] };
  };

  const row = (key: string, label: string, subject: Subject, traffic = true): Row => ({
    key,
    label,
    subject,
    traffic,
    results: [],
    requests: 0,
    failures: 0,
    trafficMs: 0,
    reasons: new Map(),
    loaderCpu: new CpuMeter(subject.nodes.map((n) => n.loaderPid)),
  });
  const one = await fixpointSubject("fp1", "Fixpoint, 1 node", [single], ["--node", single.name]);
  const rows = [
    row("fp1", "Fixpoint, 1 node", one),
    row("fp5", `Fixpoint, ${FANOUT_NODES} nodes (all serving)`, await fixpointSubject("fp5", `Fixpoint, ${FANOUT_NODES} nodes`, fan, [])),
    row("fp20", `Fixpoint, ${WIDE_NODES} nodes (all serving)`, await fixpointSubject("fp20", `Fixpoint, ${WIDE_NODES} nodes`, wide, [])),
    row("nw", "node --watch", await plainSubject("nw", "node --watch", startNodeWatch)),
    row("nm", "nodemon", await plainSubject("nm", "nodemon", startNodemon)),
    row("fp1q", "Fixpoint, 1 node, no steady traffic", one, false),
  ];

  let n = 1;
  const runEdit = async (r: Row, record: boolean): Promise<void> => {
    const version = `${r.key}-${n++}`;
    const result = await edit(r.subject.target, r.subject.current, version, seen);
    r.subject.current = version;
    if (record) r.results.push(result);
    if (result.allMs === null) process.stderr.write(`bench: ${r.label}: ${version} not served within ${EDIT_TIMEOUT_MS} ms\n`);
    await sleep(EDIT_GAP_MS);
  };
  for (const r of rows) for (let i = 0; i < WARMUP_EDITS; i++) await runEdit(r, false);
  for (let done = 0; done < options.edits; done += EDITS_PER_BLOCK) {
    const count = Math.min(EDITS_PER_BLOCK, options.edits - done);
    for (const r of rows) {
      const urls = r.subject.target.urls;
      // Beyond FANOUT_NODES URLs the loops pause longer, so that twenty nodes get the steady
      // traffic five get in all (one loop each at 5 ms would be four times as much, on 2 cores).
      const pauseMs = TRAFFIC_PAUSE_MS * Math.max(1, urls.length / FANOUT_NODES);
      const traffic = r.traffic ? new Traffic(urls, Math.max(1, Math.floor(TRAFFIC_LOOPS / urls.length)), pauseMs, seen) : null;
      const t0 = performance.now();
      await sleep(TRAFFIC_LEAD_MS);
      await r.loaderCpu.during(async () => {
        for (let i = 0; i < count; i++) await runEdit(r, true);
      });
      await sleep(TRAFFIC_LEAD_MS);
      if (traffic === null) continue;
      await traffic.stop();
      r.trafficMs += performance.now() - t0;
      r.requests += traffic.requests;
      r.failures += traffic.failures;
      for (const [why, k] of traffic.reasons) r.reasons.set(why, (r.reasons.get(why) ?? 0) + k);
    }
  }

  const summary = rows.map((r) => {
    const served = r.results.flatMap((e) => (e.allMs === null ? [] : [e.allMs]));
    const swaps = r.results.flatMap((e) => swapMsOf(r.subject, e.version) ?? []);
    const watcherMs = r.results.flatMap((e) => watcherMsOf(r.subject, e.version) ?? []);
    const first = r.results.flatMap((e) => (e.firstMs === null ? [] : [e.firstMs]));
    return {
      r,
      p50: pct(served, 50),
      p95: pct(served, 95),
      max: served.length === 0 ? null : Math.max(...served),
      firstP50: pct(first, 50),
      missed: r.results.length - served.length,
      kept: r.results.filter((e) => e.stateKept).length,
      swapP50: pct(swaps, 50),
      watcherP50: pct(watcherMs, 50),
      loaderCpuPerPush: r.subject.nodes.length === 0 || r.results.length === 0 ? null : r.loaderCpu.us / 1000 / (r.results.length * r.subject.nodes.length),
    };
  });
  const [fp1, fp5, fp20, nw, nm] = summary as [(typeof summary)[0], (typeof summary)[0], (typeof summary)[0], (typeof summary)[0], (typeof summary)[0]];
  out(
    table(
      ["peer", "edits", "p50 ms", "p95 ms", "max ms", "not served", "failed requests / sent", "traffic req/s", "state kept", "devtool: noticed→all answered p50 ms", "node: swap p50 ms", "loader CPU per push ms"],
      summary.map((s) => [
        s.r.label,
        String(s.r.results.length),
        ms(s.p50),
        ms(s.p95),
        ms(s.max),
        String(s.missed),
        s.r.traffic ? `${s.r.failures} / ${s.r.requests}` : "-",
        s.r.traffic ? String(Math.round(s.r.requests / (s.r.trafficMs / 1000))) : "-",
        `${s.kept}/${s.r.results.length}`,
        ms(s.watcherP50),
        ms(s.swapP50),
        s.loaderCpuPerPush === null ? "-" : s.loaderCpuPerPush.toFixed(2),
      ]),
      new Set([1, 2, 3, 4, 5, 6, 7, 9, 10, 11]),
    ),
  );
  out();
  for (const s of [fp5, fp20]) {
    const n = s.r.subject.nodes.length;
    if (s.firstP50 !== null) out(`Fixpoint, ${n} nodes: the first node served the new code at p50 ${ms(s.firstP50)} ms (the table gives the last of the ${n}).`);
  }
  for (const s of summary) {
    if (s.r.reasons.size > 0) out(`${s.r.label}: failed requests by reason: ${[...s.r.reasons].map(([why, k]) => `${why} ${k}`).join(", ")}`);
    const lost = s.r.results.filter((e) => !e.stateKept);
    if (lost.length > 0) out(`${s.r.label}: counter after vs before the edit, where it went back: ${lost.slice(0, 5).map((e) => `${e.hitsAfter} after ${e.hitsBefore}`).join(", ")}${lost.length > 5 ? ", …" : ""}`);
  }
  const rNw = ratio(nw.p50, fp1.p50);
  const rNm = ratio(nm.p50, fp1.p50);
  out(
    `\nratios (peer p50 / Fixpoint 1-node p50): node --watch ${times(rNw)}, nodemon ${times(rNm)}; ` +
      `p95: node --watch ${times(ratio(nw.p95, fp1.p95))}, nodemon ${times(ratio(nm.p95, fp1.p95))}; ` +
      `Fixpoint to ${FANOUT_NODES} nodes: node --watch ${times(ratio(nw.p50, fp5.p50))}, nodemon ${times(ratio(nm.p50, fp5.p50))}; ` +
      `to ${WIDE_NODES} nodes: node --watch ${times(ratio(nw.p50, fp20.p50))}, nodemon ${times(ratio(nm.p50, fp20.p50))}`,
  );
  out(
    `edits: ${options.edits} measured per row after ${WARMUP_EDITS} unmeasured, in blocks of ${EDITS_PER_BLOCK} alternating between rows; ` +
      `poller: one keep-alive GET per URL every ${POLL_PAUSE_MS} ms × the number of URLs after its answer (1 ms for one node, 5 ms per node for five, 20 for twenty), from the write until the new version answers; ` +
      `steady traffic: ${TRAFFIC_LOOPS} keep-alive loops per row (at least one per node), ${TRAFFIC_PAUSE_MS} ms pause after each answer (× nodes / ${FANOUT_NODES} beyond ${FANOUT_NODES} nodes), ` +
      `from ${TRAFFIC_LEAD_MS} ms before a block's first write to ${TRAFFIC_LEAD_MS} ms after its last answer; a failed request = error, non-200 or no answer in 5 s. ` +
      `State kept = the first answer with the new version shows a counter above the highest seen before the write. ` +
      `Loader CPU per push: user + system time of the row's loader processes (/proc, 10 ms ticks) while its measured edits ran, over edits × nodes; it includes what the loaders do meanwhile besides the push (heartbeats, state snapshots).\n`,
  );

  ctx.goals.push(
    { goal: "1 node: p50 <= 15 ms", measured: `${ms(fp1.p50)} ms`, met: fp1.p50 !== null && fp1.p50 <= 15 },
    { goal: "1 node: p95 <= 40 ms", measured: `${ms(fp1.p95)} ms`, met: fp1.p95 !== null && fp1.p95 <= 40 },
    { goal: `${FANOUT_NODES} nodes: p50 <= 30 ms (all serving)`, measured: `${ms(fp5.p50)} ms`, met: fp5.p50 !== null && fp5.p50 <= 30 },
    { goal: `${WIDE_NODES} nodes: p50 <= 100 ms (all serving)`, measured: `${ms(fp20.p50)} ms`, met: fp20.p50 !== null && fp20.p50 <= 100 },
    { goal: ">= 15x faster than node --watch (p50)", measured: times(rNw), met: rNw !== null && rNw >= 15 },
    { goal: ">= 5x faster than nodemon (p50)", measured: times(rNm), met: rNm !== null && rNm >= 5 },
    { goal: "zero failed requests (Fixpoint)", measured: `${fp1.r.failures} + ${fp5.r.failures} + ${fp20.r.failures}`, met: fp1.r.failures + fp5.r.failures + fp20.r.failures === 0 },
    {
      goal: "state kept on every edit (Fixpoint)",
      measured: summary.filter((s) => s.r.subject.nodes.length > 0).map((s) => `${s.kept}/${s.r.results.length}`).join(", "),
      met: summary.filter((s) => s.r.subject.nodes.length > 0).every((s) => s.kept === s.r.results.length && s.missed === 0),
    },
  );

  await stopAll();
}
