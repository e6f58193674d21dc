/**
 * The guarded whole-node restart: how a node in production changes its code (Armstrong: "take
 * the node out of service, change all the code, put it back, with great care"). One commit
 * point: the pointer file (release-store.ts). Everything before it is staged beside what runs;
 * everything after it is repair.
 *
 *   step          on                                        next
 *   verifying     release held and re-verified, number      draining
 *                 allowed, every bundle stored and intact,
 *                 every new module compiles and starts in a
 *                 scratch isolate, every module's state
 *                 saved within limits
 *   verifying     any check fails                           (refused; the node is untouched)
 *   draining      new work waits (HTTP sockets held open,   saving
 *                 calls queue); in-flight work finishes
 *                 (drainMs at most)
 *   saving        every state exported, fsynced; the disk   trying
 *                 keeps these from now (code server frozen)
 *                 failure                                   resume serving, refused
 *   trying        pointer { committed: old, trying: new,    restarting
 *                 states saved }, fsynced
 *   restarting    runtime replaced, every module of the     checking
 *                 new release loaded with its saved state
 *                 through its migrate hook
 *                 a module fails to load or migrate, or     rolling-back
 *                 the runtime dies while it starts
 *   checking      every module current and every health    committing
 *                 check ok
 *                 any fails                                 rolling-back
 *   committing    pointer { committed: new } — THE COMMIT   (serving the new release)
 *                 then the store's table follows
 *   rolling-back  pointer { committed: old }; runtime       (serving the old release with the
 *                 replaced on the old modules with exactly   states saved at drain; UPGRADE_ROLLED_
 *                 the states saved at drain                  BACK says why)
 *
 *   boot          pointer has `trying`                      the old modules (the store's table,
 *                                                           which changes only after a commit)
 *                                                           with exactly trying.states; pointer
 *                                                           cleared of `trying`
 *   boot          pointer committed, production mode        the committed release's modules (the
 *                                                           table repaired if a crash came between
 *                                                           commit and table), newest states
 *
 * `kill -9` at any step leaves one of the two boot cases, so a node always comes up on one whole
 * release with its state. FIXPOINT_FAULT_AT=<step> kills the loader on entering a step (or
 * "after-commit": right after the commit point), so the tests can check that claim against a
 * real process at every step.
 */
import { FixpointError, toFixpointError } from "../protocol/errors.js";
import type { Logger } from "../protocol/log.js";
import type { VerifiedBundle } from "../bundle/verify.js";
import type { BundleStore } from "../store/bundle-store.js";
import { sourceOfBundle, type CodeServer } from "../node/code-server.js";
import type { RuntimeSupervisor } from "../supervisor/runtime-supervisor.js";
import type { ResultOf } from "../protocol/messages.js";
import type { ReleaseStore } from "./release-store.js";

export const STEPS = ["verifying", "draining", "saving", "trying", "restarting", "checking", "committing", "rolling-back"] as const;
export type Step = (typeof STEPS)[number];

export interface GuardedRestartOptions {
  code: CodeServer;
  runtime: RuntimeSupervisor;
  releases: ReleaseStore;
  store: BundleStore;
  logger: Logger;
  /** Readiness: false from the drain to the commit (or the end of a rollback). */
  setReady(ready: boolean): void;
  /** Longest wait for work in flight when draining, ms. Default 5000. */
  drainMs?: number;
  /** Whether the node is in production now (config.json's mode): then it keeps a runtime process started ahead (standBy). */
  production(): boolean;
}

/** How long a runtime process a stage started ahead waits for its upgrade, ms. */
const PREPARED_FOR_MS = 60_000;

/** How long after a start, a mode switch or a guarded restart a node in production starts its idle runtime process, ms: the moment's own work goes first. */
const STANDBY_AFTER_MS = 3000;

/** Test hook: the step at which this loader kills itself (fault injection; see the header). */
const FAULT_AT = process.env["FIXPOINT_FAULT_AT"];

export class GuardedRestart {
  private running: Step | null = null;
  /** Ends a runtime process a stage started ahead if no upgrade comes for it. */
  private unused: NodeJS.Timeout | undefined;
  /** The release whose modules the process started ahead holds; 0: none (an idle one, good for any release). */
  private preparedFor = 0;
  private idle: NodeJS.Timeout | undefined;

  constructor(private readonly o: GuardedRestartOptions) {}

  /** The step in progress, or null. */
  get step(): Step | null {
    return this.running;
  }

  private enter(step: Step, number: number): void {
    this.running = step;
    this.o.logger.log("info", "upgrade.step", { step, release: number });
    if (FAULT_AT === step) process.kill(process.pid, "SIGKILL");
  }

