/**
 * The code server: the one owner of every module's life on this node (Erlang's `code_server`).
 * It alone answers "which version of M is current, is it running, and what is its last saved
 * state"; the store, the runtime and `devtool status` follow what it decides. Every change to a
 * module — a push, the reload after the runtime restarts or after the module's isolate died, the
 * put-back after a failed store write — is a job on that module's one queue, run in arrival
 * order. The runtime executes what it is told and keeps no order of its own.
 *
 *   status      on                                       next
 *   (none)      boot: store names it, state readable     restoring
 *   (none)      boot: its saved state is damaged         failed (STATE_CORRUPT; never started on
 *                                                        an empty state)
 *   (none)      push                                     loading
 *   restoring   runtime ready / module's isolate died    restoring: load current code with the
 *                                                        last saved state
 *   restoring   loaded                                   current
 *   restoring   load failed                              failed (the saved state is kept)
 *   current     push of other code                       loading (the old version serves on)
 *   loading     runtime loaded it, store points at it    current; its state kept, saved at the
 *                                                        next snapshot
 *   loading     load failed                              what it was before (old version serves)
 *   loading     store write failed after the load        what it was before; the runtime is put
 *                                                        back on the old code
 *   failed      push (unless STATE_CORRUPT)              loading
 *   current     runtime exited                           restoring (at its next ready)
 *
 * States: kept in memory at each swap (the runtime hands the new version's state back with
 * the swap, measured) and saved by the next snapshot, every `snapshotMs`, with the states of
 * the modules that may have changed since; and once more on an orderly stop (state-store.ts).
 * Saving at the snapshot rather than at the swap takes one of the three crash-safe writes a
 * push made off it (each costs the loader about 1 ms of CPU in fsyncs, issue 10), and a burst
 * of pushes saves once; until then the saved state is the previous version's, which the new
 * code migrates if the node restarts first. A state is accepted only for the code that is current; a failed export
 * keeps the last one. After `kill -9`, at most the last `snapshotMs` is lost, or, for a module
 * whose state takes longer than a tenth of that to copy, ten times its copy (SNAPSHOT_PACE).
 *
 * Pushes make the store durable the same way: a pushed bundle is kept in memory and the table
 * points at it there; each snapshot first flushes the store (the bundles the table names, then
 * the table; a version a burst replaced is never written), then saves states, so a state on
 * disk never belongs to code the table on disk does not name yet. A crash loses at most the
 * last `snapshotMs` of pushes, each module whole.
 */
import { availableParallelism } from "node:os";
import { FixpointError, toFixpointError, type ErrorData } from "../protocol/errors.js";
import type { Logger } from "../protocol/log.js";
import type { VerifiedBundle } from "../bundle/verify.js";
import type { Manifest } from "../protocol/bundle-manifest.js";
import type { BundleStore } from "../store/bundle-store.js";
import type { StateStore } from "../store/state-store.js";
import type { SavedState } from "../protocol/state-file.js";
import type { RuntimeSupervisor } from "../supervisor/runtime-supervisor.js";
import type { LoadedOrUnchanged, ModuleSource, StateBytes } from "../protocol/runtime-ipc.js";
import type { MODULE_STATUSES, ResultOf } from "../protocol/messages.js";

/** Modules loaded side by side into a new runtime process: the cores of a small machine (see restoreAll). */
const RESTORES_AT_ONCE = Math.min(4, Math.max(2, availableParallelism()));

export type ModuleStatus = (typeof MODULE_STATUSES)[number];

/** A verified version, kept by digest so a reload reads nothing from disk (verify once). */
interface Version {
  manifest: Manifest;
  code: string;
  sourceMap: string;
}

interface ModuleRecord {
  name: string;
  status: ModuleStatus;
  /** What the node runs and restarts on; null until a first push succeeds. */
  current: Version | null;
  /** The digest being loaded, while a push runs. */
  loading: string | null;
  /** The runtime generation the current code was loaded into, if it is still running there. */
  runningIn: number | null;
  /** The newest state of the current code: what a restart restores. Kept across failures. */
  latest: StateBytes | null;
  /** What is on disk (latest may be newer while a save is in progress). */
  saved: { seq: number; savedAt: string; size: number } | null;
  /** The newest save in progress or done (a guarded restart waits for it). */
  saving: Promise<unknown>;
  /** `latest` is newer than every save written or under way: the next snapshot saves it. */
  unsaved: boolean;
  /** Why the module is failed. */
  error: ErrorData | null;
  /** The number of the newest export whose copy was taken (see CodeServer.exportNumber). */
  exported: number;
  /** Before this (performance.now()), periodic snapshots leave the module's state alone (SNAPSHOT_PACE). */
  nextExportAt: number;
  queue: Promise<void>;
  /** A push waiting behind a running job: a newer push replaces it (a burst of saves loads once). */
  waiting: { verified: VerifiedBundle; settle: (r: PushOutcome | Error) => void } | null;
}

