/**
 * A rolling upgrade across nodes (Armstrong: "with great care, node-at-a-time round-robin"),
 * over connections the caller opened:
 *
 *   1. stage   every node at once: `stage` with the release and no bundles, then `stage` again
 *              with only the bundles that node says it lacks — so each bundle travels once per
 *              node, and all of them before any node goes down. A node that refuses stops the
 *              rollout here, with every node untouched. The first nodes to restart also
 *              prepare the release (its modules started in the node's next runtime process)
 *              as soon as they hold it; each later one while the turn before its own runs.
 *   2. restart `maxUnavailable` nodes at a time, in the order given: first ask every other node
 *              for its status (ready, every module running and healthy); then send `upgrade`
 *              and wait for the answer — the node commits, or rolls itself back and says why.
 *              The first failure stops the rollout: the nodes after it are left untouched.
 *
 * A rollback (`rollback: true`) skips the staging (a node goes back only to a release it
 * holds) and does not wait for the others to be healthy: it is the way out of a bad state, and
 * a cluster that is unhealthy must still be able to take it.
 *
 * Library code: it reports through `onEvent` and returns what happened on each node; the CLI
 * prints.
 */
import { FixpointError, authorize, toFixpointError, type ResultOf, type WireBundle } from "../../loader/index.js";
import type { ClientConnection } from "../client/channel-client.js";
import type { ReleaseManifest, WireRelease } from "../../loader/index.js";

export interface RolloutNode {
  label: string;
  conn: ClientConnection;
}

/** What happened on one node. */
export type NodeFate =
  /** On the new release (or already was: `from === to`). */
  | { kind: "upgraded"; from: number; to: number; ms: number; outOfServiceMs: number }
  /** Went down, failed to start or check, and came back on its previous release. */
  | { kind: "rolled-back"; error: FixpointError }
  /** Refused before going down (a check, a staging problem, its mode, its role): unchanged. */
  | { kind: "refused"; error: FixpointError }
  /** No answer (contact lost, a deadline, a node's internal error): what it runs now is unknown here; its status says. */
  | { kind: "unknown"; error: FixpointError }
  /** Not restarted: the rollout stopped before it (or never started). */
  | { kind: "untouched"; staged: boolean };

/** Each step's start, and its end with how long it took: stage → staged, check → checked, restart → done. */
export type RolloutStep = "stage" | "staged" | "check" | "checked" | "restart" | "done";

export interface RolloutEvent {
  node: string;
  step: RolloutStep;
  /** Since the rollout started, ms. */
  at: number;
  /** How long the step took, ms (for steps that end something). */
  ms?: number;
  /** For "staged": bundles sent. For "done": the fate. For "checked": the node found unhealthy, if any. */
  bundlesSent?: number;
  fate?: NodeFate;
  unhealthy?: { node: string; why: string };
  /** For "checked": how many other nodes were asked. */
  checked?: number;
}

/** A signed release and a way to its bundles by digest (a project's .fixpoint/releases/N, or one just made). */
export interface RolloutRelease {
  release: WireRelease;
  manifest: ReleaseManifest;
  /** The bundle of `digest`; throws if the release names no such bundle. */
  bundle(digest: string): WireBundle;
}

export interface RolloutOptions {
  number: number;
  rollback: boolean;
  /** For an upgrade: the release to stage and its bundles by digest. */
  release?: RolloutRelease;
  /** Nodes restarted at once (1 default). */
  maxUnavailable?: number;
  /** Longest wait for one node's answer to `upgrade` (or to a stage), ms. */
  deadlineMs: number;
  onEvent?: (event: RolloutEvent) => void;
}

export interface RolloutReport {
  /** Per node, in the order given. */
  fates: { node: string; fate: NodeFate }[];
  /** Why the rollout stopped early, if it did. */
  stopped: FixpointError | null;
  ms: number;
}

/** Largest total of bundle bytes put in one `stage` message: well under the 16 MiB frame limit. */
export const STAGE_BATCH_BYTES = 8 * 1024 * 1024;

/** Why a node's status says it should not be counted on, or null if it is healthy. */
export function unhealthyReason(status: ResultOf<"status">): string | null {
  if (status.ready === false) return "not ready (in a guarded restart)";
  for (const m of status.modules) {
    if (m.status !== undefined && m.status !== "current") return `module ${m.name} is ${m.status}${m.error === undefined ? "" : ` (${m.error.code}: ${m.error.message})`}`;
    if (!m.running) return `module ${m.name} is not running`;
    if (m.health !== undefined && !m.health.ok) return `module ${m.name} is unhealthy${m.health.detail === undefined ? "" : ` (${m.health.detail})`}`;
  }
  return null;
}

