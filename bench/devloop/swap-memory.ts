/**
 * The runtime's memory across many swaps and calls, on its own (the whole dev-loop bench takes
 * minutes; this is the part to run while working on memory). For each count of other modules
 * loaded beside it, a fresh node gets `--swaps` pushes of module "churn" (each a new version),
 * then `--calls` calls to it, and the runtime's and loader's RSS is read along the way.
 *
 *   node scripts/build.mjs && node --import tsx bench/devloop/swap-memory.ts
 *   node --import tsx bench/devloop/swap-memory.ts --swaps=1000 --others=0,20 --calls=20000
 *
 * What grew before the fixes (issue 5): every swapped-out version stayed reachable in the
 * runtime's heap (its host functions held by isolated-vm, and each version's hooks held the one
 * before it), and every call through `result: { promise: true }` left a promise holder and the
 * result's copy in the module's isolate until that isolate's own GC, which an idle module never
 * runs; the loader's snapshots make such a call per loaded module after every swap.
 */
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ClientConnection } from "../../devtool/client/index.js";
import type { WireBundle } from "../../loader/index.js";
import { createContext, dial } from "./bench-context.js";
import { CpuMeter, cpuText, mib, table } from "./measure.js";
import { bundleMaker, push, settledRss } from "./memory.js";
import { killAllNow, rssBytes, startFixpointNode, stopAll } from "./processes.js";

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
for (const a of args) if (!/^--(swaps|others|calls|profile|loader-flags)=/.test(a)) throw new Error(`unknown argument "${a}" (known: --swaps=N, --others=N[,N…], --calls=N, --profile=DIR, --loader-flags=FLAG[,FLAG…])`);
const swaps = Number(option("swaps", "1000"));
const othersList = option("others", "0,20").split(",").map(Number);
const calls = Number(option("calls", "20000"));
const profile = option("profile", "");
const loaderFlags = option("loader-flags", "").split(",").filter((f) => f !== "");
if (!Number.isInteger(swaps) || swaps < 100) throw new Error("--swaps must be an integer >= 100");
if (othersList.some((n) => !Number.isInteger(n) || n < 0 || n > 200)) throw new Error("--others takes integers 0..200");
if (!Number.isInteger(calls) || calls < 0) throw new Error("--calls must be an integer >= 0");

const ctx = createContext();
const { out } = ctx;
const perKiB = (bytes: number, n: number) => `${(bytes / n / 1024).toFixed(1)} KiB`;
const signed = (bytes: number) => `${bytes >= 0 ? "+" : ""}${mib(bytes)}`;

async function run(others: number, make: (name: string, version: string) => WireBundle): Promise<void> {
  const nodeArgs = [...loaderFlags, ...(profile === "" ? [] : ["--cpu-prof", `--cpu-prof-dir=${resolve(profile)}`])];
  const node = await startFixpointNode(join(ctx.work, `node-${others}`), `swaps-${others}`, ctx.identity.publicKey, { nodeArgs });
  const loaderCpu = new CpuMeter([node.loaderPid]);
  const runtimeCpu = new CpuMeter([node.runtimePid]);
  const conn: ClientConnection = await dial(ctx, node);
  try {
    for (let i = 1; i <= others; i++) await push(conn, make(`m${i}`, `m${i}-1`));
    await push(conn, make("churn", "churn-0"));
    const marks: [string, number, number, number][] = [];
    const mark = async (at: string) => {
      const runtime = await settledRss(node.runtimePid);
      const heap = (await conn.request("status", {})).memory.heapUsed;
      marks.push([at, runtime, rssBytes(node.loaderPid), heap]);
    };
    await mark("swap 0");
    const at = new Set([10, 100, Math.round(swaps / 4), Math.round(swaps / 2), Math.round((3 * swaps) / 4), swaps]);
    for (let i = 1; i <= swaps; i++) {
      const bundle = make("churn", `churn-${i}`);
      // CPU counted from swap 100 on (after warm-up), while pushes run, not while RSS settles.
      if (i > 100) await loaderCpu.during(() => runtimeCpu.during(() => push(conn, bundle)));
      else await push(conn, bundle);
      if (at.has(i)) await mark(`swap ${i}`);
    }
    const afterSwaps = marks.at(-1)!;
    if (calls > 0) {
      for (let i = 1; i <= calls; i++) await conn.request("call", { module: "churn", fn: "hit", args: [] });
      await mark(`then ${calls} calls`);
    }
    out(`### ${swaps} swaps${calls > 0 ? ` and ${calls} calls` : ""}, ${others === 0 ? "alone on a fresh node" : `with ${others} other modules loaded`}`);
    out(table(["after", "runtime RSS", "loader RSS", "loader heapUsed"], marks.map(([label, runtime, loader, heap]) => [label, mib(runtime), mib(loader), mib(heap)]), new Set([1, 2, 3])));
    const at100 = marks.find(([label]) => label === "swap 100")!;
    const swapGrowth = afterSwaps[1] - at100[1];
    out(
      `\nswap 100 → ${swaps}: runtime ${signed(swapGrowth)} (${perKiB(swapGrowth, swaps - 100)} per swap), loader ${signed(afterSwaps[2] - at100[2])} (${perKiB(afterSwaps[2] - at100[2], swaps - 100)} per push)` +
        (calls > 0 ? `; ${calls} calls: runtime ${signed(marks.at(-1)![1] - afterSwaps[1])} (${((marks.at(-1)![1] - afterSwaps[1]) / calls).toFixed(0)} B per call)` : "") +
        `; CPU per push from swap 100 on: loader ${cpuText(loaderCpu.us / (swaps - 100))}, runtime ${cpuText(runtimeCpu.us / (swaps - 100))}` +
        `. Runtime RSS: median of 5 readings 200 ms apart after 1 s quiet; loader RSS: one reading.\n`,
    );
  } finally {
    conn.close();
    await node.stop();
  }
}

process.on("exit", killAllNow);
process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));
try {
  const make = await bundleMaker(join(ctx.work, "module"), ctx.identity);
  for (const others of othersList) await run(others, make);
} finally {
  await stopAll();
  rmSync(ctx.work, { recursive: true, force: true });
}
