/**
 * The table of running modules and the hot swap, one queue per module (Vite's lesson: updates
 * applied in arrival order through one queue; Erlang's: new code replaces old only once it has
 * loaded and taken its state, and the old code finishes what it was doing).
 *
 * A swap of module M to new code:
 *
 *   1. compile and start the new version in a new isolate   (M keeps serving meanwhile)
 *   2. hold new calls to M, pause the old version's own work (its timers); let calls in
 *      flight on the old version finish (bounded by drainMs)
 *   3. copy the old version's state out, migrate it into the new version
 *   4. route to the new version, release the held calls, retire the old version (it finishes
 *      the calls still in flight on it and nothing else) and dispose it once they are done
 *
 * If 1 or 3 fails, the new isolate is disposed and the old version goes on with its state
 * untouched; the error (mapped to the TypeScript source) goes back to whoever pushed. Held
 * calls wait milliseconds, never fail. The table is an executor: the loader's code server
 * decides the order of a module's changes (and coalesces bursts of saves); a load that arrives
 * while another of the same module runs simply waits for it, in arrival order.
 */
import { FixpointError, toFixpointError } from "../../loader/protocol/errors.js";
import { DEFAULT_RUNTIME_LIMITS, type LoadResult, type ModuleSource, type RuntimeModuleStatus, type RuntimeResults, type StateBytes, type StateKept } from "../../loader/protocol/runtime-ipc.js";
import type { PackedState, WireRequest, WireResponse } from "../isolate/harness.js";
import { DEFAULT_ISOLATE_LIMITS, ModuleIsolate, type IsolateHooks, type IsolateLimits, type ModuleShape, type WarmIsolate } from "../host/module-isolate.js";
import { SPARE_DELAY_MS, SpareIsolate } from "./spare-isolate.js";
import { bytesToState, stateToBytes } from "../host/state-codec.js";

export interface LoadRequest extends ModuleSource {
  /**
   * The module's last saved state, to start from when no version of it runs here (a restarted
   * runtime, a module whose isolate died). A running version hands over its live state instead.
   */
  restore?: StateBytes;
  /**
   * The loader holds a saved state it did not send (a push: see RuntimeRequest). Where no version
   * runs, the load answers `needs-state` rather than start from the initial state: the table,
   * which knows whether one runs, decides, so no race between a death and a push can reset a state.
   */
  saved?: true;
}

// The table answers the loader's requests, so its results are the IPC interface's types.
export type LoadOutcome = LoadResult;
export type ModuleInfo = RuntimeModuleStatus;
export type ExportResult = RuntimeResults["export"];

export interface TableHooks {
  log(module: string, level: "debug" | "info" | "warn" | "error", text: string): void;
  /**
   * An isolate died (memory limit); the table has already removed it. `fatal`: V8 lost control
   * of it (a catastrophic error) and the process hosting the table should end (see IsolateHooks).
   */
  onModuleDead(module: string, reason: FixpointError, fatal: boolean): void;
}

interface Running {
  isolate: ModuleIsolate;
  digest: string;
  inFlight: number;
  calls: number;
  loadedAt: string;
  drained: (() => void)[];
}

interface Slot {
  running: Running | null;
  /** Calls held while a swap hands the state over. */
  held: (() => void)[] | null;
  /** The swap in progress, and the loads waiting behind it in arrival order. */
  busy: Promise<void> | null;
  waiting: { request: LoadRequest; settle: (o: LoadOutcome | FixpointError) => void }[];
}

export interface TableOptions {
  limits?: Partial<IsolateLimits>;
  /** Longest wait for calls in flight on the old version before its state is taken, ms. Default 2000. */
  drainMs?: number;
  /** Largest state a version may take over with, serialized (see state-codec.ts). */
  maxStateBytes?: number;
}