export async function runRollout(nodes: RolloutNode[], o: RolloutOptions): Promise<RolloutReport> {
  const started = performance.now();
  const at = () => performance.now() - started;
  const emit = (e: Omit<RolloutEvent, "at">) => o.onEvent?.({ ...e, at: at() });
  const fates = new Map<string, NodeFate>(nodes.map((n) => [n.label, { kind: "untouched", staged: false }]));
  const report = (stopped: FixpointError | null): RolloutReport => ({ fates: nodes.map((n) => ({ node: n.label, fate: fates.get(n.label)! })), stopped, ms: at() });

  // Before anything is sent: every node in production and this key allowed to restart it
  // (the node's own policy table, asked of each node's current mode and the roles its
  // welcome granted), so that a node in dev mode third in line does not stop a rollout
  // half done.
  const preflight = await Promise.all(nodes.map(async (node) => refusalOf(node, o)));
  const refused = preflight.findIndex((e) => e !== null);
  if (refused >= 0) {
    for (const [i, error] of preflight.entries()) if (error !== null) fates.set(nodes[i]!.label, { kind: "refused", error });
    const error = preflight[refused]!;
    return report(new FixpointError(error.code, `${o.rollback ? "rollback" : "upgrade"} not started: ${nodes[refused]!.label}: ${error.message}`));
  }

  const width = Math.max(1, o.maxUnavailable ?? 1);
  if (!o.rollback) {
    if (o.release === undefined) throw new FixpointError("INTERNAL", "an upgrade rollout needs the release to stage");
    const release = o.release;
    const staged = await Promise.all(
      nodes.map(async (node, index) => {
        const t0 = performance.now();
        emit({ node: node.label, step: "stage" });
        try {
          // `prepare`: the first to restart start the release's modules in their next runtime
          // process now, so that their turn below only restarts (bench/upgrade.ts).
          const sent = await stageRelease(node.conn, release, o.deadlineMs, index < width);
          fates.set(node.label, { kind: "untouched", staged: true });
          emit({ node: node.label, step: "staged", ms: performance.now() - t0, bundlesSent: sent });
          return null;
        } catch (err) {
          const error = toFixpointError(err);
          fates.set(node.label, { kind: "refused", error });
          emit({ node: node.label, step: "done", ms: performance.now() - t0, fate: fates.get(node.label)! });
          return error;
        }
      }),
    );
    const failed = staged.findIndex((e) => e !== null);
    if (failed >= 0) {
      const error = staged[failed]!;
      return report(new FixpointError(error.code, `staging release ${o.number} failed on ${nodes[failed]!.label}, so no node was restarted: ${error.message}`));
    }
  }

  for (let i = 0; i < nodes.length; i += width) {
    const batch = nodes.slice(i, i + width);
    // The next turn's nodes prepare while this one runs, not all at once at the stage: nodes
    // that share a machine would otherwise all prepare on the cores the first one's turn waits
    // for (measured with five nodes on two cores: the first turn took 2-3 s of a 5 s rollout).
    if (!o.rollback) for (const next of nodes.slice(i + width, i + 2 * width)) void stageRelease(next.conn, o.release!, o.deadlineMs, true).catch(() => {});
    if (!o.rollback) {
      const others = nodes.filter((n) => !batch.includes(n));
      const t0 = performance.now();
      emit({ node: batch.map((n) => n.label).join(","), step: "check" });
      const sick = await firstUnhealthy(others, o.deadlineMs);
      emit({ node: batch.map((n) => n.label).join(","), step: "checked", ms: performance.now() - t0, checked: others.length, ...(sick === null ? {} : { unhealthy: sick }) });
      if (sick !== null) {
        return report(new FixpointError("NODE_UNHEALTHY", `rollout stopped before ${batch.map((n) => n.label).join(", ")}: node ${sick.node}: ${sick.why}; no node was taken down while another is unhealthy`));
      }
    }
    const results = await Promise.all(batch.map((node) => restart(node, o, emit)));
    for (const [j, fate] of results.entries()) fates.set(batch[j]!.label, fate);
    const bad = results.findIndex((f) => f.kind !== "upgraded");
    if (bad >= 0) {
      const fate = results[bad]! as Exclude<NodeFate, { kind: "upgraded" } | { kind: "untouched" }>;
      const what = fate.kind === "rolled-back" ? "rolled back" : fate.kind === "refused" ? "refused it" : "gave no answer to its restart (check it with `devtool status`)";
      return report(new FixpointError(fate.error.code, `rollout stopped: ${batch[bad]!.label} ${what}: ${fate.error.message}`));
    }
  }
  return report(null);
}

