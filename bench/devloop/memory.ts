/**
 * The memory section: the runtime process's RSS per loaded module (against one plain
 * node:http process per app), and the runtime's and the loader's RSS across 1000 swaps of one
 * module in a row after 100 of warm-up, with what each push costs the loader in CPU. Bundles
 * are built once with a placeholder version string and signed once per copy with the
 * placeholder replaced (same length), so a thousand versions cost a thousand signatures, not
 * a thousand esbuild runs.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { signBundle, type ClientConnection } from "../../devtool/client/index.js";
import { type KeyPair, type WireBundle } from "../../loader/index.js";
import { buildModule } from "../../devtool/build/build.js";
import { moduleSource, writePlainApp, writeSource } from "./app.js";
import { dial, type BenchContext } from "./bench-context.js";
import { get, keepAliveAgent } from "./http.js";
import { CpuMeter, cpuText, median, mib, percentile, sleep, table } from "./measure.js";
import { freePort, rssBytes, startFixpointNode, startPlainServer, waitServing, type FixpointNode } from "./processes.js";

const PLACEHOLDER = "version-placeholder-000000";

/** Builds the app module once; returns a maker of signed bundles named `name` with version `version` (at most the placeholder's length). */
export async function bundleMaker(dir: string, identity: KeyPair): Promise<(name: string, version: string) => WireBundle> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "app.ts");
  writeFileSync(file, moduleSource(PLACEHOLDER));
  const built = await buildModule(file);
  const code = Buffer.from(built.code).toString("utf8");
  if (!code.includes(PLACEHOLDER)) throw new Error("bench: the built module lost its version string");
  return (name, version) => {
    if (version.length > PLACEHOLDER.length) throw new Error(`bench: version "${version}" longer than the placeholder`);
    const bytes = Buffer.from(code.replaceAll(PLACEHOLDER, version.padEnd(PLACEHOLDER.length, "_")));
    return signBundle(name, bytes, built.sourceMap, identity).bundle;
  };
}

/** The median of `samples` RSS readings `everyMs` apart, after `settleMs` of quiet. */
export async function settledRss(pid: number, settleMs = 1000, samples = 5, everyMs = 200): Promise<number> {
  return (await settledRssOf([pid], settleMs, samples, everyMs))[0]!;
}

/** The same for several processes at once: one median per pid. */
export async function settledRssOf(pids: number[], settleMs = 1000, samples = 5, everyMs = 200): Promise<number[]> {
  await sleep(settleMs);
  const values: number[][] = pids.map(() => []);
  for (let i = 0; i < samples; i++) {
    if (i > 0) await sleep(everyMs);
    pids.forEach((pid, k) => values[k]!.push(rssBytes(pid)));
  }
  return values.map(median);
}

/** Pushes `bundle` and fails unless the node loaded it. */
export async function push(conn: ClientConnection, bundle: WireBundle): Promise<void> {
  const r = await conn.request("push", { bundle }, { timeoutMs: 60_000 });
  if (r.version === undefined) throw new Error(`bench: push of ${r.name} did not load (${JSON.stringify(r)})`);
}

// ─── The section ────────────────────────────────────────────────────────────

const MODULES_FOR_RSS = 20;
/**
 * Swaps before the measured ones. The loader's RSS grows by some MiB over its first thousand
 * pushes and then stays flat (seen up to 3000 here, bench/RESULTS.md): its code gets compiled,
 * its log of the last 1000 events fills, V8 sizes its old generation to the garbage a push
 * leaves between major collections. A heap snapshot after a full GC grew 0.7 MiB over pushes
 * 100 to 1100, most of it compiled code and that log.
 */
const WARMUP_SWAPS = 1000;
const SWAPS = 1000;
const LAST = WARMUP_SWAPS + SWAPS;
const SWAP_MARKS = [10, 100, WARMUP_SWAPS, WARMUP_SWAPS + SWAPS / 2, LAST];
/** Runtime RSS growth over the measured swaps still counted as noise: this fraction of RSS after warm-up. */
const SWAP_GROWTH_NOISE = 0.1;
/** Issue 10: the loader runs for months; after warm-up its RSS over 1000 pushes stays within this. */
const LOADER_GROWTH_LIMIT = 2 * 2 ** 20;
/** Issue 10: what a push may cost the loader in CPU, µs. */
const LOADER_CPU_PER_PUSH_US = 1500;
/**
 * Quiet time after the last swap before one more reading: V8 shrinks a heap that stopped
 * growing only after some idle seconds (on this machine an idle node's runtime RSS fell only
 * between 15 and 30 s after its last work), so growth that disappears by then was garbage.
 */
const IDLE_AFTER_SWAPS_MS = 30_000;

