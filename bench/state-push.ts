/**
 * Pushes of a module that holds a large state: what each push costs the loader and the runtime
 * in CPU, and its round trip, for states of 1 and 4 MB (a hot swap copies the running version's
 * state out and into the new version; issue 10's "move the data out and back in").
 *
 *   npm run bench:state-push               (builds dist/, then: node --import tsx bench/state-push.ts)
 *   node --import tsx bench/state-push.ts --pushes=25 --sizes=1,4
 *
 * Each version is a real build and signature (only its version string differs); the first load
 * and the five swaps after it are not measured. CPU: user + system time of the node's two processes
 * from /proc (10 ms ticks) across the measured pushes, over their number.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { signBundle } from "../devtool/client/index.js";
import { buildModule } from "../devtool/build/build.js";
import { createContext, dial } from "./devloop/bench-context.js";
import { push } from "./devloop/memory.js";
import { cpuOfPids, median, percentile, table } from "./devloop/measure.js";
import { killAllNow, startFixpointNode, stopAll } from "./devloop/processes.js";
import { machineLine } from "./machine.js";

const args = process.argv.slice(2);
for (const a of args) if (!/^--(pushes|sizes)=/.test(a)) throw new Error(`unknown argument "${a}" (known: --pushes=N, --sizes=MB,MB)`);
const pushes = Number(args.find((a) => a.startsWith("--pushes="))?.slice(9) ?? 25);
if (!Number.isInteger(pushes) || pushes < 1 || pushes > 1000) throw new Error("--pushes must be an integer 1..1000");
const sizes = (args.find((a) => a.startsWith("--sizes="))?.slice(8) ?? "1,4").split(",").map(Number);
if (sizes.some((s) => !Number.isInteger(s) || s < 1 || s > 64)) throw new Error("--sizes takes integers 1..64 (MB), comma-separated");
const WARMUP = 5;

/** A module whose state is `mb` MB of strings: 1024 rows of about 1 KB per MB. */
const source = (mb: number, version: number) => `import { defineModule } from "fixpoint";
export default defineModule({
  version: "v${version}",
  state: () => ({ rows: Array.from({ length: ${mb * 1024} }, (_, i) => "x".repeat(1000) + i) }),
  functions: { rows: (ctx) => ctx.state.rows.length },
});
`;

const ctx = createContext();
process.on("exit", killAllNow);
try {
  const load = loadavg();
  console.log(machineLine());
  console.log(`load:    ${load.map((l) => l.toFixed(2)).join(" ")} (1/5/15 min) at start\n`);
  console.log("## Pushes of a module with a large state: one node, one connection, one push after another");
  const rows: string[][] = [];
  for (const mb of sizes) {
    const node = await startFixpointNode(join(ctx.work, `node-${mb}`), `n${mb}`, ctx.identity.publicKey);
    const dir = join(ctx.work, `m-${mb}`);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "big.ts");
    const bundles = [];
    for (let v = 0; v <= WARMUP + pushes; v++) {
      writeFileSync(file, source(mb, v));
      const built = await buildModule(file);
      bundles.push(signBundle("big", built.code, built.sourceMap, ctx.identity).bundle);
    }
    const conn = await dial(ctx, node);
    for (const b of bundles.slice(0, WARMUP + 1)) await push(conn, b);
    const pids = [node.loaderPid, node.runtimePid];
    const before = pids.map((p) => cpuOfPids([p]));
    const times: number[] = [];
    for (const b of bundles.slice(WARMUP + 1)) {
      const t = performance.now();
      await push(conn, b);
      times.push(performance.now() - t);
    }
    const cpu = pids.map((p, i) => (cpuOfPids([p]) - before[i]!) / pushes / 1000);
    times.sort((a, b) => a - b);
    rows.push([`${mb} MB`, String(pushes), median(times).toFixed(1), percentile(times, 95).toFixed(1), cpu[0]!.toFixed(1), cpu[1]!.toFixed(1)]);
    conn.close();
    await node.stop();
  }
  console.log(table(["state", "pushes", "round trip p50 ms", "p95 ms", "loader CPU per push ms", "runtime CPU per push ms"], rows, new Set([1, 2, 3, 4, 5])));
  console.log(`\nThe first load and ${WARMUP} swaps after it not measured; CPU: user + system time from /proc (10 ms ticks) while the measured pushes ran, over their number.`);
  console.log(`load:    ${loadavg().map((l) => l.toFixed(2)).join(" ")} (1/5/15 min) at the end`);
} finally {
  await stopAll();
  rmSync(ctx.work, { recursive: true, force: true });
}
