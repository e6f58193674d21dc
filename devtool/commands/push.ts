import { existsSync } from "node:fs";
import { relative, resolve } from "node:path";
import { FixpointError, type ResultOf } from "../../loader/index.js";
import { parseCommandLine, shapeError } from "../ui/args.js";
import { signBundle } from "../client/index.js";
import { styleFor, type Style } from "../ui/output.js";
import { buildModule } from "../build/build.js";
import { checkListedModules } from "../config/project.js";
import { knownNodesPath } from "../home.js";
import { NodeSessions } from "../nodes/sessions.js";
import type { NodeOutcome } from "../nodes/fan-out.js";
import { pinnedMessage } from "../nodes/targets.js";
import { PushWatcher } from "../watch/push-watcher.js";
import { TypeChecker, typeEvents } from "../watch/type-checker.js";
import { shutdown, stopSignal } from "../ui/shutdown.js";
import { CONNECTION_HELP, CONNECTION_OPTIONS, contextFrom, exitStatusOf, fanOut, printFailures, type Context } from "./common.js";

export const HELP = `Usage: devtool push [FILE...] [--node NAME|HOST:PORT] [--watch] [options]

Builds each module with esbuild, signs it with your key, and sends it to every target node
at once. Each node verifies it, starts it in a new isolate, hands it the old version's state
and swaps it in; if the new version fails to start or migrate, the old one keeps serving and
you see the error with its file and line. The same bytes again change nothing.
With no FILE, pushes the "modules" of fixpoint.json.

Options:
  --watch                keep running: rebuild and push a module whenever a file it is built
                         from changes; Ctrl-C stops
${CONNECTION_HELP}`;

const clock = () => new Date().toTimeString().slice(0, 8);

function describePush(style: Style, r: ResultOf<"push">): string {
  if (!r.changed && !r.stored) return style.dim("unchanged");
  const version = r.version === undefined ? "" : ` v${r.version}`;
  return `${style.green("live")}${version}${r.swapMs === undefined ? "" : style.dim(` swap ${r.swapMs.toFixed(1)} ms`)}`;
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { ...CONNECTION_OPTIONS, watch: { type: "boolean" } }, 1000);
  if (parsed.values["help"] === true) {
    process.stdout.write(HELP);
    return 0;
  }
  // A missing file is a usage error, said before anything else is looked at (issue 12.9: it was
  // BUILD_FAILED, as if the file had been there and broken).
  for (const file of parsed.positionals) if (!existsSync(file)) throw new FixpointError("USAGE", `${file}: no such file`);
  const ctx = contextFrom(parsed);
  const files = parsed.positionals.length > 0 ? parsed.positionals : (ctx.project?.modules ?? []);
  if (files.length === 0) throw shapeError("no module to push: name FILEs or list them in fixpoint.json's \"modules\"");
  if (ctx.project !== null && parsed.positionals.length === 0) checkListedModules(ctx.project);
  return parsed.values["watch"] === true ? watchAndPush(ctx, files) : pushOnce(ctx, files);
}

async function pushOnce(ctx: Context, files: string[]): Promise<number> {
  // Build and sign everything first: a build error means nothing is sent anywhere.
  const started = performance.now();
  const bundles: ReturnType<typeof signBundle>[] = [];
  for (const file of files) {
    const built = await buildModule(file);
    bundles.push(signBundle(built.name, built.code, built.sourceMap, ctx.identity));
  }
  const buildMs = performance.now() - started;
  const outcomes = await fanOut(ctx, async (node) => {
    const t0 = performance.now();
    const results = await node.push(...bundles.map((b) => b.bundle));
    return { results, ms: performance.now() - t0 };
  });
  const out = styleFor(process.stdout);
  for (const { target, value } of outcomes) {
    if (value === undefined) continue;
    for (const r of value.results) {
      process.stdout.write(`${target.label}  ${r.name.padEnd(20)} ${r.digest.slice(0, 12)}  ${describePush(out, r)}  ${value.ms.toFixed(1)} ms\n`);
    }
  }
  process.stdout.write(out.dim(`built ${bundles.length} module(s) in ${buildMs.toFixed(0)} ms from ${files.map((f) => relative(process.cwd(), f) || f).join(", ")}\n`));
  printFailures(outcomes);
  return exitStatusOf(outcomes);
}

function printOutcomes(out: Style, err: Style, module: string, digest: string, totalMs: number, saved: boolean, outcomes: NodeOutcome<ResultOf<"push">>[]): void {
  // The first push is timed from its build: there was no save (issue 12.11).
  const took = `${totalMs.toFixed(1)} ms${saved ? " from save" : ""}`;
  for (const { target, value, error } of outcomes) {
    if (value !== undefined) {
      process.stdout.write(`${out.dim(clock())} ${target.label}  ${module.padEnd(16)} ${digest.slice(0, 12)}  ${describePush(out, value)}  ${out.dim(took)}\n`);
    } else if (error !== undefined) {
      process.stderr.write(`${err.dim(clock())} ${err.red("error")} ${target.label}  ${module}: ${err.bold(error.code)}: ${error.message}\n`);
    }
  }
}

async function watchAndPush(ctx: Context, files: string[]): Promise<number> {
  const out = styleFor(process.stdout);
  const err = styleFor(process.stderr);
  const sessions = new NodeSessions(ctx.targets, ctx.identity, {
    knownNodesFile: knownNodesPath(),
    acceptNew: ctx.acceptNew,
    onPinned: (t, key) => process.stderr.write(`${err.yellow("pinned")} ${pinnedMessage(t, key, knownNodesPath())}\n`),
  }, ctx.timeoutMs);
  const watcher = new PushWatcher(files, sessions, ctx.identity, {
    pushed: (r) => printOutcomes(out, err, r.module, r.digest, r.totalMs, r.saved, r.outcomes),
    fixed: (module) => process.stderr.write(`${err.dim(clock())} ${err.green("fixed")} ${module}: builds again, and what runs is this same code\n`),
    buildFailed: (module, message) => process.stderr.write(`${err.dim(clock())} ${err.red("build failed")} ${module}: nothing pushed\n${message}\n`),
    skipped: (module, why) => process.stderr.write(err.dim(`${clock()} ${module}: ${why}\n`)),
  });
  await watcher.start();
  // Beside the loop, after the first pushes: the project folder is fixpoint.json's, else here.
  const types = new TypeChecker(ctx.project?.root ?? process.cwd(), files.map((f) => resolve(f)), typeEvents(err));
  types.start();
  process.stderr.write(err.dim(`watching ${files.length} module(s) for ${ctx.targets.map((t) => t.label).join(", ")}; Ctrl-C stops\n`));
  await stopSignal();
  await shutdown(async () => {
    types.close();
    await watcher.close();
    await sessions.close();
  });
  return 0;
}