export async function memorySection(ctx: BenchContext): Promise<void> {
  const { out } = ctx;
  out(`## Memory of the runtime process`);
  const node = await startFixpointNode(join(ctx.work, "node-memory"), "memory", ctx.identity.publicKey);
  const conn = await dial(ctx, node);
  const make = await bundleMaker(join(ctx.work, "memory-module"), ctx.identity);

  const base = await settledRss(node.runtimePid);
  for (let i = 1; i <= MODULES_FOR_RSS; i++) await push(conn, make(`m${i}`, `m${i}-1`));
  const loaded = await settledRss(node.runtimePid);
  const perModule = (loaded - base) / MODULES_FOR_RSS;
  const status = await conn.request("status", {});
  const heaps = status.modules.flatMap((m) => (m.running && typeof m.heapUsed === "number" ? [m.heapUsed] : []));

  // The peer: one plain node:http process per app, after serving a few requests.
  const plainDir = join(ctx.work, "plain-memory");
  mkdirSync(plainDir, { recursive: true });
  writePlainApp(plainDir, "plain-1");
  const port = await freePort();
  const plainUrl = new URL(`http://127.0.0.1:${port}/app`);
  const plain = startPlainServer(plainDir, port);
  await waitServing(plainUrl);
  const agent = keepAliveAgent(1);
  for (let i = 0; i < 100; i++) await get(plainUrl, agent);
  agent.destroy();
  const plainRss = await settledRss(plain.pid);
  await plain.stop();

  out(
    table(
      ["", "RSS"],
      [
        ["runtime, no module", mib(base)],
        [`runtime, ${MODULES_FOR_RSS} modules`, mib(loaded)],
        ["runtime, per module", mib(perModule)],
        ["module isolate heapUsed (status), median", heaps.length === 0 ? "-" : mib(median(heaps))],
        ["peer: one `node server.js` process (same app, after 100 requests)", mib(plainRss)],
        ["peer / Fixpoint per module", `${(plainRss / perModule).toFixed(1)}x`],
      ],
      new Set([1]),
    ),
  );
  out(`\nRSS: VmRSS of the runtime process, median of 5 readings 200 ms apart after 1 s quiet. Modules: the app module under ${MODULES_FOR_RSS} names, pushed one after another.\n`);

  // SWAPS swaps of one module in a row: alone on a fresh node, then beside the MODULES_FOR_RSS others.
  const alone = await startFixpointNode(join(ctx.work, "node-swaps"), "swaps", ctx.identity.publicKey);
  const aloneConn = await dial(ctx, alone);
  await swapRun(ctx, alone, aloneConn, make, 0, 0);
  aloneConn.close();
  await alone.stop();
  await swapRun(ctx, node, conn, make, MODULES_FOR_RSS, IDLE_AFTER_SWAPS_MS);
  conn.close();
  await node.stop();
}

/**
 * WARMUP_SWAPS + SWAPS pushes of module "churn", each a new version, with RSS readings along the
 * way and the loader's and runtime's CPU over the measured ones; `idleMs` > 0 adds one more
 * reading after that long.
 */