/** What a push answers (the wire's push result). */
export type PushOutcome = ResultOf<"push">;

/** One module as status reports it. */
export interface ModuleView {
  name: string;
  status: ModuleStatus;
  manifest: Manifest | null;
  storedAt: string;
  running: boolean;
  error: ErrorData | null;
  saved: { seq: number; savedAt: string; size: number } | null;
}

export interface CodeServerOptions {
  store: BundleStore;
  states: StateStore;
  runtime: RuntimeSupervisor | null;
  logger: Logger;
  /** How often changed states are saved, ms. Default 1000. */
  snapshotMs?: number;
}

/**
 * Copying states takes the CPU the modules need (10 MB of small records, copied and written:
 * 0.3–0.4 s, bench/upgrade.ts), so a periodic snapshot copies a module again only after this
 * many times its share of the last copy's time: at most about a tenth of the runtime's time
 * goes to snapshots, and small states are still copied every snapshot.
 */
const SNAPSHOT_PACE = 10;

export class CodeServer {
  private readonly records = new Map<string, ModuleRecord>();
  private readonly store: BundleStore;
  private readonly states: StateStore;
  private readonly runtime: RuntimeSupervisor | null;
  private readonly logger: Logger;
  private readonly snapshotMs: number;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private snapshotting: Promise<void> | null = null;
  private snapshotAgain = false;
  /** The snapshot asked for copies large states too (an orderly stop's). */
  private snapshotAll = false;
  /** Export failures already reported, so a state that stays too large is logged once, not every second. */
  private readonly reported = new Map<string, string>();
  /** The code of the store flush failure last reported, until a flush passes. */
  private storeFailure: string | null = null;
  /** While a release is tried, states stay in memory: the disk keeps those saved before it. */
  private frozen = false;
  /** Exports are numbered as they are asked for: a copy asked for earlier never replaces one asked for later. */
  private exportNumber = 0;

  constructor(options: CodeServerOptions) {
    this.store = options.store;
    this.states = options.states;
    this.runtime = options.runtime;
    this.logger = options.logger;
    this.snapshotMs = options.snapshotMs ?? 1000;
  }

  /**
   * Reads the store once: every current bundle verified (then kept in memory), every module's
   * newest intact saved state. A module whose saved states are all damaged is failed, not reset.
   */
  boot(statesAt?: Record<string, number>): void {
    for (const entry of this.store.modules()) {
      try {
        this.take(this.store.load(entry.digest), statesAt);
      } catch {
        continue; // the store recorded it; the node reports store problems
      }
    }
  }

  /** Makes `verified` its module's current code, to start from the save `statesAt` names (else its newest). */
  private take(verified: VerifiedBundle, statesAt: Record<string, number> | undefined): void {
    const { name } = verified.manifest;
    const record = this.record(name);
    record.current = versionOf(verified);
    record.status = "restoring";
    const read = this.readState(name, statesAt);
    if (read.kind === "none") return;
    for (const p of read.problems) this.logger.log("error", "state.corrupt", { module: name, file: p.file, code: p.error.code, reason: p.error.message });
    if (read.kind === "found") {
      record.latest = read.saved;
      record.saved = { seq: read.saved.seq, savedAt: read.saved.savedAt, size: read.saved.bytes.length };
      if (read.problems.length > 0) this.logger.log("warn", "state.fell-back", { module: name, savedAt: read.saved.savedAt });
      return;
    }
    record.status = "failed";
    record.error = new FixpointError(
      "STATE_CORRUPT",
      `module ${name} was not started: every saved state of it is damaged (${read.problems.map((p) => p.file).join(", ")}), and starting it afresh would lose its state; to start it from its initial state on purpose, remove those files`,
    ).toData();
  }