  /**
   * In production a node keeps a runtime process started ahead, idle, for its next guarded
   * restart: a rollout then starts none on its clock (measured: five nodes starting theirs at
   * once took 1.6–2.1 s of a rollout's first turn on 2 cores, bench/RESULTS.md), and no restart
   * waits for one. It costs an idle runtime process's memory per node (about 57 MiB); a node in
   * dev keeps none (the supervisor lets the one it has go at the switch: setMode). Called at
   * start, on a mode switch and after each guarded restart.
   */
  standBy(): void {
    clearTimeout(this.idle);
    if (this.o.production()) this.idle = setTimeout(() => this.running === null && this.o.production() && this.o.runtime.prepareStandby(), STANDBY_AFTER_MS).unref();
  }

  /**
   * After a release is staged whole: prepares it now (prepareRelease), so that the upgrade that
   * follows (`devtool upgrade` stages every node before it restarts the first) finds it done and
   * each node's turn in a rollout is shorter. A failure is only logged: the upgrade prepares
   * again and refuses. Unused for PREPARED_FOR_MS, the process started ahead is ended.
   */
  prepare(number: number): void {
    if (this.running !== null) return;
    clearTimeout(this.unused);
    this.unused = setTimeout(() => this.running === null && this.unprepare(), PREPARED_FOR_MS).unref();
    this.prepareRelease(number).catch((err: unknown) => this.o.logger.log("warn", "release.prepare-failed", { release: number, reason: (err as Error).message }));
  }

  /**
   * Starts the next runtime process (unless a stage did) and every module of release `number`
   * in it, each kept there for the restart, which out of service then only gives each its state.
   * RELEASE_NOT_STAGED if the store lacks a bundle; a module's load error if its code cannot start.
   */
  private async prepareRelease(number: number): Promise<VerifiedBundle[]> {
    const { runtime, releases, store } = this.o;
    // A process started ahead for another release would keep that release's modules unused.
    if (this.preparedFor !== 0 && this.preparedFor !== number) runtime.discardStandby();
    this.preparedFor = number;
    runtime.prepareStandby();
    const modules = releases.read(number).manifest.modules;
    const missing = modules.filter((m) => !store.has(m.digest)).length;
    if (missing > 0) throw new FixpointError("RELEASE_NOT_STAGED", `this node lacks ${missing} bundle(s) of release ${number}; stage the release again (\`devtool upgrade\` does)`);
    const versions = modules.map((m) => store.load(m.digest));
    for (const [i, v] of versions.entries()) {
      const m = modules[i]!;
      if (v.manifest.name !== m.name) throw new FixpointError("RELEASE_BUNDLE_INVALID", `release ${number} names ${m.digest.slice(0, 12)} for module ${m.name}, but that bundle is module ${v.manifest.name}`);
      await runtime.prepare(sourceOfBundle(v));
    }
    return versions;
  }

  /** Moves the node to release `number` (held already), or refuses, or rolls back. */
  async upgrade(number: number, rollback: boolean): Promise<ResultOf<"upgrade">> {
    if (this.running !== null) throw new FixpointError("UPGRADE_IN_PROGRESS", `this node is already in a guarded restart (step ${this.running}); wait for it to end`);
    this.running = "verifying";
    try {
      return await this.run(number, rollback);
    } finally {
      this.running = null;
      this.unprepare();
    }
  }

  /** Ends the process started ahead (adopted already after a restart), and starts an idle one in a while in production. */
  private unprepare(): void {
    this.o.runtime.discardStandby();
    this.preparedFor = 0;
    this.standBy();
  }

