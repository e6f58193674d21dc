/**
 * Production from a script: a project's signed releases (made by `devtool release create`)
 * and the rolling upgrade and rollback of several nodes (devtool/release/rollout.ts), as
 * `devtool upgrade` and `devtool rollback` run them.
 *
 * @example
 * const nodes = await Promise.all(addresses.map((address) => connectNode({ address, identity: "release.key" })));
 * const report = await rollingUpgrade(nodes, readProjectRelease({ config: "fixpoint.json" }));
 * if (report.stopped !== null) throw report.stopped;
 */
import { join } from "node:path";
import { FixpointError, type WireBundle } from "../../loader/index.js";
import { loadProjectConfig, type ProjectConfig } from "../config/project.js";
import { ProjectReleases } from "../release/project-releases.js";
import { runRollout, type RolloutEvent, type RolloutRelease, type RolloutReport } from "../release/rollout.js";
import type { NodeClient } from "./node-client.js";

export type { NodeFate, RolloutEvent, RolloutRelease, RolloutReport, RolloutStep } from "../release/rollout.js";

/** A release of the project with its number; every bundle read and checked already. */
export interface ProjectReleaseToRoll extends RolloutRelease {
  number: number;
}

/**
 * Release `number` (default: the newest) of the project whose fixpoint.json is `config`
 * (default: the nearest one above the current directory). Every bundle is read and checked
 * now, so that a damaged release stops before anything is sent.
 */
export function readProjectRelease(options: { config?: string; number?: number } = {}): ProjectReleaseToRoll {
  const project = loadProjectConfig(options.config);
  if (project === null) throw new FixpointError("USAGE", "no fixpoint.json here or above; a release belongs to a project (pass config: the path of its fixpoint.json)");
  return releaseOfProject(project, options.number);
}

export function releaseOfProject(project: ProjectConfig, number?: number): ProjectReleaseToRoll {
  if (number !== undefined && (!Number.isSafeInteger(number) || number < 1)) throw new FixpointError("USAGE", `a release number is a positive integer, got ${String(number)}`);
  // The folder `devtool release create` writes (devtool/release/index.ts, releasesOf).
  const releases = new ProjectReleases(join(project.root, ".fixpoint"));
  const r = number === undefined ? releases.newest() : releases.read(number);
  if (r === null) throw new FixpointError("USAGE", `this project has no release yet in ${releases.dir}; create one with \`devtool release create\``);
  const bundles = new Map<string, WireBundle>(r.manifest.modules.map((m) => [m.digest, releases.bundle(r, m.digest)]));
  return {
    number: r.number,
    release: r.release,
    manifest: r.manifest,
    bundle: (digest) => {
      const b = bundles.get(digest);
      if (b === undefined) throw new FixpointError("RELEASE_BUNDLE_INVALID", `a node asked for bundle ${digest.slice(0, 12)}, which release ${r.number} does not name`);
      return b;
    },
  };
}

export interface RollingOptions {
  /** Nodes restarted at once. Default 1. */
  maxUnavailable?: number;
  /** Longest wait for one node's answer to a stage or a restart, ms. Default: the smallest deadlineMs of the clients. */
  deadlineMs?: number;
  /** Each step on each node as it happens (stage, staged, check, checked, restart, done). */
  onEvent?: (event: RolloutEvent) => void;
}

function rolloutNodes(nodes: readonly NodeClient[]): { label: string; conn: NodeClient["connection"] }[] {
  if (nodes.length === 0) throw new FixpointError("USAGE", "a rollout needs at least one node");
  const labels = new Set<string>();
  for (const n of nodes) {
    if (labels.has(n.label)) throw new FixpointError("USAGE", `a rollout names node ${n.label} twice`);
    labels.add(n.label);
  }
  return nodes.map((n) => ({ label: n.label, conn: n.connection }));
}

function widthOf(o: RollingOptions): number {
  const width = o.maxUnavailable ?? 1;
  if (!Number.isInteger(width) || width < 1) throw new FixpointError("USAGE", `maxUnavailable must be a positive integer, got ${String(width)}`);
  return width;
}

const deadlineOf = (nodes: readonly NodeClient[], o: RollingOptions) => o.deadlineMs ?? Math.min(...nodes.map((n) => n.deadlineMs));

/**
 * The rolling upgrade of `nodes` (in production mode) to `release`, in the order given:
 * staged on every node first, then each node's guarded restart in turn, after checking that
 * the others are ready and healthy. The first failure stops it; the report says what
 * happened on each node. Resolves (never rejects for a node's failure): check `report.stopped`.
 */
export function rollingUpgrade(nodes: readonly NodeClient[], release: RolloutRelease, options: RollingOptions = {}): Promise<RolloutReport> {
  return runRollout(rolloutNodes(nodes), {
    number: release.manifest.number,
    rollback: false,
    release,
    maxUnavailable: widthOf(options),
    deadlineMs: deadlineOf(nodes, options),
    ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
  });
}

/** Returns `nodes` to release `number`, one each of them holds, node at a time; no health wait (the way out of a bad release). */
export function rollingRollback(nodes: readonly NodeClient[], number: number, options: Omit<RollingOptions, "maxUnavailable"> = {}): Promise<RolloutReport> {
  if (!Number.isSafeInteger(number) || number < 1) return Promise.reject(new FixpointError("USAGE", `a release number is a positive integer, got ${String(number)}`));
  return runRollout(rolloutNodes(nodes), {
    number,
    rollback: true,
    maxUnavailable: 1,
    deadlineMs: deadlineOf(nodes, options),
    ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
  });
}
