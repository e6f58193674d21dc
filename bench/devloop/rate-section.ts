/**
 * The rates section: calls/s through the client library beside the channel's own ping rate,
 * and HTTP requests/s through a module's http handler beside a plain node:http server doing
 * the same work, measured alternately round by round; then where an edit's time goes.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { writePlainApp } from "./app.js";
import { appUrl, dial, type BenchContext } from "./bench-context.js";
import { breakdown } from "./breakdown.js";
import { get, keepAliveAgent } from "./http.js";
import { cpuText, median, rate, table, withCpu } from "./measure.js";
import { bundleMaker, push } from "./memory.js";
import { freePort, startFixpointNode, startPlainServer, waitServing } from "./processes.js";

const ROUNDS = 3;
const ROUND_MS = 800;
const WARMUP_MS = 300;
const BREAKDOWN_ROUNDS = 30;

interface RateRow {
  metric: string;
  fixpoint: number;
  peer: number;
  peerName: string;
  fixpointCpu: number;
  peerCpu: number;
  spread: string;
  goal: string;
  met: boolean | null;
}

/** Median rates of both, measured alternately; CPU per operation of this process plus `pids`. */
async function alternate(fixOp: () => Promise<unknown>, peerOp: () => Promise<unknown>, inFlight: number, fixPids: number[], peerPids: number[]) {
  await rate(fixOp, inFlight, WARMUP_MS);
  await rate(peerOp, inFlight, WARMUP_MS);
  const fix: number[] = [];
  const peer: number[] = [];
  let fixOps = 0;
  let fixCpu = 0;
  let peerOps = 0;
  let peerCpu = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const f = await withCpu(fixPids, () => rate(fixOp, inFlight, ROUND_MS));
    const q = await withCpu(peerPids, () => rate(peerOp, inFlight, ROUND_MS));
    fix.push(f.result.perSecond);
    peer.push(q.result.perSecond);
    fixOps += f.result.ops;
    fixCpu += f.cpuUs;
    peerOps += q.result.ops;
    peerCpu += q.cpuUs;
  }
  return { fix: median(fix), peer: median(peer), fixCpu: fixCpu / fixOps, peerCpu: peerCpu / peerOps, spread: `${Math.round(Math.min(...fix))}..${Math.round(Math.max(...fix))}` };
}

const inFlightText = (n: number) => (n === 1 ? "sequential" : `${n} in flight`);

export async function rateSection(ctx: BenchContext): Promise<void> {
  const { out } = ctx;
  out(`## Rates`);
  const node = await startFixpointNode(join(ctx.work, "node-rates"), "rates", ctx.identity.publicKey);
  const conn = await dial(ctx, node);
  const make = await bundleMaker(join(ctx.work, "rates-module"), ctx.identity);
  await push(conn, make("app", "rates-1"));
  const plainDir = join(ctx.work, "plain");
  mkdirSync(plainDir, { recursive: true });
  writePlainApp(plainDir, "plain-1");
  const port = await freePort();
  const plainUrl = new URL(`http://127.0.0.1:${port}/app`);
  const nodeUrl = appUrl(node);
  const plain = startPlainServer(plainDir, port);
  await waitServing(plainUrl);
  await waitServing(nodeUrl);
  const rows: RateRow[] = [];
  const nodePids = [node.loaderPid, node.runtimePid];

  const ping = () => conn.request("ping", {});
  const call = () => conn.request("call", { module: "app", fn: "hit", args: [] });
  for (const inFlight of [1, 16]) {
    const r = await alternate(call, ping, inFlight, nodePids, nodePids);
    rows.push({ metric: `calls/s, ${inFlightText(inFlight)}`, fixpoint: r.fix, peer: r.peer, peerName: "channel ping", fixpointCpu: r.fixCpu, peerCpu: r.peerCpu, spread: r.spread, goal: "", met: null });
  }
  for (const inFlight of [1, 16]) {
    const fixAgent = keepAliveAgent(inFlight);
    const plainAgent = keepAliveAgent(inFlight);
    const check = (got: Awaited<ReturnType<typeof get>>) => {
      if (got.answer === null) throw new Error(`bench: HTTP request failed: ${got.failure}`);
    };
    const r = await alternate(
      async () => check(await get(nodeUrl, fixAgent)),
      async () => check(await get(plainUrl, plainAgent)),
      inFlight,
      nodePids,
      [plain.pid],
    );
    fixAgent.destroy();
    plainAgent.destroy();
    const x = r.fix / r.peer;
    rows.push({ metric: `HTTP requests/s, ${inFlightText(inFlight)}`, fixpoint: r.fix, peer: r.peer, peerName: "plain node:http", fixpointCpu: r.fixCpu, peerCpu: r.peerCpu, spread: r.spread, goal: ">= 0.5x plain", met: x >= 0.5 });
    ctx.goals.push({ goal: `HTTP through a module >= 0.5x plain node:http (${inFlightText(inFlight)})`, measured: `${x.toFixed(2)}x`, met: x >= 0.5 });
  }
  await plain.stop();
  const steps = await breakdown(join(ctx.work, "breakdown"), conn, ctx.identity, BREAKDOWN_ROUNDS);
  conn.close();
  await node.stop();

  out(
    table(
      ["metric", "fixpoint", "peer", "peer is", "fixpoint/peer", "CPU/op fixpoint", "CPU/op peer", "fixpoint spread", "goal", "met"],
      rows.map((r) => [
        r.metric,
        Math.round(r.fixpoint).toLocaleString("en-US"),
        Math.round(r.peer).toLocaleString("en-US"),
        r.peerName,
        `${(r.fixpoint / r.peer).toFixed(2)}x`,
        cpuText(r.fixpointCpu),
        cpuText(r.peerCpu),
        r.spread,
        r.goal,
        r.met === null ? "" : r.met ? "yes" : "NO",
      ]),
      new Set([1, 2, 4, 5, 6]),
    ),
  );
  out(
    `\ncalls: ClientConnection.request("call", {module: "app", fn: "hit"}) on one connection, against request("ping", {}) on the same connection; ` +
      `HTTP: GET /app on keep-alive connections (as many as in flight) to the module's http handler on the node vs the same app on \`node server.js\`; ` +
      `median of ${ROUNDS} rounds of ${ROUND_MS} ms per peer, alternating. CPU/op: this process plus the server processes ` +
      `(loader + runtime for Fixpoint, the server for plain), user + system, from process.cpuUsage and /proc (10 ms ticks).\n`,
  );

  out(`### Where an edit's time goes (one idle node, no traffic, each step timed in this process)`);
  out(table(["step", "p50 ms", "p95 ms"], steps.map((s) => [s.step, s.p50.toFixed(1), s.p95.toFixed(1)]), new Set([1, 2])));
  const sum = steps.filter((s) => !s.step.startsWith(" ")).reduce((a, s) => a + s.p50, 0);
  out(
    `\n${BREAKDOWN_ROUNDS} edits of the app module through the steps \`devtool push --watch\` takes, run one after another in this process; ` +
      `sum of the step p50s: ${sum.toFixed(1)} ms. The watcher adds two stats (the file must not change while it builds); the push round trip ` +
      `includes work after the swap (the state snapshot, making the version current) that HTTP does not wait for.\n`,
  );
}
