/**
 * A Fixpoint node serving the upgrade benchmark's app: the ten modules pushed in dev mode, their
 * records filled over HTTP, the node switched to production; then releases built and signed
 * once, staged and applied by guarded restart over the channel client, as `devtool upgrade`
 * would (loader/release/guarded-restart.ts).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { signBundle, signRelease, type ClientConnection } from "../../devtool/client/index.js";
import { type ReleaseManifest, type ResultOf, type WireBundle, type WireRelease } from "../../loader/index.js";
import { buildModule } from "../../devtool/build/build.js";
import { dial, type BenchContext } from "../devloop/bench-context.js";
import { childPids, startFixpointNode, type FixpointNode } from "../devloop/processes.js";
import { MODULES, moduleSource } from "./app.js";
import { getText, type Target } from "./clients.js";
import { sleep } from "../devloop/measure.js";

/** The bench key's roles on its nodes: push in dev, switch mode (admin), sign releases. */
const ROLES = ["dev", "observe", "release", "admin"];

export interface AppNode {
  node: FixpointNode;
  conn: ClientConnection;
  target: Target;
}

export function targetOf(node: FixpointNode): Target {
  return { host: node.httpUrl.hostname, port: Number(node.httpUrl.port) };
}

/** The ten modules at `version`, built and signed with the bench key. */
async function buildAll(ctx: BenchContext, version: string): Promise<{ bundle: WireBundle; digest: string; name: string }[]> {
  const dir = join(ctx.work, "modules", version);
  mkdirSync(dir, { recursive: true });
  return Promise.all(
    MODULES.map(async (name) => {
      const file = join(dir, `${name}.ts`);
      writeFileSync(file, moduleSource(name, version));
      const built = await buildModule(file, dir);
      const { bundle, manifest } = signBundle(name, Buffer.from(built.code), Buffer.from(built.sourceMap), ctx.identity);
      return { bundle, digest: manifest.digest, name };
    }),
  );
}

export interface Release {
  manifest: ReleaseManifest;
  release: WireRelease;
  bundles: WireBundle[];
  /** The same bundles by digest. */
  byDigest: Map<string, WireBundle>;
}

/** Release `number`: the ten modules at version "r<number>", signed by the bench key. */
export async function buildRelease(ctx: BenchContext, number: number): Promise<Release> {
  const built = await buildAll(ctx, `r${number}`);
  const { manifest, release } = signRelease({ cluster: "default", number, modules: built.map((b) => ({ name: b.name, digest: b.digest })), notes: `bench release ${number}` }, ctx.identity);
  return { manifest, release, bundles: built.map((b) => b.bundle), byDigest: new Map(built.map((b) => [b.digest, b.bundle])) };
}

/**
 * A node in production serving the app with `itemsPerModule` records in each module (filled
 * in dev mode, over HTTP, like any client would).
 */
export async function startAppNode(ctx: BenchContext, name: string, itemsPerModule: number): Promise<AppNode> {
  const node = await startFixpointNode(join(ctx.work, name), name, ctx.identity.publicKey, { roles: ROLES });
  const conn = await dial(ctx, node);
  for (const b of await buildAll(ctx, "dev")) await conn.request("push", { bundle: b.bundle });
  const target = targetOf(node);
  for (const m of MODULES) {
    const got = await getText(target, `/${m}/fill/${itemsPerModule}`, false);
    if (!("body" in got) || got.body !== `filled ${itemsPerModule}`) throw new Error(`bench: filling ${m} on ${name} failed: ${JSON.stringify(got)}`);
  }
  await conn.request("mode", { mode: "production" });
  return { node, conn, target };
}

/**
 * Waits until a node in production runs as it does between upgrades: with its runtime process
 * started ahead (loader/release/guarded-restart.ts, standBy), which it starts a few seconds after
 * a mode switch or a guarded restart. Seen as the loader's second child process.
 */
export async function settled(node: FixpointNode, timeoutMs = 20_000): Promise<void> {
  const pid = node.loaderPid;
  const deadline = Date.now() + timeoutMs;
  while (childPids(pid).length < 2) {
    if (Date.now() > deadline) throw new Error(`bench: node ${pid} has no runtime process started ahead after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Sends the release and its bundles to a node (before it goes down). */
export async function stage(conn: ClientConnection, r: Release): Promise<void> {
  const staged = await conn.request("stage", { release: r.release, bundles: r.bundles }, { timeoutMs: 60_000 });
  if (staged.missing.length > 0) throw new Error(`bench: release ${r.manifest.number} staged with ${staged.missing.length} bundle(s) missing`);
}

/** The guarded restart onto a staged release; throws unless it committed. */
export async function upgrade(conn: ClientConnection, number: number): Promise<ResultOf<"upgrade">> {
  const result = await conn.request("upgrade", { number }, { timeoutMs: 60_000 });
  if (result.outcome !== "committed") throw new Error(`bench: upgrade to ${number} ended "${result.outcome}"`);
  return result;
}

/**
 * Where one upgrade's time went, from the node's JSON log: each `upgrade.step` of release
 * `number` to the next, and the last to `upgrade.committed` (the log's times are in ms).
 */
export function stepTimes(node: FixpointNode, number: number): { step: string; ms: number }[] {
  const lines = node.logs.filter((l) => (l["event"] === "upgrade.step" && l["release"] === number) || (l["event"] === "upgrade.committed" && l["to"] === number));
  const out: { step: string; ms: number }[] = [];
  for (let i = 0; i + 1 < lines.length; i++) {
    out.push({ step: String(lines[i]!["step"]), ms: Date.parse(String(lines[i + 1]!["time"])) - Date.parse(String(lines[i]!["time"])) });
  }
  return out;
}

/**
 * The restarting step split in two, from the node's log: from its start to the first module
 * restored in the new runtime (old runtime stopped, new process started), and from there to
 * `runtime.up` (every module loaded with its state), ms; null when a line is missing.
 */
export function restartSplit(node: FixpointNode, number: number): { processMs: number | null; modulesMs: number | null } {
  const start = node.logs.findIndex((l) => l["event"] === "upgrade.step" && l["release"] === number && l["step"] === "restarting");
  if (start === -1) return { processMs: null, modulesMs: null };
  const after = node.logs.slice(start);
  const t = (l: Record<string, unknown> | undefined) => (l === undefined ? null : Date.parse(String(l["time"])));
  const t0 = t(after[0]);
  const first = t(after.find((l) => l["event"] === "module.restored"));
  const up = t(after.find((l) => l["event"] === "runtime.up"));
  return { processMs: first === null || t0 === null ? null : first - t0, modulesMs: first === null || up === null ? null : up - first };
}

/** The node's log lines from release `number`'s first step to its commit (BENCH_UPGRADE_LOG=1). */
export function printUpgradeLog(out: (text: string) => void, node: FixpointNode, number: number): void {
  const first = node.logs.findIndex((l) => l["event"] === "upgrade.step" && l["release"] === number);
  // To its commit, or (rolled back) to the last line logged so far.
  const last = node.logs.findIndex((l) => l["event"] === "upgrade.committed" && l["to"] === number);
  if (first === -1) return;
  const t0 = Date.parse(String(node.logs[first]!["time"]));
  for (const l of node.logs.slice(first, last === -1 ? undefined : last + 1)) {
    const { time, level: _level, event, ...rest } = l;
    out(`  +${String(Date.parse(String(time)) - t0).padStart(5)} ms  ${String(event)} ${JSON.stringify(rest)}`);
  }
}