  /** A module's newest intact save, or exactly save `statesAt[name]` when given (a rollback). */
  private readState(name: string, statesAt: Record<string, number> | undefined): ReturnType<StateStore["read"]> {
    if (statesAt === undefined) return this.states.read(name);
    const seq = statesAt[name];
    if (seq === undefined) return { kind: "none" };
    try {
      return { kind: "found", saved: this.states.readAt(name, seq), problems: [] };
    } catch (err) {
      // That save is gone or damaged (a write the disk lost, a save pruned after a commit the disk
      // lost): the newest intact one, through migrate if another version wrote it, beats none.
      const error = toFixpointError(err, "STATE_CORRUPT");
      const newest = this.states.read(name);
      return newest.kind === "none" ? { kind: "corrupt", problems: [{ file: `${name}/${seq}.state`, error }] } : { ...newest, problems: [{ file: `${name}/${seq}.state`, error }, ...newest.problems] };
    }
  }

  /** Starts saving changed states every snapshotMs. */
  start(): void {
    this.snapshotTimer = setInterval(() => void this.snapshot(), this.snapshotMs);
    this.snapshotTimer.unref();
  }

  private record(name: string): ModuleRecord {
    let r = this.records.get(name);
    if (r === undefined) {
      r = { name, status: "loading", current: null, loading: null, runningIn: null, latest: null, saved: null, saving: Promise.resolve(), unsaved: false, error: null, exported: 0, nextExportAt: 0, queue: Promise.resolve(), waiting: null };
      this.records.set(name, r);
    }
    return r;
  }