export class ModuleTable {
  private readonly slots = new Map<string, Slot>();
  private readonly limits: IsolateLimits;
  private readonly drainMs: number;
  private readonly maxStateBytes: number;
  private readonly spare: SpareIsolate;
  /** Modules started ahead of their load (prepare()), by name. */
  private readonly prepared = new Map<string, { digest: string; isolate: ModuleIsolate }>();
  private disposed = false;
  /** The export in progress (exportChanged): the next waits for it. */
  private exporting: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly hooks: TableHooks,
    options: TableOptions = {},
  ) {
    this.limits = { ...DEFAULT_ISOLATE_LIMITS, ...options.limits };
    this.spare = new SpareIsolate(this.limits);
    this.drainMs = options.drainMs ?? 2000;
    this.maxStateBytes = options.maxStateBytes ?? DEFAULT_RUNTIME_LIMITS.maxStateBytes;
  }

  private slot(name: string): Slot {
    let slot = this.slots.get(name);
    if (slot === undefined) {
      slot = { running: null, held: null, busy: null, waiting: [] };
      this.slots.set(name, slot);
    }
    return slot;
  }

  /** Loads or swaps a module; resolves when it is live (or unchanged). */
  load(request: LoadRequest): Promise<LoadOutcome> {
    const slot = this.slot(request.name);
    return new Promise<LoadOutcome>((resolve, reject) => {
      const settle = (o: LoadOutcome | FixpointError) => (o instanceof FixpointError ? reject(o) : resolve(o));
      if (slot.busy === null) {
        this.run(slot, request, settle);
        return;
      }
      slot.waiting.push({ request, settle });
    });
  }

  private run(slot: Slot, request: LoadRequest, settle: (o: LoadOutcome | FixpointError) => void): void {
    slot.busy = this.swap(slot, request).then(settle, (err: unknown) => settle(err instanceof FixpointError ? err : new FixpointError("INTERNAL", String(err))));
    void slot.busy.then(() => {
      slot.busy = null;
      const next = slot.waiting.shift();
      if (next !== undefined) this.run(slot, next.request, next.settle);
    });
  }

  private async swap(slot: Slot, request: LoadRequest): Promise<LoadOutcome> {
    const started = performance.now();
    const old = slot.running;
    if (old !== null && old.digest === request.digest) {
      return { status: "unchanged", name: request.name, digest: request.digest };
    }
    if (old === null && request.saved === true && request.restore === undefined) return { status: "needs-state", name: request.name };
    const prepared = this.takePrepared(request.name, request.digest);
    return this.swapIn(slot, request, old, prepared ?? (await this.start(slot, request)), started);
  }

  /** The module's code compiled and started in a new isolate (from the warm spare if there is one): not yet given a state. */
  private async start(slot: Slot, source: ModuleSource): Promise<ModuleIsolate> {
    const warm = await this.spare.take();
    try {
      const owner: { isolate: ModuleIsolate | null } = { isolate: null };
      owner.isolate = await ModuleIsolate.create(source.name, source.code, source.sourceMap, this.limits, this.isolateHooks(source.name, isCurrentOf(slot, owner)), warm ?? undefined);
      return owner.isolate;
    } finally {
      // The next spare, whether this start took one or failed (see spare-isolate.ts).
      this.spare.refill();
    }
  }

  /**
   * Starts a module's code, as a load would, and keeps it for the load of that very code: a
   * runtime process started ahead of a guarded restart does this while the old one still
   * serves, so that once it is adopted each module's load only takes its state (bench/upgrade.ts).
   * Throws as a load would (MODULE_LOAD_FAILED with the location): the release's check.
   */
  async prepare(source: ModuleSource): Promise<void> {
    const isolate = await this.start(this.slot(source.name), source);
    if (this.disposed) return isolate.dispose();
    this.prepared.get(source.name)?.isolate.dispose();
    this.prepared.set(source.name, { digest: source.digest, isolate });
  }

  private takePrepared(name: string, digest: string): ModuleIsolate | null {
    const prepared = this.prepared.get(name);
    if (prepared === undefined) return null;
    this.prepared.delete(name);
    if (prepared.digest === digest) return prepared.isolate;
    prepared.isolate.dispose();
    return null;
  }

  private async swapIn(slot: Slot, request: LoadRequest, old: Running | null, isolate: ModuleIsolate, started: number): Promise<LoadOutcome> {
    let state: StateBytes | StateKept;
    try {
      slot.held = [];
      // From here the old version only finishes its calls in flight (see ModuleIsolate.pause).
      old?.isolate.pause();
      let previous: { packed: PackedState; version: string } | null = null;
      // A snapshot of this very code is its own state: no migration.
      let migrate = true;
      // A state that reaches the module as it left the old version or the disk (the same code,
      // or code without a migrate hook) is its own measure: a copy back would give what it came
      // from. So a swap encodes the old version's state once, and a restarted runtime, a rollback
      // or a release's restart (10 MB across 20 modules) skips copying each state out again.
      let taken: StateBytes | StateKept | null = null;
      if (old !== null) {
        await this.drain(old);
        const packed = await old.isolate.exportStateNow(this.maxStateBytes);
        previous = { packed, version: old.isolate.shape.version };
        if (!isolate.shape.migrate) taken = { bytes: stateToBytes(request.name, packed, this.maxStateBytes), version: isolate.shape.version, digest: request.digest };
      } else if (request.restore !== undefined) {
        previous = { packed: bytesToState(request.name, request.restore.bytes), version: request.restore.version };
        migrate = request.restore.digest !== request.digest;
        if ((!migrate || !isolate.shape.migrate) && request.restore.bytes.length <= this.maxStateBytes) taken = { kept: true, version: isolate.shape.version, digest: request.digest };
      }
      await isolate.init(previous, migrate);
      if (taken !== null) {
        state = taken;
        isolate.markExported();
      } else {
        // Measured by a real copy before the new version takes over: a state too large to save, or
        // one that cannot be copied, is refused here while the old version still serves with its own.
        const packed = await isolate.exportStateNow(this.maxStateBytes).catch((err: unknown) => {
          throw notCopyable(err, request.name);
        });
        state = { bytes: stateToBytes(request.name, packed, this.maxStateBytes), version: isolate.shape.version, digest: request.digest };
      }
    } catch (err) {
      isolate.dispose();
      old?.isolate.resume();
      this.release(slot);
      throw err;
    }
    slot.running = { isolate, digest: request.digest, inFlight: 0, calls: 0, loadedAt: new Date().toISOString(), drained: [] };
    old?.isolate.retire();
    this.release(slot);
    // The old version finishes every call in flight on it, however long (each is bounded by the
    // module's own limits): disposing it earlier failed them for a module that exists (issue 12).
    // Disposing an isolate frees its heap: work for after the swap (see spare-isolate.ts).
    if (old !== null) void this.drain(old, false).then(() => setTimeout(() => old.isolate.dispose(), SPARE_DELAY_MS).unref());
    return {
      status: "loaded",
      name: request.name,
      digest: request.digest,
      version: isolate.shape.version,
      previousDigest: old?.digest ?? null,
      ms: performance.now() - started,
      state,
    };
  }

  /**
   * Compiles and starts `request`'s code in an isolate of its own and disposes it, touching
   * nothing that runs: whether a release's module would load, asked before the node goes down.
   */
  async check(request: LoadRequest): Promise<void> {
    const isolate = await ModuleIsolate.create(request.name, request.code, request.sourceMap, this.limits, {
      log: () => {},
      call: () => Promise.reject(new FixpointError("MODULE_NOT_FOUND", "a module being checked cannot call other modules")),
      onDead: () => {},
    });
    isolate.dispose();
  }

  private release(slot: Slot): void {
    const held = slot.held ?? [];
    slot.held = null;
    for (const go of held) go();
  }

  /** Resolves when no call is in flight on `running`, or (`bounded`) after drainMs at most. */
  private drain(running: Running, bounded = true): Promise<void> {
    if (running.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = bounded ? setTimeout(resolve, this.drainMs) : undefined;
      running.drained.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private isolateHooks(name: string, isCurrent: () => boolean): IsolateHooks {
    return {
      log: (level, text) => this.hooks.log(name, level, text),
      call: (module, fn, args) => this.call(module, fn, args),
      onDead: (reason, fatal = false) => {
        // Current or not (a version still loading), a lost isolate compromises the process.
        if (fatal) return this.hooks.onModuleDead(name, reason, true);
        if (!isCurrent()) return;
        const slot = this.slots.get(name);
        if (slot !== undefined) slot.running = null;
        this.hooks.onModuleDead(name, reason, false);
      },
    };
  }

  /** Waits out a swap's handover, then runs `work` on the current version, counted as in flight. */
  private async use<T>(module: string, work: (isolate: ModuleIsolate, running: Running) => Promise<T>): Promise<T> {
    const slot = this.slots.get(module);
    if (slot === undefined || (slot.running === null && slot.busy === null)) {
      throw new FixpointError("MODULE_NOT_FOUND", `no module "${module}" runs on this node${this.slots.size > 0 ? ` (running: ${this.names().join(", ")})` : ""}`);
    }
    // A load in progress with nothing running yet (a first load, or a module reloaded after its
    // isolate died) is waited for like a handover, rather than answered "not running".
    while (slot.held !== null || (slot.running === null && slot.busy !== null)) {
      if (slot.held !== null) await new Promise<void>((go) => slot.held!.push(go));
      else await slot.busy;
    }
    const running = slot.running;
    if (running === null) throw new FixpointError("MODULE_NOT_FOUND", `module "${module}" is not running (it failed to load or was stopped)`);
    running.inFlight++;
    running.calls++;
    try {
      return await work(running.isolate, running);
    } finally {
      running.inFlight--;
      if (running.inFlight === 0) for (const done of running.drained.splice(0)) done();
    }
  }

  call(module: string, fn: string, args: unknown[]): Promise<unknown> {
    return this.use(module, (isolate) => isolate.call(fn, args));
  }

  /** Runs `work` on the module's live version, counted as in flight like a call: the REPL's way in. */
  withModule<T>(module: string, work: (isolate: ModuleIsolate) => Promise<T>): Promise<T> {
    return this.use(module, (isolate) => work(isolate));
  }

  http(module: string, request: WireRequest): Promise<WireResponse> {
    return this.use(module, (isolate) => isolate.http(request));
  }

  health(module: string): Promise<{ ok: boolean; detail?: string }> {
    return this.use(module, (isolate) => isolate.health());
  }

  /**
   * One module's state, serialized, with the version and digest it belongs to (for the loader's
   * snapshots). STATE_TOO_LARGE past the limit.
   */
  exportState(module: string): Promise<StateBytes> {
    return this.use(module, async (isolate, running) => ({ bytes: stateToBytes(module, await isolate.exportState(this.maxStateBytes), this.maxStateBytes), version: isolate.shape.version, digest: running.digest }));
  }

  /**
   * Copies of the states that may have changed since their last export (the loader's snapshot),
   * the modules whose copy failed, and those no code ran in since (their last copy stands);
   * nothing about the modules in `skip` (the loader paces large states).
   * One export at a time, each answered before the next starts: a module the one before copied
   * is "unchanged" to the next, so an answer saying so must not overtake the copy it relies on
   * (it did: a guarded restart's save then took a state seconds old for modules a periodic
   * snapshot was still copying, bench/upgrade.ts).
   */
  exportChanged(skip: readonly string[] = []): Promise<ExportResult> {
    const run = this.exporting.then(() => this.exportNow(new Set(skip)));
    this.exporting = run.catch(() => {});
    return run;
  }

  private async exportNow(skip: ReadonlySet<string>): Promise<ExportResult> {
    const result: ExportResult = { snapshot: {}, failed: {}, unchanged: [] };
    // All at once: each isolate serializes its state on its own thread while this one reads the
    // copies that are done (a guarded restart's save, out of service, is mostly this).
    await Promise.all(
      this.names().filter((name) => !skip.has(name)).map(async (name) => {
        if (!this.changedSinceExport(name)) return void result.unchanged.push(name);
        try {
          result.snapshot[name] = await this.exportState(name);
        } catch (err) {
          result.failed[name] = toFixpointError(err).toData();
        }
      }),
    );
    result.unchanged.sort();
    return result;
  }

  /** Whether a module's state may have changed since it was last exported (true if unknown). */
  changedSinceExport(module: string): boolean {
    return this.slots.get(module)?.running?.isolate.changedSinceExport ?? true;
  }

  names(): string[] {
    return [...this.slots.entries()].filter(([, s]) => s.running !== null).map(([n]) => n).sort();
  }

  shapeOf(module: string): ModuleShape | null {
    return this.slots.get(module)?.running?.isolate.shape ?? null;
  }

  /** Every running module with its heap figure (see ModuleIsolate.heapUsed: never blocks). */
  async list(): Promise<ModuleInfo[]> {
    return Promise.all(
      this.names().map(async (name) => {
        const r = this.slots.get(name)!.running!;
        const { version, functions, http, health } = r.isolate.shape;
        return { name, digest: r.digest, version, functions, http, health, heapUsed: await r.isolate.heapUsed(), calls: r.calls, loadedAt: r.loadedAt };
      }),
    );
  }

  /** Stops a module and disposes its isolate. */
  unload(module: string): void {
    const slot = this.slots.get(module);
    slot?.running?.isolate.dispose();
    this.slots.delete(module);
    this.prepared.get(module)?.isolate.dispose();
    this.prepared.delete(module);
  }

  dispose(): void {
    this.disposed = true;
    for (const name of new Set([...this.slots.keys(), ...this.prepared.keys()])) this.unload(name);
    this.spare.dispose();
  }
}

/** The state a new version took over with could not be copied out: it cannot be saved either. */
function notCopyable(err: unknown, name: string): unknown {
  if (!(err instanceof FixpointError) || (err.code !== "RESULT_NOT_COPYABLE" && err.code !== "MODULE_ERROR")) return err;
  return new FixpointError("STATE_NOT_COPYABLE", `module ${name}'s new state cannot be saved (${err.message}); a state must be plain data`);
}

/**
 * Whether `owner.isolate` is the version `slot` routes to. Made here rather than as an arrow in
 * swap(): an arrow there shares swap()'s scope, `old` included, so every version's hooks kept the
 * version before it alive (its isolate handle, hooks, code and source map), a chain through every
 * version ever loaded (measured: no disposed ModuleIsolate was ever collected).
 */
function isCurrentOf(slot: Slot, owner: { isolate: ModuleIsolate | null }): () => boolean {
  return () => owner.isolate !== null && slot.running?.isolate === owner.isolate;
}