/** Why `node` would refuse this upgrade or rollback from this key now, or null. */
async function refusalOf(node: RolloutNode, o: RolloutOptions): Promise<FixpointError | null> {
  try {
    const status = await node.conn.request("status", {}, { timeoutMs: Math.min(o.deadlineMs, 10_000) });
    authorize("upgrade", status.mode, node.conn.welcome.roles);
    // A rollback goes only to a release the node holds: known now, before any node goes down.
    if (o.rollback && status.release !== undefined && !status.release.held.includes(o.number)) {
      const held = status.release.held;
      return new FixpointError("RELEASE_NOT_STAGED", `this node does not hold release ${o.number} (it holds ${held.length === 0 ? "none" : held.join(", ")}); a rollback goes only to a release the node ran or had staged`);
    }
    return null;
  } catch (err) {
    return toFixpointError(err);
  }
}

/** Stages `release` on one node; returns how many bundles were sent. */
export async function stageRelease(conn: ClientConnection, r: RolloutRelease, deadlineMs: number, prepare = false): Promise<number> {
  let { missing } = await conn.request("stage", { release: r.release, bundles: [], prepare }, { timeoutMs: deadlineMs });
  let sent = 0;
  while (missing.length > 0) {
    // As many of the missing bundles as fit in one message; the node answers with what it still lacks.
    const batch: WireBundle[] = [];
    let bytes = 0;
    for (const digest of missing) {
      const b = r.bundle(digest);
      const size = b.code.length + b.sourceMap.length + b.manifest.length;
      if (batch.length > 0 && bytes + size > STAGE_BATCH_BYTES) break;
      batch.push(b);
      bytes += size;
    }
    const before = missing.length;
    ({ missing } = await conn.request("stage", { release: r.release, bundles: batch, prepare }, { timeoutMs: deadlineMs }));
    sent += batch.length;
    if (missing.length >= before) {
      throw new FixpointError("RELEASE_NOT_STAGED", `the node kept ${before - missing.length} of ${batch.length} bundle(s) sent and still lacks ${missing.length} of release ${r.manifest.number}`);
    }
  }
  return sent;
}

async function firstUnhealthy(nodes: RolloutNode[], deadlineMs: number): Promise<{ node: string; why: string } | null> {
  const answers = await Promise.all(
    nodes.map(async (n) => {
      try {
        const why = unhealthyReason(await n.conn.request("status", {}, { timeoutMs: Math.min(deadlineMs, 10_000) }));
        return why === null ? null : { node: n.label, why };
      } catch (err) {
        const e = toFixpointError(err);
        return { node: n.label, why: `unreachable (${e.code}: ${e.message})` };
      }
    }),
  );
  return answers.find((a) => a !== null) ?? null;
}

async function restart(node: RolloutNode, o: RolloutOptions, emit: (e: Omit<RolloutEvent, "at">) => void): Promise<NodeFate> {
  const t0 = performance.now();
  emit({ node: node.label, step: "restart" });
  let fate: NodeFate;
  try {
    const r = await node.conn.request("upgrade", o.rollback ? { number: o.number, rollback: true } : { number: o.number }, { timeoutMs: o.deadlineMs });
    fate = { kind: "upgraded", from: r.from, to: r.to, ms: r.ms, outOfServiceMs: r.outOfServiceMs };
  } catch (err) {
    const error = toFixpointError(err);
    // Refusals come before the node goes down (guarded-restart.ts, "verifying"); a rollback is
    // the node's own report; a closed channel, no answer or a node's bug leaves it unknown here.
    fate =
      error.code === "UPGRADE_ROLLED_BACK"
        ? { kind: "rolled-back", error }
        : UNKNOWN_OUTCOME.has(error.code)
          ? { kind: "unknown", error }
          : { kind: "refused", error };
  }
  emit({ node: node.label, step: "done", ms: performance.now() - t0, fate });
  return fate;
}

const UNKNOWN_OUTCOME = new Set<string>(["CHANNEL_CLOSED", "PEER_TIMEOUT", "IDLE_TIMEOUT", "REQUEST_TIMEOUT", "SHUTTING_DOWN", "INTERNAL"]);
