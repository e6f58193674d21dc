/**
 * Dev-loop benchmark: from saving a file to the first HTTP answer that carries the new code,
 * for Fixpoint (`devtool push --watch` into one node, into five and into twenty) against
 * `node --watch` and nodemon serving the same app as a plain node:http server, all measured in
 * this run, with the loaders' CPU per push. Also: calls/s through the channel beside its ping
 * rate, HTTP requests/s through a module beside a plain node:http server, the runtime's RSS per
 * module, and the runtime's and loader's RSS and CPU across 1000 swaps after warm-up.
 *
 *   npm run bench:devloop                  (builds dist/, then: node --import tsx bench/devloop.ts)
 *   node --import tsx bench/devloop.ts --only=edits,rates,memory   a subset
 *   node --import tsx bench/devloop.ts --edits=30                  measured edits per row
 *   node --import tsx bench/devloop.ts --push=process              one `devtool push` process per edit instead of --watch
 *
 * Every peer serves "<version> hits=<n>" with the counter in memory (bench/devloop/app.ts).
 * An edit writes the file with a new version string, and a poller asks every URL until it
 * answers with it, while steady keep-alive traffic counts the requests that fail
 * (bench/devloop/edits.ts, edit-section.ts). Fixpoint runs from dist/ (the CLIs a user runs).
 * Sections run one after another and stop their processes before the next starts.
 */
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { loadavg } from "node:os";
import { createContext } from "./devloop/bench-context.js";
import { editSection } from "./devloop/edit-section.js";
import { table } from "./devloop/measure.js";
import { memorySection } from "./devloop/memory.js";
import { ROOT, killAllNow, stopAll } from "./devloop/processes.js";
import { rateSection } from "./devloop/rate-section.js";
import { machineLine } from "./machine.js";

const args = process.argv.slice(2);
const known = ["only", "edits", "push"];
for (const a of args) {
  const name = /^--([a-z]+)=/.exec(a)?.[1];
  if (name === undefined || !known.includes(name)) throw new Error(`unknown argument "${a}" (known: ${known.map((k) => `--${k}=…`).join(", ")})`);
}
const option = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const only = option("only") === undefined ? null : new Set(option("only")!.split(","));
for (const part of only ?? []) if (!["edits", "rates", "memory"].includes(part)) throw new Error(`--only takes edits, rates, memory; got "${part}"`);
const wanted = (part: string): boolean => only === null || only.has(part);
const edits = Number(option("edits") ?? 30);
if (!Number.isInteger(edits) || edits < 1 || edits > 1000) throw new Error("--edits must be an integer 1..1000");
const pushArg = option("push");
if (pushArg !== undefined && pushArg !== "watch" && pushArg !== "process") throw new Error("--push must be watch or process");
const push = pushArg as "watch" | "process" | undefined;

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
  out(`load:    ${load.map((l) => l.toFixed(2)).join(" ")} (1/5/15 min) at start${load[0]! > 0.5 ? " -- other work is running; figures will be noisy" : ""}\n`);
  if (wanted("edits")) await editSection(ctx, { edits, push });
  if (wanted("rates")) await rateSection(ctx);
  if (wanted("memory")) await memorySection(ctx);
  if (ctx.goals.length > 0) {
    out(`## Goals`);
    out(table(["goal", "measured", "met"], ctx.goals.map((g) => [g.goal, g.measured, g.met ? "yes" : "NO"]), new Set()));
  }
  out(`\nload:    ${loadavg().map((l) => l.toFixed(2)).join(" ")} (1/5/15 min) at the end`);
}

process.on("exit", killAllNow);
process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));
try {
  await main();
} finally {
  await stopAll();
  rmSync(ctx.work, { recursive: true, force: true });
}