  private async run(number: number, rollback: boolean): Promise<ResultOf<"upgrade">> {
    const { code, runtime, releases, store, logger } = this.o;
    const started = performance.now();
    this.enter("verifying", number);
    const pointer = releases.readPointer();
    const from = pointer.committed?.number ?? 0;
    if (number === from) return { from, to: number, outcome: "unchanged", ms: performance.now() - started, outOfServiceMs: 0 };
    if (number <= pointer.highest && !rollback) {
      throw new FixpointError("RELEASE_OLD", `release ${number} is not newer than release ${pointer.highest}, which this node has run; to go back on purpose, use \`devtool rollback --to ${number}\``);
    }
    const { manifest } = releases.read(number);
    // Every module compiles and starts first, while the node serves: a release whose code cannot
    // start is refused now, rather than rolled back after the node went down. States meanwhile,
    // while the node still serves: one too large or not copyable refuses the release now, with
    // nothing changed. Side by side: the modules start in the runtime process started ahead, the
    // states come out of the one serving (one after the other held a rollout's turns 0.1-0.4 s).
    const probing = code.saveAll();
    probing.catch(() => {}); // read below, unless the release is refused first
    const versions = await this.prepareRelease(number).catch((err: unknown) => {
      const e = toFixpointError(err);
      if (e.code === "RELEASE_NOT_STAGED" || e.code === "RELEASE_BUNDLE_INVALID") throw e;
      throw new FixpointError(e.code, `release ${number} was refused before the node went down: ${e.message}`, e.location === undefined ? {} : { location: e.location });
    });
    refuseOnStateFailures((await probing).failed, number);
    const oldVersions = store.modules().map((e) => store.load(e.digest));

    const outStarted = performance.now();
    this.enter("draining", number);
    this.o.setReady(false);
    await runtime.drain(this.o.drainMs ?? 5000);

    this.enter("saving", number);
    // Saved first, then frozen: a frozen code server takes no states at all.
    const saved = await code.saveAll();
    code.freeze();
    if (Object.keys(saved.failed).length > 0) {
      code.thaw();
      runtime.resume();
      this.o.setReady(true);
      refuseOnStateFailures(saved.failed, number);
    }

    this.enter("trying", number);
    await releases.writePointer({ ...pointer, trying: { number, from, states: saved.seqs, at: new Date().toISOString() } });

    this.enter("restarting", number);
    code.install(versions, saved.seqs);
    let reason: FixpointError | null = await runtime.restart().then(() => null, (err: unknown) => toFixpointError(err));
    if (reason === null) {
      this.enter("checking", number);
      reason = await this.check();
    }
    if (reason !== null) {
      this.enter("rolling-back", number);
      logger.log("error", "upgrade.failed", { release: number, code: reason.code, reason: reason.message });
      // The old modules with exactly the states saved at drain: nothing ran on them since.
      await releases.writePointer({ ...pointer, trying: null });
      code.install(oldVersions, saved.seqs);
      await runtime.restart().catch((err: unknown) => logger.log("error", "upgrade.rollback-restart-failed", { reason: (err as Error).message }));
      code.thaw();
      this.o.setReady(true);
      throw new FixpointError("UPGRADE_ROLLED_BACK", `release ${number} was rolled back; the node runs release ${from === 0 ? "(none: its dev modules)" : from} again with its state. Why: ${reason.code}: ${reason.message}`);
    }

    this.enter("committing", number);
    await releases.writePointer({ format: 1, committed: { number, at: new Date().toISOString() }, trying: null, highest: Math.max(pointer.highest, number) });
    if (FAULT_AT === "after-commit") process.kill(process.pid, "SIGKILL");
    // After the commit point the node is ready again; the table follows the pointer (boot repairs it if we die here).
    code.thaw();
    this.o.setReady(true);
    const outOfServiceMs = performance.now() - outStarted;
    await store.setAll(manifest.modules).catch((err: unknown) => logger.log("error", "upgrade.table-write-failed", { reason: (err as Error).message }));
    logger.log("info", "upgrade.committed", { from, to: number, outOfServiceMs: Math.round(outOfServiceMs) });
    return { from, to: number, outcome: "committed", ms: performance.now() - started, outOfServiceMs };
  }

  /** Every module runs as current code and every health check passes; else why not. */
  private async check(): Promise<FixpointError | null> {
    const failures = this.o.code.failures();
    if (failures.length > 0) {
      const f = failures[0]!;
      return new FixpointError(f.error?.code ?? "MODULE_LOAD_FAILED", `module ${f.name} did not start (${f.error?.message ?? f.status})`);
    }
    let status;
    try {
      status = await this.o.runtime.runtimeStatus();
    } catch (err) {
      return toFixpointError(err);
    }
    for (const m of status.modules) {
      if (m.checked !== undefined && !m.checked.ok) return new FixpointError("MODULE_ERROR", `module ${m.name}'s health check failed: ${m.checked.detail ?? "not ok"}`);
    }
    return null;
  }
}

function refuseOnStateFailures(failed: Record<string, { code: string; message: string }>, number: number): void {
  const first = Object.entries(failed)[0];
  if (first === undefined) return;
  const [name, error] = first;
  const code = error.code === "STATE_TOO_LARGE" || error.code === "STATE_NOT_COPYABLE" || error.code === "STATE_CORRUPT" || error.code === "STORE_WRITE_FAILED" ? error.code : "STORE_WRITE_FAILED";
  throw new FixpointError(code, `release ${number} was refused before the node went down: module ${name}'s state cannot be saved (${error.code}: ${error.message})`);
}