async function swapRun(ctx: BenchContext, node: FixpointNode, conn: ClientConnection, make: (name: string, version: string) => WireBundle, others: number, idleMs: number): Promise<void> {
  const { out } = ctx;
  const where = others === 0 ? "alone on a fresh node" : `with ${others} other modules loaded`;
  await push(conn, make("churn", "churn-0"));
  const before = await conn.request("call", { module: "churn", fn: "hit", args: [] });
  const pushMs: number[] = [];
  const marks = new Map<string, { runtime: number; loader: number }>();
  const mark = async (at: string) => {
    const [runtime, loader] = await settledRssOf([node.runtimePid, node.loaderPid]);
    marks.set(at, { runtime: runtime!, loader: loader! });
  };
  const loaderCpu = new CpuMeter([node.loaderPid]);
  const runtimeCpu = new CpuMeter([node.runtimePid]);
  await mark("0");
  let started = performance.now();
  let pausedMs = 0;
  for (let i = 1; i <= LAST; i++) {
    const bundle = make("churn", `churn-${i}`);
    if (i === WARMUP_SWAPS + 1) {
      started = performance.now();
      pausedMs = 0;
    }
    const t0 = performance.now();
    if (i > WARMUP_SWAPS) await loaderCpu.during(() => runtimeCpu.during(() => push(conn, bundle)));
    else await push(conn, bundle);
    if (i > WARMUP_SWAPS) pushMs.push(performance.now() - t0);
    if (SWAP_MARKS.includes(i)) {
      const m0 = performance.now();
      await mark(String(i));
      pausedMs += performance.now() - m0;
    }
  }
  const swapSeconds = (performance.now() - started - pausedMs) / 1000;
  const after = await conn.request("call", { module: "churn", fn: "hit", args: [] });
  const kept = typeof before.value === "number" && after.value === before.value + 1;
  const idleLabel = `${LAST}, then ${idleMs / 1000} s idle`;
  if (idleMs > 0) {
    await sleep(idleMs - 1000);
    await mark(idleLabel);
  }

  const atWarm = marks.get(String(WARMUP_SWAPS))!;
  const earlier = marks.get("100")!;
  const atEnd = marks.get(String(LAST))!;
  const atIdle = marks.get(idleLabel);
  const growth = atEnd.runtime - atWarm.runtime;
  const loaderGrowth = atEnd.loader - atWarm.loader;
  const signed = (bytes: number) => `${bytes >= 0 ? "+" : ""}${mib(bytes)}`;
  out(`### ${SWAPS} swaps in a row after ${WARMUP_SWAPS} of warm-up, ${where}`);
  out(table(["after swap", "runtime RSS", "loader RSS"], [...marks].map(([at, m]) => [at, mib(m.runtime), mib(m.loader)]), new Set([0, 1, 2])));
  const sorted = [...pushMs].sort((a, b) => a - b);
  const loaderPerPush = loaderCpu.us / SWAPS;
  out(
    `\n${LAST} pushes of module "churn" (each a new version) on one connection, one after another, ${where}; the last ${SWAPS}: ` +
      `${(SWAPS / swapSeconds).toFixed(0)} swaps/s, push round trip p50 ${percentile(sorted, 50).toFixed(1)} ms, p95 ${percentile(sorted, 95).toFixed(1)} ms, ` +
      `CPU per push: loader ${cpuText(loaderPerPush)}, runtime ${cpuText(runtimeCpu.us / SWAPS)}. ` +
      `From swap ${WARMUP_SWAPS} to ${LAST}: runtime RSS ${signed(growth)} (${((growth / atWarm.runtime) * 100).toFixed(0)}%, ${(growth / SWAPS / 1024).toFixed(1)} KiB per swap), ` +
      `loader RSS ${signed(loaderGrowth)} (${(loaderGrowth / SWAPS / 1024).toFixed(1)} KiB per push; from swap 100 to ${WARMUP_SWAPS}, during warm-up: ${signed(atWarm.loader - earlier.loader)})` +
      (atIdle === undefined ? "" : `; ${idleMs / 1000} s later, runtime RSS ${signed(atIdle.runtime - atWarm.runtime)} and loader RSS ${signed(atIdle.loader - atWarm.loader)} against swap ${WARMUP_SWAPS}`) +
      `. RSS: VmRSS, median of 5 readings 200 ms apart after 1 s quiet. CPU: user + system time from /proc (10 ms ticks) while the pushes ran, not while RSS was read. ` +
      `Counter kept across the ${LAST} swaps: ${kept ? "yes" : `NO (${JSON.stringify(before.value)} then ${JSON.stringify(after.value)})`}.\n`,
  );
  ctx.goals.push({
    goal: `runtime RSS flat over ${SWAPS} swaps, ${where} (swap ${WARMUP_SWAPS} → ${LAST} grows < ${SWAP_GROWTH_NOISE * 100}%)`,
    measured: `${mib(atWarm.runtime)} → ${mib(atEnd.runtime)}`,
    met: growth < SWAP_GROWTH_NOISE * atWarm.runtime,
  });
  if (atIdle !== undefined) {
    ctx.goals.push({
      goal: `  the same, ${idleMs / 1000} s after the last swap`,
      measured: `${mib(atWarm.runtime)} → ${mib(atIdle.runtime)}`,
      met: atIdle.runtime - atWarm.runtime < SWAP_GROWTH_NOISE * atWarm.runtime,
    });
  }
  ctx.goals.push({
    goal: `loader RSS within ${mib(LOADER_GROWTH_LIMIT)} over ${SWAPS} pushes after warm-up, ${where}`,
    measured: `${mib(atWarm.loader)} → ${mib(atEnd.loader)} (${signed(loaderGrowth)})`,
    met: loaderGrowth <= LOADER_GROWTH_LIMIT,
  });
  ctx.goals.push({ goal: `loader CPU per push < ${cpuText(LOADER_CPU_PER_PUSH_US)}, ${where}`, measured: cpuText(loaderPerPush), met: loaderPerPush < LOADER_CPU_PER_PUSH_US });
  ctx.goals.push({ goal: `state kept across ${LAST} swaps, ${where}`, measured: kept ? "yes" : "no", met: kept });
}