  /** Runs `job` on `record`'s queue, after every job queued before it. */
  private enqueue<T>(record: ModuleRecord, job: () => Promise<T>): Promise<T> {
    const run = record.queue.then(job);
    record.queue = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  // ---- what the runtime tells us ---------------------------------------------------------------

  /**
   * A new runtime process is up: load every module into it, each through its own queue, a few
   * at a time. The runtime makes each module's isolate and compiles its code on the isolate's own
   * thread, so loads side by side use the machine's cores (bench/restart.ts); all at once,
   * twenty modules with 10 MB of state kept a runtime on a loaded machine from answering its
   * heartbeat for over three seconds, and the supervisor killed it mid-restore, again and again.
   */
  async restoreAll(generation: number): Promise<void> {
    const waiting = [...this.records.values()];
    const worker = async (): Promise<void> => {
      for (let r = waiting.shift(); r !== undefined; r = waiting.shift()) await this.enqueue(r, () => this.restore(r!, generation, "runtime started"));
    };
    await Promise.all(Array.from({ length: RESTORES_AT_ONCE }, worker));
  }

  /** A module's isolate was stopped (its memory limit): load it again with its last saved state. */
  moduleDied(name: string, generation: number): void {
    const record = this.records.get(name);
    if (record === undefined) return;
    if (record.runningIn === generation) record.runningIn = null;
    void this.enqueue(record, () => this.restore(record, generation, "its isolate was stopped"));
  }

  private async restore(record: ModuleRecord, generation: number, why: string): Promise<void> {
    const runtime = this.runtime;
    if (runtime === null || record.current === null) return;
    // A newer runtime process has its own restore queued; this one's is moot.
    if (runtime.status.generation !== generation) return;
    if (record.runningIn === generation) return; // a push loaded it into this process already
    if (record.error?.code === "STATE_CORRUPT") return;
    record.status = "restoring";
    const v = record.current;
    try {
      const { value, generation: ran } = await runtime.load({ ...sourceOf(v), ...(record.latest === null ? {} : { restore: record.latest }) });
      record.runningIn = ran;
      record.status = "current";
      record.error = null;
      if (value.status === "loaded") this.accept(record, value.state);
      this.logger.log("info", "module.restored", { module: record.name, digest: v.manifest.digest.slice(0, 12), fromState: record.latest === null ? "initial" : (record.saved?.savedAt ?? "memory"), why });
    } catch (err) {
      const e = toFixpointError(err);
      // The runtime died meanwhile: its next generation restores this module again.
      if (e.code === "RUNTIME_UNAVAILABLE") return;
      record.status = "failed";
      record.error = e.toData();
      this.logger.log("error", "module.restore-failed", { module: record.name, code: e.code, reason: e.message });
    }
  }

  // ---- pushes ----------------------------------------------------------------------------------

  /**
   * Makes a verified bundle the module's current version: loaded into the runtime (with the
   * running version's state, or the last saved one), stored, pointed at by the store's table,
   * its state saved. Any failure leaves the module as it was.
   */
  push(verified: VerifiedBundle, by: string): Promise<PushOutcome> {
    const record = this.record(verified.manifest.name);
    return new Promise<PushOutcome>((resolve, reject) => {
      const settle = (r: PushOutcome | Error) => (r instanceof Error ? reject(r) : resolve(r));
      // Only the newest of the pushes waiting behind a running one loads; the ones it replaces
      // are answered as not having changed anything.
      const replaced = record.waiting;
      if (replaced !== null) {
        const m = replaced.verified.manifest;
        replaced.settle({ name: m.name, digest: m.digest, stored: false, changed: false });
        record.waiting = { verified, settle };
        return;
      }
      record.waiting = { verified, settle };
      void this.enqueue(record, async () => {
        const next = record.waiting!;
        record.waiting = null;
        await this.load(record, next.verified, by).then(next.settle, (err: unknown) => next.settle(toFixpointError(err)));
      });
    });
  }

  private async load(record: ModuleRecord, verified: VerifiedBundle, by: string): Promise<PushOutcome> {
    const { manifest } = verified;
    if (record.error?.code === "STATE_CORRUPT") throw FixpointError.fromData(record.error);
    const before = { status: record.status, runningIn: record.runningIn };
    const runtime = this.runtime;
    // The same code, running: nothing to load (the store still repairs a damaged copy).
    const same = record.current?.manifest.digest === manifest.digest && (runtime === null || (record.runningIn === runtime.status.generation && record.status === "current"));
    record.status = "loading";
    record.loading = manifest.digest;
    // Durable at the next snapshot, not before the answer (store.flush): no fsync on a push's path.
    const storing = this.store.storeBundle(verified, false).then(
      (stored) => ({ stored }),
      (err: unknown) => ({ error: new FixpointError("STORE_WRITE_FAILED", `cannot store module ${manifest.name}: ${(err as Error).message}`, { cause: err }) }),
    );
    let loaded: { value: LoadedOrUnchanged; generation: number } | null = null;
    try {
      if (runtime !== null && !same) {
        // Where a version runs, a live swap hands its state over; where none does (a restarted
        // runtime, a module that died, whichever happened last), the runtime asks for the saved
        // state (needs-state) and starts from it. The runtime knows which: deciding here would
        // race a death. Sent only when asked: a large state crossed for nothing on every push.
        loaded = await runtime.load({ ...sourceOf(versionOf(verified)), ...(record.latest === null ? {} : { restore: record.latest }) }, true);
      }
      const outcome = await storing;
      if ("error" in outcome) throw outcome.error;
      const changed = await this.store.setCurrent(manifest.name, manifest.digest, false, (digest) => this.referenced(digest));
      record.current = versionOf(verified);
      record.status = "current";
      record.error = null;
      if (loaded !== null && loaded.value.status === "loaded") {
        record.runningIn = loaded.generation;
        this.accept(record, loaded.value.state);
      }
      record.loading = null;
      const swap = loaded?.value.status === "loaded" ? loaded.value : null;
      this.logger.log("info", "module.pushed", {
        module: manifest.name,
        digest: manifest.digest.slice(0, 12),
        stored: outcome.stored,
        changed,
        version: swap?.version,
        swapMs: swap === null ? undefined : Math.round(swap.ms * 10) / 10,
        by,
      });
      const base = { name: manifest.name, digest: manifest.digest, stored: outcome.stored, changed: changed || outcome.stored };
      return swap === null ? base : { ...base, version: swap.version, swapMs: swap.ms };
    } catch (err) {
      record.loading = null;
      record.status = before.status;
      record.runningIn = before.runningIn;
      const stored = await storing;
      // A bundle that did not become current is not kept (nothing refers to it).
      if ("stored" in stored && stored.stored && !this.referenced(manifest.digest)) this.store.discard(manifest.digest);
      if (loaded !== null && loaded.value.status === "loaded") await this.putBack(record, loaded.generation);
      if (record.current === null && record.latest === null) this.records.delete(record.name);
      throw err;
    }
  }

  /** The runtime runs code the store could not keep: swap it back to the current code. */
  private async putBack(record: ModuleRecord, generation: number): Promise<void> {
    const runtime = this.runtime!;
    try {
      if (record.current === null) {
        await runtime.unload(record.name);
        record.runningIn = null;
      } else if (runtime.status.generation === generation) {
        const { value, generation: ran } = await runtime.load({ ...sourceOf(record.current), ...(record.latest === null ? {} : { restore: record.latest }) });
        record.runningIn = ran;
        if (value.status === "loaded") this.accept(record, value.state);
      }
      this.logger.log("warn", "module.put-back", { module: record.name, digest: record.current?.manifest.digest.slice(0, 12) ?? "none" });
    } catch (err) {
      const e = toFixpointError(err);
      this.logger.log("error", "module.put-back-failed", { module: record.name, code: e.code, reason: e.message });
    }
  }

  private referenced(digest: string): boolean {
    for (const r of this.records.values()) if (r.current?.manifest.digest === digest || r.loading === digest) return true;
    return false;
  }

  // ---- states ----------------------------------------------------------------------------------

  /**
   * A state the runtime handed back: kept if it belongs to the current code; the next snapshot
   * saves it. The very state kept already (a restore the runtime took as it was sent) is not
   * saved again.
   */
  private accept(record: ModuleRecord, state: StateBytes): void {
    if (record.current === null || state.digest !== record.current.manifest.digest) return;
    const latest = record.latest;
    if (latest !== null && latest.bytes === state.bytes && latest.digest === state.digest && latest.version === state.version) return;
    record.latest = state;
    record.unsaved = true;
  }

  /** Starts saving every state newer than its last save (none while a release is on trial). */
  private saveUnsaved(): void {
    if (this.frozen) return;
    for (const record of this.records.values()) {
      const state = record.latest;
      if (!record.unsaved || state === null) continue;
      record.unsaved = false;
      record.saving = this.states.save(record.name, state).then(
        (saved: SavedState) => {
          if ((record.saved?.seq ?? 0) < saved.seq) record.saved = { seq: saved.seq, savedAt: saved.savedAt, size: saved.bytes.length };
        },
        (err: unknown) => {
          const e = toFixpointError(err);
          this.logger.log("error", "state.save-failed", { module: record.name, code: e.code, reason: e.message });
          throw e;
        },
      );
      record.saving.catch(() => {});
    }
  }

  /**
   * Saves the states that may have changed since the last snapshot (`all`: large ones too, not
   * paced); one at a time, bursts coalesce.
   */
  snapshot(all = false): Promise<void> {
    this.snapshotAll ||= all;
    if (this.snapshotting !== null) {
      this.snapshotAgain = true;
      return this.snapshotting;
    }
    this.snapshotting = (async () => {
      do {
        this.snapshotAgain = false;
        const flushed = await this.flushStore();
        const whole = this.snapshotAll;
        this.snapshotAll = false;
        await this.exportStates(false, whole);
        // A state goes to disk only once the table there names its code.
        if (flushed) this.saveUnsaved();
      } while (this.snapshotAgain);
      this.snapshotting = null;
    })();
    return this.snapshotting;
  }

  /** The versions pushes made current, onto disk (BundleStore.flush); a failure is logged once until it passes. */
  private async flushStore(): Promise<boolean> {
    try {
      await this.store.flush((digest) => this.referenced(digest));
      this.storeFailure = null;
      return true;
    } catch (err) {
      const e = toFixpointError(err);
      if (this.storeFailure !== e.code) this.logger.log("error", "store.write-failed", { code: e.code, reason: e.message });
      this.storeFailure = e.code;
      return false;
    }
  }

  /** `force`: whatever the runtime's state; `all`: large states too, whatever their pace. */
  private async exportStates(force = false, all = force): Promise<Record<string, ErrorData>> {
    const runtime = this.runtime;
    if (runtime === null || (runtime.status.state !== "up" && !force) || this.frozen) return {};
    let answer;
    const number = ++this.exportNumber;
    const started = performance.now();
    const notYet = all ? [] : [...this.records.values()].filter((r) => r.nextExportAt > started).map((r) => r.name);
    try {
      answer = await runtime.exportStates(notYet);
    } catch {
      return {}; // the runtime is going down; its restore uses the states kept so far
    }
    const { snapshot, failed } = answer.value;
    // Each module's share of this copy's time, by its bytes (the runtime copies them all at once).
    const now = performance.now();
    const msPerByte = (now - started) / Math.max(1, Object.values(snapshot).reduce((n, st) => n + st.bytes.length, 0));
    for (const [name, state] of Object.entries(snapshot)) {
      const record = this.records.get(name);
      if (record !== undefined) record.nextExportAt = now + (SNAPSHOT_PACE - 1) * msPerByte * state.bytes.length;
      if (record === undefined || record.runningIn !== answer.generation || record.exported > number) continue;
      record.exported = number;
      this.reported.delete(name);
      this.accept(record, state);
    }
    for (const [name, error] of Object.entries(failed)) {
      if (this.reported.get(name) === error.code) continue;
      this.reported.set(name, error.code);
      this.logger.log("error", "state.export-failed", { module: name, code: error.code, reason: error.message, kept: this.records.get(name)?.saved?.savedAt ?? "none" });
    }
    return failed;
  }

  // ---- the guarded restart's steps (loader/release/guarded-restart.ts) -------------------------

  /**
   * Every module's state out of the runtime and durably on disk, now (a drained node changes
   * nothing meanwhile). Returns the save each module is at, and the modules whose state could
   * not be saved (too large, not copyable, a failed write, a damaged state it never had back).
   */
  async saveAll(): Promise<{ seqs: Record<string, number>; failed: Record<string, ErrorData> }> {
    await this.store.flush((digest) => this.referenced(digest));
    const failed: Record<string, ErrorData> = { ...(await this.exportStates(true)) };
    this.saveUnsaved();
    const seqs: Record<string, number> = {};
    for (const r of this.records.values()) {
      if (r.current === null) continue;
      if (r.error?.code === "STATE_CORRUPT") failed[r.name] = r.error;
      try {
        await r.saving;
      } catch (err) {
        failed[r.name] = toFixpointError(err).toData();
      }
      if (r.saved !== null) seqs[r.name] = r.saved.seq;
      else if (r.latest !== null && failed[r.name] === undefined) failed[r.name] = new FixpointError("STORE_WRITE_FAILED", `module ${r.name}'s state is not on disk`).toData();
    }
    return { seqs, failed };
  }

  /** From here states stay in memory only (a release on trial must not overwrite what a rollback needs). */
  freeze(): void {
    this.frozen = true;
  }

  /** States go to disk again (after a commit or a rollback), starting with every module's now. */
  thaw(): void {
    this.frozen = false;
    for (const r of this.records.values()) r.unsaved ||= r.latest !== null && r.latest.digest === r.current?.manifest.digest;
    this.saveUnsaved();
  }

  /**
   * Replaces every module with `versions`, each to start from the save `statesAt` names (none:
   * its initial state), for a runtime about to be restarted on them. Modules not listed are gone.
   */
  install(versions: VerifiedBundle[], statesAt: Record<string, number>): void {
    this.records.clear();
    this.reported.clear();
    for (const verified of versions) this.take(verified, statesAt);
  }

  /** Modules that do not run as current code (a release that failed to start some). */
  failures(): { name: string; error: ErrorData | null; status: ModuleStatus }[] {
    const gen = this.runtime?.status.generation;
    return [...this.records.values()]
      .filter((r) => r.current !== null && (r.status !== "current" || r.runningIn !== gen))
      .map((r) => ({ name: r.name, error: r.error, status: r.status }));
  }

  /** An orderly stop: the last states out of the runtime and onto disk. */
  async stop(): Promise<void> {
    clearInterval(this.snapshotTimer);
    await Promise.all([...this.records.values()].map((r) => r.queue));
    await this.snapshot(true);
    await this.states.settled();
  }

  // ---- what status shows ------------------------------------------------------------------------

  /** Every module the node knows, by name. */
  list(): ModuleView[] {
    return [...this.records.values()]
      .filter((r) => r.current !== null || r.error !== null)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((r) => ({
        name: r.name,
        status: r.status,
        manifest: r.current?.manifest ?? null,
        storedAt: this.store.entry(r.name)?.storedAt ?? "",
        running: this.runtime !== null && r.runningIn === this.runtime.status.generation,
        error: r.error,
        saved: r.saved,
      }));
  }

  /** How many modules have a current version. */
  get size(): number {
    return [...this.records.values()].filter((r) => r.current !== null).length;
  }
}

function versionOf(verified: VerifiedBundle): Version {
  return { manifest: verified.manifest, code: Buffer.from(verified.bundle.code).toString("utf8"), sourceMap: Buffer.from(verified.bundle.sourceMap).toString("utf8") };
}

/** A verified bundle as the runtime takes it (a load, a check, a prepare). */
export function sourceOfBundle(verified: VerifiedBundle): ModuleSource {
  return sourceOf(versionOf(verified));
}

function sourceOf(v: Version): ModuleSource {
  return { name: v.manifest.name, digest: v.manifest.digest, code: v.code, sourceMap: v.sourceMap };
}
