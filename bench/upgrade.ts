/**
 * Upgrade benchmark (issue 11, "Speed"): one node's out-of-service time in a guarded restart
 * with 10 modules and 10 MB (then 1 MB) of state, beside the same app under PM2's `reload` in
 * cluster mode and under a plain process restart, all in this run; then a rolling upgrade of
 * five local nodes under steady traffic. Clients retry nothing; failed requests, refused
 * connections, the longest gap between answers and whether the state survived are printed.
 *
 *   npm run bench:upgrade                       (builds dist/, then: node --import tsx bench/upgrade.ts)
 *   node --import tsx bench/upgrade.ts --only=restart,rolling   a subset
 *   node --import tsx bench/upgrade.ts --upgrades=2             restarts per app and state size
 *   node --import tsx bench/upgrade.ts --sizes=10,1             state sizes, MB in all
 *   node --import tsx bench/upgrade.ts --peers=pm2,plain           peers beside the guarded restart (none: only Fixpoint)
 *   node --import tsx bench/upgrade.ts --nodes=5 --rollouts=2 --rolling-mb=1
 *
 * PM2 is installed into bench/.work at run time if missing (not a dependency of the project);
 * if it cannot run, the bench says why and goes on without it. Fixpoint runs from dist/.
 */
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { loadavg } from "node:os";
import { createContext } from "./devloop/bench-context.js";
import { table } from "./devloop/measure.js";
import { ROOT, killAllNow, stopAll } from "./devloop/processes.js";
import { killPm2Sync } from "./upgrade/peers.js";
import { restartSection } from "./upgrade/restart-section.js";
import { rollingSection } from "./upgrade/rolling-section.js";
import { machineLine } from "./machine.js";

const args = process.argv.slice(2);
const known = ["only", "upgrades", "sizes", "nodes", "rollouts", "rolling-mb", "peers"];
for (const a of args) {
  const name = /^--([a-z-]+)=/.exec(a)?.[1];
  if (name === undefined || !known.includes(name)) throw new Error(`unknown argument "${a}" (known: ${known.map((k) => `--${k}=…`).join(", ")})`);
}
const option = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const only = option("only") === undefined ? null : new Set(option("only")!.split(","));
for (const part of only ?? []) if (!["restart", "rolling"].includes(part)) throw new Error(`--only takes restart, rolling; got "${part}"`);
const wanted = (part: string): boolean => only === null || only.has(part);
function count(name: string, fallback: number, max: number): number {
  const n = Number(option(name) ?? fallback);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be an integer 1..${max}`);
  return n;
}
const upgrades = count("upgrades", 2, 50);
const nodes = count("nodes", 5, 20);
const rollouts = count("rollouts", 2, 20);
const rollingMb = count("rolling-mb", 1, 100);
const sizesMb = (option("sizes") ?? "10,1").split(",").map(Number);
const peers = new Set((option("peers") ?? "pm2,plain").split(",").filter((p) => p !== "none"));
for (const p of peers) if (p !== "pm2" && p !== "plain") throw new Error(`--peers takes pm2, plain or none; got "${p}"`);
if (sizesMb.some((n) => !Number.isInteger(n) || n < 1 || n > 200)) throw new Error("--sizes takes integers 1..200 (MB of state in all), comma-separated");

/** How long a bare `node -e ""` takes to start and exit now, ms: a gauge of how busy the machine is when the figures are taken. */
function nodeStartMs(): string {
  const t = performance.now();
  spawnSync(process.execPath, ["-e", ""]);
  return (performance.now() - t).toFixed(0);
}

function git(...argv: string[]): string {
  return spawnSync("git", argv, { cwd: ROOT, encoding: "utf8" }).stdout.trimEnd();
}

const ctx = createContext();
const { out } = ctx;

async function main(): Promise<void> {
  const load = loadavg();
  const dirty = git("status", "--short", "--", "loader", "runtime", "devtool");
  out(machineLine());
  out(`code:    ${git("rev-parse", "--short", "HEAD")}${dirty === "" ? "" : ` plus uncommitted changes in ${dirty.split("\n").map((l) => l.slice(3)).join(", ")}`} (dist/ built from the working tree)`);
  out(`load:    ${load.map((l) => l.toFixed(2)).join(" ")} (1/5/15 min) at start${load[0]! > 0.5 ? " -- other work is running; figures will be noisy" : ""}; \`node -e ""\` takes ${nodeStartMs()} ms\n`);
  if (wanted("restart")) await restartSection(ctx, { upgrades, sizesMb, peers });
  if (wanted("rolling")) await rollingSection(ctx, { nodes, stateMb: rollingMb, rollouts });
  if (ctx.goals.length > 0) {
    out(`## Goals`);
    out(table(["goal", "measured", "met"], ctx.goals.map((g) => [g.goal, g.measured, g.met ? "yes" : "NO"]), new Set()));
  }
  out(`\nload:    ${loadavg().map((l) => l.toFixed(2)).join(" ")} (1/5/15 min) at the end; \`node -e ""\` takes ${nodeStartMs()} ms`);
}

process.on("exit", killAllNow);
process.once("SIGINT", () =>
  void stopAll().then(() => {
    killPm2Sync(ctx.work);
    rmSync(ctx.work, { recursive: true, force: true });
    process.exit(130);
  }),
);
try {
  await main();
} finally {
  await stopAll();
  killPm2Sync(ctx.work);
  rmSync(ctx.work, { recursive: true, force: true });
}
