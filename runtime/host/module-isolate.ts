/**
 * One module version in its own V8 isolate. This is the only file that uses isolated-vm; which
 * release (5, 6 or 7, one per Node.js line) is chosen once, in `./ivm.ts`.
 *
 * Lifecycle (a version is *pending* until it compiled, started and took its state; only then
 * does the module table route calls to it — Erlang's sticky code server):
 *
 *   create()  isolate + context, bootstrap (web primitives, harness), compile and run the
 *             bundle, find its definition               → MODULE_LOAD_FAILED
 *   init()    initial state, or migrate the previous one → MIGRATION_FAILED
 *   call() / http() / health() / exportState()           → coded errors, isolate lives on
 *   dispose() releases everything; idempotent
 *
 * Known limits, measured on Node 20 (see the dev-loop issue): `memoryLimit` is soft (V8 may
 * overshoot 1.4-2x before the isolate is stopped), and one huge allocation can abort the whole
 * process from inside V8. Hence the runtime runs in its own process, supervised by the loader.
 * isolated-vm's errors carry no codes; `toModuleError` maps them to ours in one place.
 */
import { ivm, type IsolatedVM } from "./ivm.js";
import { FixpointError, type ErrorCode } from "../../loader/protocol/errors.js";
import type { ReplCompletion, ReplEvalResult } from "../../loader/protocol/runtime-ipc.js";
import type { LogLevel } from "../../loader/protocol/log.js";
import { DEFAULT_HEARTBEAT_INTERVAL_MS, HEARTBEAT_MISSES } from "../../loader/protocol/limits.js";
import type { Fired, Harness, Invoked, PackedState, ThrownData, WireRequest, WireResponse } from "../isolate/harness.js";
import { stateTooLarge, unpackHere } from "./state-codec.js";
import { bootstrapSource } from "./bootstrap.js";
import { SourceMap } from "./source-map.js";
import { hostFunctions, hostShape } from "./capabilities.js";
import { MAX_TIMERS, moduleLimits, type IsolateLimits } from "./module-limits.js";
import { ModuleTimers } from "./module-timers.js";
import { withDeadline } from "../deadline.js";

export { DEFAULT_ISOLATE_LIMITS, type IsolateLimits } from "./module-limits.js";

/** The node side of a module's grants (capabilities.ts). */
export interface IsolateHooks {
  log(level: LogLevel, text: string): void;
  call(module: string, fn: string, args: unknown[]): Promise<unknown>;
  /**
   * Told when V8 stopped the isolate for good (memory limit, catastrophic error). `fatal`: V8
   * lost control of it (a catastrophic error), so its memory and thread are not coming back
   * and calls on it never settle; isolated-vm's advice is to end the process.
   */
  onDead(reason: FixpointError, fatal?: boolean): void;
}

export interface ModuleShape {
  version: string;
  functions: string[];
  http: boolean;
  health: boolean;
  /** Whether it has a migrate hook: without one it takes a previous version's state as it is. */
  migrate: boolean;
}

type HarnessMethod = keyof Harness;

/** What becomes of a prepared isolate: who to tell if V8 gives up on it. */
interface Fate {
  name: string;
  hooks: IsolateHooks | null;
  dead: FixpointError | null;
  /** The instance, once create() made it: timers go to it. */
  self: ModuleIsolate | null;
}

/** An isolate with its context and the bootstrap already run, waiting for a module. */
export interface WarmIsolate {
  readonly isolate: IsolatedVM.Isolate;
  readonly context: IsolatedVM.Context;
  readonly fate: Fate;
  /** The harness, booted already (its first run in a fresh isolate is a swap's costliest step). */
  readonly harness: IsolatedVM.Reference;
  /** The host functions the harness holds; released with the isolate (see releaseHostRefs). */
  readonly refs: IsolatedVM.Reference[];
}

/**
 * V8's code cache for the bootstrap, made once per process from the first isolate prepared. V8
 * puts in a cache the functions compiled when it is made; made at compile time it holds only the
 * top level, so it is made after the harness booted and warmed, and a new isolate then compiles
 * none of their functions again (measured: compile, run, boot and warm 8.3 → 5.4 ms of CPU).
 */
let bootstrapCache: IsolatedVM.ExternalCopy<ArrayBuffer> | undefined;
const BOOTSTRAP_FILE_NAME = "fixpoint:bootstrap.js";

/** Creates an isolate and runs the bootstrap in it (web primitives, harness). */
export async function prepareIsolate(limits: IsolateLimits): Promise<WarmIsolate> {
  const fate: Fate = { name: "(spare)", hooks: null, dead: null, self: null };
  const isolate = new ivm.Isolate({
    memoryLimit: limits.memoryMb,
    onCatastrophicError: (message) => {
      fate.dead = new FixpointError("MODULE_MEMORY_LIMIT", `V8 lost control of module ${fate.name}'s isolate: ${message}`);
      fate.hooks?.onDead(fate.dead, true);
    },
  });
  const refs: IsolatedVM.Reference[] = [];
  try {
    const context = await isolate.createContext();
    const cached = bootstrapCache;
    const bootstrap = await isolate.compileScript(bootstrapSource(), cached === undefined ? { filename: BOOTSTRAP_FILE_NAME } : { filename: BOOTSTRAP_FILE_NAME, cachedData: cached });
    await bootstrap.run(context, { timeout: limits.cpuMs });
    bootstrap.release();
    // The grants (capabilities.ts), bound late through `fate`: the module and its hooks arrive in create().
    refs.push(...hostFunctions(fate).map((f) => new ivm.Reference(f)));
    const boot = (await context.global.get("__fixpoint_boot", { reference: true })) as IsolatedVM.Reference;
    const harness = (await boot.apply(undefined, [...refs, MAX_TIMERS, hostShape()], { result: { reference: true }, timeout: limits.cpuMs })) as IsolatedVM.Reference;
    boot.release();
    const warm = (await harness.get("warm", { reference: true })) as IsolatedVM.Reference;
    await warm.apply(undefined, [], { timeout: limits.cpuMs });
    warm.release();
    if (cached === undefined) bootstrapCache ??= await codeCacheAfterWarm(isolate);
    return { isolate, context, fate, harness, refs };
  } catch (err) {
    if (!isolate.isDisposed) isolate.dispose();
    releaseHostRefs(refs);
    throw toModuleError(err, "(bootstrap)", new SourceMap({}), "MODULE_LOAD_FAILED");
  }
}

/**
 * The bootstrap's code cache with what the isolate compiled so far: compiling the same source
 * under the same name again hits V8's compilation cache, whose functions are the ones that ran.
 */
async function codeCacheAfterWarm(isolate: IsolatedVM.Isolate): Promise<IsolatedVM.ExternalCopy<ArrayBuffer> | undefined> {
  const again = await isolate.compileScript(bootstrapSource(), { filename: BOOTSTRAP_FILE_NAME, produceCachedData: true });
  // The d.ts types compileScript's result without it, but a Script carries the data it produced.
  const produced = (again as IsolatedVM.Script & IsolatedVM.CachedDataResult).cachedData;
  again.release();
  return produced;
}

/** Disposes a prepared isolate nobody took. */
export function discardIsolate(warm: WarmIsolate): void {
  warm.harness.release();
  warm.context.release();
  if (!warm.isolate.isDisposed) warm.isolate.dispose();
  releaseHostRefs(warm.refs);
}

/**
 * The longest CPU limit for which calls enter an isolate synchronously on the runtime's main
 * thread (see enter()). The loader declares a runtime dead after HEARTBEAT_MISSES heartbeat
 * intervals without an answer (3 s), so a module spinning for its whole limit must stay well
 * under that: a third of it.
 */
const SYNC_CPU_MS = (DEFAULT_HEARTBEAT_INTERVAL_MS * HEARTBEAT_MISSES) / 3;

/**
 * The longest JSON text of a state an isolate makes or parses itself: a quarter of what its heap
 * has left, so that the text (up to two bytes a character), the stringifier's growing buffer and
 * what parsing builds fit beside what it holds. A longer state takes the structured copy, which
 * builds nothing in the isolate's heap but the objects themselves. The synchronous question is
 * for an isolate nothing runs in (a swap's drained old version, a new one); it waits otherwise.
 */
function jsonBudget(heap: IsolatedVM.HeapStatistics, limits: IsolateLimits): number {
  const limit = Math.min(heap.heap_size_limit, limits.memoryMb * 2 ** 20);
  return Math.max(0, Math.floor((limit - heap.used_heap_size - heap.externally_allocated_size) / 4));
}

/** Characters of JSON text V8 parses in a millisecond, counted low (1.2 million decoded, copied in and parsed in 16.5 ms here: bench/RESULTS.md). */
const JSON_CHARS_PER_MS = 20_000;

/** JSON text longer than this is parsed asynchronously (see init): about a millisecond's work. */
const HEAVY_STATE_CHARS = 64 * 1024;

/** Thrown inside create() to start again in an isolate made with the module's own limits. */
class OwnIsolateNeeded extends Error {
  constructor(readonly limits: IsolateLimits) {
    super("the module asks for its own memory limit");
  }
}

/** How long one batch of a module's timer callbacks may run before the rest wait their turn, ms. */
const TIMER_BUDGET_MS = 10;

export class ModuleIsolate {
  private disposed = false;
  private readonly timers = new ModuleTimers({ fire: (ids) => this.fireTimers(ids), busy: () => this.working > 0 });
  /** Entries the host made into the isolate that have not finished: calls, requests, REPL input. */
  private working = 0;
  private readonly methods = new Map<HarnessMethod, IsolatedVM.Reference>();
  /** Calls whose method returned a promise, waiting for the harness's settle (see invoke). */
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: unknown) => void }>();
  private nextInvocation = 1;
  /** The host functions handed to the harness (log, timers, calls): released in dispose(). */
  private hostRefs: IsolatedVM.Reference[] = [];
  private readonly scriptName: string;
  private sourceMap: SourceMap | null = null;
  private lastHeapUsed = 0;
  /** Whether module code may have run, and changed the state, since the last exportState(). */
  private dirty = true;

  private constructor(
    readonly name: string,
    private readonly isolate: IsolatedVM.Isolate,
    private readonly context: IsolatedVM.Context,
    private readonly sourceMapText: string,
    private readonly limits: IsolateLimits,
    private readonly hooks: IsolateHooks,
    readonly shape: ModuleShape,
  ) {
    this.scriptName = scriptNameOf(name);
  }

  /**
   * Compiles and starts a module version, in `warm` if given (an isolate already prepared by
   * `prepareIsolate`, which takes isolate creation and the bootstrap off the swap's path).
   * Throws MODULE_LOAD_FAILED (or MODULE_TIMEOUT, MODULE_MEMORY_LIMIT); nothing is left running.
   */
  static async create(name: string, code: string, sourceMap: string, limits: IsolateLimits, hooks: IsolateHooks, warm?: WarmIsolate): Promise<ModuleIsolate> {
    const prepared = warm ?? (await prepareIsolate(limits));
    const { isolate, context, fate, harness, refs } = prepared;
    fate.name = name;
    fate.hooks = hooks;
    try {
      if (fate.dead !== null) throw fate.dead;
      // Synchronous steps when the CPU limit allows (see enter()): each async one costs two
      // thread hops, and together they were a good part of a swap.
      const sync = limits.cpuMs <= SYNC_CPU_MS;
      const filename = scriptNameOf(name);
      const script = sync ? isolate.compileScriptSync(code, { filename }) : await isolate.compileScript(code, { filename });
      if (sync) script.runSync(context, { timeout: limits.cpuMs });
      else await script.run(context, { timeout: limits.cpuMs });
      script.release();
      const attach = harness.getSync("attach", { reference: true }) as IsolatedVM.Reference;
      const attachOptions = { arguments: { copy: true }, result: { copy: true }, timeout: limits.cpuMs } as const;
      const attached = sync ? attach.applySync(harness.derefInto(), [name], attachOptions) : await attach.apply(harness.derefInto(), [name], attachOptions);
      const { limits: declared, ...shape } = attached as ModuleShape & { limits: unknown };
      const own = moduleLimits(declared, limits, name);
      if (own.memoryMb !== limits.memoryMb) {
        // An isolate's heap limit is set when it is made: this module asks for another one.
        attach.release();
        throw new OwnIsolateNeeded(own);
      }
      const instance = new ModuleIsolate(name, isolate, context, sourceMap, own, hooks, shape);
      // The harness's methods are closures, not `this`-methods: a reference to each is enough.
      for (const method of ["init", "call", "exportState", "httpNow", "httpWait", "health", "fire", "replPrepare", "replSettle", "replComplete", "invoke", "watch"] as const) {
        instance.methods.set(method, harness.getSync(method, { reference: true }) as IsolatedVM.Reference);
      }
      attach.release();
      harness.release();
      instance.hostRefs = refs;
      fate.self = instance;
      instance.watchForDeath();
      return instance;
    } catch (err) {
      harness.release();
      if (!isolate.isDisposed) isolate.dispose();
      releaseHostRefs(refs);
      if (err instanceof OwnIsolateNeeded) return ModuleIsolate.create(name, code, sourceMap, err.limits, hooks);
      // Parsed only now: a swap that succeeds never needs its source map.
      const mapped = fate.dead ?? toModuleError(err, name, SourceMap.parse(sourceMap), "MODULE_LOAD_FAILED");
      throw new FixpointError(mapped.code === "MODULE_ERROR" ? "MODULE_LOAD_FAILED" : mapped.code, `module ${name} failed to start: ${mapped.message}`, mapped.location === undefined ? {} : { location: mapped.location });
    }
  }

  /** The source map, parsed the first time an error needs it. */
  private get map(): SourceMap {
    return (this.sourceMap ??= SourceMap.parse(this.sourceMapText));
  }

  get isDisposed(): boolean {
    return this.disposed || this.isolate.isDisposed;
  }

  /**
   * Sets the state: `previous` through `migrate` if asked, or the initial one. JSON text is
   * parsed inside the isolate unless the text and what it builds might not fit in its heap
   * (jsonBudget); then it is parsed here and crosses as a structured copy.
   */
  async init(previous: { packed: PackedState; version: string } | null, migrate = true): Promise<void> {
    let heavy = false;
    // Asked only for text: a swap or a load with a structured state makes no trip into the isolate here.
    if (previous !== null && "json" in previous.packed) {
      const { length } = previous.packed.json;
      if (length > Math.min(jsonBudget(this.isolate.getHeapStatisticsSync(), this.limits), this.jsonMs * JSON_CHARS_PER_MS)) {
        previous = { ...previous, packed: { value: unpackHere(this.name, previous.packed) } };
      } else {
        // A large text is parsed on the isolate's own thread: this one keeps answering (heartbeats,
        // other modules), and loads side by side parse on several cores (restoreAll in the loader).
        heavy = length > HEAVY_STATE_CHARS;
      }
    }
    try {
      await this.enter("init", [previous, migrate], heavy);
    } catch (err) {
      const e = this.error(err, "MIGRATION_FAILED");
      throw new FixpointError(e.code === "MODULE_ERROR" ? (previous === null ? "MODULE_LOAD_FAILED" : "MIGRATION_FAILED") : e.code, e.message, e.location === undefined ? {} : { location: e.location });
    }
  }

  /** Calls an exported function with copies of `args`; resolves with a copy of its result. */
  call(fn: string, args: unknown[]): Promise<unknown> {
    return this.invoke("call", [fn, args]);
  }

  /**
   * Serves one request. Most handlers return a Response at once, which comes back from this
   * one entry (see enter()); a handler that returns a promise is awaited asynchronously.
   */
  async http(request: WireRequest): Promise<WireResponse> {
    let first: WireResponse | { pending: number };
    try {
      first = (await this.enter("httpNow", [request])) as WireResponse | { pending: number };
    } catch (err) {
      throw this.error(err, "MODULE_ERROR");
    }
    if ("pending" in first) return (await this.invoke("httpWait", [first.pending])) as WireResponse;
    return first;
  }

  health(): Promise<{ ok: boolean; detail?: string }> {
    return this.invoke("health", []) as Promise<{ ok: boolean; detail?: string }>;
  }

  /**
   * The module's state as it left the isolate (PackedState): JSON text for plain data, else a
   * structured copy. Throws RESULT_NOT_COPYABLE if it holds functions or the like, and
   * STATE_TOO_LARGE, before anything is built, when its characters alone pass `maxBytes`.
   */
  async exportState(maxBytes: number): Promise<PackedState> {
    this.dirty = false;
    // Asked on the isolate's thread: a sync question would wait here for a call running there.
    const budget = jsonBudget(await this.isolate.getHeapStatistics(), this.limits);
    return this.packed(await this.invoke("exportState", [budget, maxBytes, this.jsonMs]), maxBytes);
  }

  /**
   * Whether module code may have run since the last exportState(): every entry into the isolate
   * (calls, requests, timers, the REPL, a call's answer arriving) sets it, at its start and end.
   * The loader's periodic snapshot copies only the states that may have changed.
   */
  get changedSinceExport(): boolean {
    return this.dirty;
  }

  /** The state was just set from saved bytes as they were: the saved copy stands for it. */
  markExported(): void {
    this.dirty = false;
  }

  /** For the call grant (capabilities.ts): the module's code resumes with an answer. */
  touched(): void {
    this.dirty = true;
  }

  /** The same, in one entry, for a swap: its old version has drained and the copy is on the save-to-live path. */
  async exportStateNow(maxBytes: number): Promise<PackedState> {
    let answer: unknown;
    try {
      answer = await this.enter("exportState", [jsonBudget(this.isolate.getHeapStatisticsSync(), this.limits), maxBytes, this.jsonMs]);
    } catch (err) {
      throw this.error(err, "MODULE_ERROR");
    }
    return this.packed(answer, maxBytes);
  }

  /**
   * How long JSON work for a state may take inside the isolate, ms: a quarter of the module's
   * CPU limit, under which the whole entry runs. Longer work goes by the structured copy, which
   * the limit does not cover (a 20 MB state on Node 24 took longer than the second a module has).
   */
  private get jsonMs(): number {
    return Math.floor(this.limits.cpuMs / 4);
  }

  private packed(answer: unknown, maxBytes: number): PackedState {
    const a = answer as PackedState | { tooLarge: number };
    if ("tooLarge" in a) throw stateTooLarge(this.name, a.tooLarge, maxBytes);
    return a;
  }

  /**
   * Runs a harness method with copies of `args` and of its result, for the paths where
   * latency is the point: an HTTP request's handler and the steps of a swap. With a CPU limit
   * short enough not to starve this process (its heartbeat to the loader, the other modules'
   * requests), it runs synchronously on this thread, which saves the two thread hops an async
   * apply costs, most of a short request's latency. The price: an allocation V8 cannot survive
   * there hangs this thread (V8 cannot call back into it), so the loader replaces the runtime
   * when its heartbeat stops (3 s) rather than at once; calls, which scripts and other modules
   * make in bulk, keep the quick path (invoke()).
   */
  private async enter(name: HarnessMethod, args: unknown[], heavy = false): Promise<unknown> {
    const options = { arguments: { copy: true }, result: { copy: true }, timeout: this.limits.cpuMs } as const;
    // Through the harness's invoke, which answers a throw as data (see Invoked); id 0: these
    // methods answer at once, and nothing waits on settle for them.
    const ref = this.method("invoke");
    if (name !== "exportState") this.dirty = true;
    this.begin();
    try {
      const answer = (this.limits.cpuMs <= SYNC_CPU_MS && !heavy ? ref.applySync(undefined, [0, name, args], options) : await ref.apply(undefined, [0, name, args], options)) as Invoked;
      if (answer.state === "done") return answer.value;
      if (answer.state === "threw") throw rebuilt(answer.error);
      throw new FixpointError("RESULT_NOT_COPYABLE", `module ${this.name} answered ${name} with a promise, which cannot be copied out; return plain data`);
    } finally {
      if (name !== "exportState") this.dirty = true;
      this.end();
    }
  }

  /**
   * The remote REPL (issue 6): runs `code` as a global script in this isolate's context, so
   * top-level `let`/`const` persist from one input to the next, and returns its value inspected
   * inside the isolate (`awaited`: the value is the top-level-await wrapper's promise). A throw
   * or a syntax error is an outcome with `threw`; a limit is MODULE_TIMEOUT (the isolate serves
   * on) or MODULE_MEMORY_LIMIT (it is gone, and onDead is told).
   */
  async evaluate(code: string, options: { filename: string; awaited: boolean; colors: boolean }): Promise<ReplEvalResult> {
    this.dirty = true;
    this.begin();
    try {
      return await this.evaluateIn(code, options);
    } finally {
      this.dirty = true;
      this.end();
    }
  }

  private async evaluateIn(code: string, options: { filename: string; awaited: boolean; colors: boolean }): Promise<ReplEvalResult> {
    await this.invoke("replPrepare", []);
    let script: IsolatedVM.Script;
    try {
      script = await this.isolate.compileScript(code, { filename: options.filename });
    } catch (err) {
      if (!(err instanceof Error) || err.name !== "SyntaxError") throw this.error(err, "MODULE_ERROR");
      // isolated-vm puts the position in the message: "Unexpected token ';' [<isolated-vm>:1:9]".
      const at = /\s*\[[^\]]*:(\d+):(\d+)\]$/.exec(err.message);
      const text = `SyntaxError: ${at === null ? err.message : err.message.slice(0, at.index)}`;
      return at === null ? { threw: true, text } : { threw: true, text, location: { line: Number(at[1]), column: Number(at[2]) } };
    }
    let value: IsolatedVM.Reference;
    try {
      value = await script.run(this.context, { timeout: this.limits.cpuMs, reference: true });
    } catch (err) {
      const e = this.error(err, "MODULE_ERROR");
      if (e.code === "MODULE_TIMEOUT" || e.code === "MODULE_MEMORY_LIMIT") throw e;
      return { threw: true, text: this.thrownText(err) };
    } finally {
      script.release();
    }
    try {
      const settle = this.method("replSettle").apply(undefined, [value.derefInto(), options.awaited, options.colors], { result: { promise: true, copy: true }, timeout: this.limits.cpuMs });
      const outcome = (await withDeadline(settle, this.limits.asyncMs, () => {
        throw new FixpointError("MODULE_TIMEOUT", `the evaluation did not settle within ${this.limits.asyncMs} ms`);
      })) as { threw: boolean; text: string };
      return outcome.threw ? { threw: true, text: this.mapStack(outcome.text) } : { threw: false, text: outcome.text };
    } catch (err) {
      throw this.error(err, "MODULE_ERROR");
    } finally {
      value.release();
    }
  }

  /** REPL tab completion: names for the word before the cursor (`declared`: the session's own top-level names). */
  complete(line: string, declared: string[]): Promise<ReplCompletion> {
    return this.invoke("replComplete", [line, declared]) as Promise<ReplCompletion>;
  }

  /** What a script threw, as text: an error's stack mapped to the module's source, without the node's frames. */
  private thrownText(err: unknown): string {
    if (!(err instanceof Error)) return typeof err === "string" ? JSON.stringify(err) : String(err);
    return this.mapStack(err.stack ?? `${err.name}: ${err.message}`);
  }

  private mapStack(text: string): string {
    return this.map.ownStack(text, this.scriptName).stack;
  }

  /**
   * Heap in use, bytes (V8's own figure for this isolate), asked asynchronously: V8 answers
   * once the isolate is free, so during a long call this returns the last figure it knew after
   * `waitMs` rather than hold up status (the synchronous call once blocked the whole runtime).
   */
  async heapUsed(waitMs = 100): Promise<number> {
    if (this.isDisposed) return 0;
    const asked = this.isolate.getHeapStatistics().then((s) => (this.lastHeapUsed = s.used_heap_size + s.externally_allocated_size));
    try {
      return await withDeadline(asked, waitMs, () => this.lastHeapUsed);
    } catch {
      return this.lastHeapUsed;
    }
  }

  /**
   * Stops the version for good: its timers first, then everything it holds. Calls still waiting
   * on it fail with MODULE_STOPPED (a swap never disposes a version with calls in flight, so
   * this is an unload or a stopping node). Never throws.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.timers.stop();
    try {
      for (const ref of this.methods.values()) ref.release();
      this.methods.clear();
      this.context.release();
      if (!this.isolate.isDisposed) this.isolate.dispose();
    } catch {
      // Already gone with its isolate (its memory limit): nothing more to free.
    }
    releaseHostRefs(this.hostRefs);
    this.failPending(new FixpointError("MODULE_STOPPED", `module ${this.name} was stopped before the call settled`));
  }

  /**
   * A swap of this module is handing this version's state over (module-table.ts): from now
   * until resume() or retire(), it runs only the calls in flight on it, and the one-shot timers
   * they may be waiting on; its repeating timers skip their runs and its grants (calls to
   * modules, console) work only for those calls. Without this, an old interval calling its own
   * module by name was held during the handover and then changed the new version's state.
   */
  pause(): void {
    this.timers.pause();
  }

  /** The swap failed: this version serves on as before. */
  resume(): void {
    this.timers.resume();
  }

  /**
   * New work goes to the next version now: this one finishes the calls in flight on it, and
   * nothing else of it runs on its own again (issue 13): its repeating timers end at once, the
   * rest when the last call ends, and its grants refuse work that is not one of those calls.
   */
  retire(): void {
    this.timers.retire();
  }

  /**
   * Whether the module's code may use its grants (calls to modules, console) now: always while
   * the version serves, and only during calls in flight on it once a swap pauses or retires it.
   */
  mayReachOut(): boolean {
    return !this.isDisposed && (this.timers.mode === "running" || this.working > 0);
  }

  private begin(): void {
    if (this.working++ === 0) this.timers.nudge();
  }

  private end(): void {
    if (--this.working === 0 && this.timers.mode === "retired") this.timers.stop();
  }

  private method(name: HarnessMethod): IsolatedVM.Reference {
    const ref = this.methods.get(name);
    // Disposed by isolated-vm, not by us: it stops an isolate only at its memory limit. Saying so
    // matters because whichever request notices first is what onDead reports as the cause.
    if (this.isolate.isDisposed && !this.disposed) throw new FixpointError("MODULE_MEMORY_LIMIT", `module ${this.name} went past its memory limit and was stopped`);
    if (ref === undefined || this.isDisposed) throw new FixpointError("MODULE_STOPPED", `module ${this.name} was stopped`);
    return ref;
  }

  /**
   * Runs a harness method and resolves with a copy of its result. The harness's `invoke` returns
   * a result at once, or says it is pending and hands the outcome to `settle` later; isolated-vm's
   * `result: { promise: true }` is not used because it leaked native memory per call (harness.ts).
   */
  private async invoke(name: HarnessMethod, args: unknown[]): Promise<unknown> {
    const runsModuleCode = name !== "exportState";
    if (runsModuleCode) this.dirty = true;
    this.begin();
    const id = this.nextInvocation++;
    // Registered before the call: a promise that settles within the call's own microtasks
    // reaches settle() before the call's answer does.
    const settled = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    settled.catch(() => {}); // rejections are read below, or nobody waits any more
    try {
      // On the isolate's thread, not enter(): see there.
      const first = (await this.method("invoke").apply(undefined, [id, name, args], { arguments: { copy: true }, result: { copy: true }, timeout: this.limits.cpuMs })) as Invoked;
      if (first.state === "done") return first.value;
      if (first.state === "threw") throw rebuilt(first.error);
      return await withDeadline(settled, this.limits.asyncMs, () => {
        throw new FixpointError("MODULE_TIMEOUT", `module ${this.name} did not settle within ${this.limits.asyncMs} ms`);
      });
    } catch (err) {
      throw this.error(err, "MODULE_ERROR");
    } finally {
      this.pending.delete(id);
      // Again at the end: what ran meanwhile may have changed the state after an export began.
      if (runsModuleCode) this.dirty = true;
      this.end();
    }
  }

  /** For the harness's settle bridge (prepareIsolate): the outcome of a pending invoke. */
  settle(id: number, ok: boolean, value: unknown): void {
    const waiting = this.pending.get(id);
    if (waiting === undefined) return; // timed out, or the isolate was disposed meanwhile
    this.pending.delete(id);
    if (ok) return waiting.resolve(value);
    // Rebuilt as an Error, so toModuleError maps it as it maps a throw that isolated-vm copied.
    waiting.reject(rebuilt(value as Partial<ThrownData> | null));
  }

  /**
   * Waits on the harness's never-settling `watch` promise: isolated-vm rejects it when it
   * disposes the isolate at its memory limit, and the calls waiting for settle fail at once
   * instead of at asyncMs. One promise holder per isolate, freed with it.
   */
  private watchForDeath(): void {
    this.method("watch")
      .apply(undefined, [], { result: { promise: true } })
      .catch(() => {
        if (!this.isolate.isDisposed || this.disposed) return;
        this.timers.stop();
        this.failPending(this.error(new FixpointError("MODULE_MEMORY_LIMIT", `module ${this.name} went past its memory limit and was stopped`), "MODULE_ERROR"));
      });
  }

  private failPending(err: FixpointError): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const w of waiting) w.reject(err);
  }

  private error(err: unknown, fallback: ErrorCode): FixpointError {
    const e = toModuleError(err, this.name, this.map, fallback);
    if (this.isolate.isDisposed && !this.disposed) {
      // Stopped by V8 (its memory limit): nothing of it may run again, its timers least of all.
      this.disposed = true;
      this.timers.stop();
      this.hooks.onDead(e);
    }
    return e;
  }

  /** For the harness's timer bridge (capabilities.ts): a timer set or cleared in module code. */
  setTimer(id: number, ms: number, repeat: boolean): void {
    if (!this.isDisposed) this.timers.set(id, ms, repeat);
  }

  clearTimer(id: number): void {
    this.timers.clear(id);
  }

  /**
   * Runs a batch of due timers in the isolate (module-timers.ts), on its own thread. Never
   * rejects, never throws: an error here once escaped into the runtime's event loop (an interval
   * of a module stopped at its memory limit) and ended the process with every module in it.
   */
  private async fireTimers(ids: number[]): Promise<number[]> {
    this.dirty = true;
    try {
      const fired = (await this.method("fire").apply(undefined, [ids, TIMER_BUDGET_MS], { arguments: { copy: true }, result: { copy: true }, timeout: this.limits.cpuMs })) as Fired;
      for (const thrown of fired.errors) this.timerFailed(rebuilt(thrown));
      if (fired.failed > fired.errors.length) this.hooks.log("error", `${fired.failed - fired.errors.length} more timer callbacks failed in the same batch`);
      return fired.unrun;
    } catch (err) {
      this.timerFailed(err);
      return [];
    } finally {
      this.dirty = true;
    }
  }

  private timerFailed(err: unknown): void {
    try {
      const e = this.error(err, "MODULE_ERROR");
      if (this.isDisposed) return this.timers.stop();
      this.hooks.log("error", `timer callback failed: ${e.code}: ${e.message}`);
    } catch {
      // Reporting must not be what escapes into the event loop.
    }
  }
}

/**
 * The codes of errors the node raises that cross out of an isolate as they are (ThrownData.code):
 * raised in the harness (TIMER_LIMIT, FUNCTION_NOT_FOUND), or by a call to another module that
 * the calling module let through.
 */
const CROSSING_CODES = ["MODULE_NOT_FOUND", "FUNCTION_NOT_FOUND", "MODULE_ERROR", "MODULE_TIMEOUT", "MODULE_MEMORY_LIMIT", "MODULE_STOPPED", "RESULT_NOT_COPYABLE", "RUNTIME_UNAVAILABLE", "TIMER_LIMIT", "ARGUMENTS_INVALID"] as const satisfies readonly ErrorCode[];

/**
 * A thrown value as the harness sends it (ThrownData), as an error again for toModuleError: the
 * node's own coded error, or an Error with the module's name, message and stack.
 */
function rebuilt(data: Partial<ThrownData> | null): Error {
  const code = CROSSING_CODES.find((c) => c === data?.code);
  if (code !== undefined) return new FixpointError(code, String(data?.message ?? ""));
  const err = new Error(String(data?.message ?? "unknown error"));
  err.name = String(data?.name ?? "Error");
  err.stack = typeof data?.stack === "string" ? data.stack : `${err.name}: ${err.message}`;
  return err;
}

/**
 * Drops the host's handles on the functions it handed to an isolate, after the isolate is
 * disposed. isolated-vm keeps a host function alive while any Reference to it exists, and the
 * copies the harness holds inside the isolate are not freed when the isolate is disposed: without
 * this, every version's closures (and through them its ModuleIsolate, hooks and source map) stayed
 * in the runtime's heap for good (measured: no disposed ModuleIsolate was ever collected, ~7 KiB
 * of heap per swap). Releasing the host-side Reference lets V8 collect them (isolated-vm #112, #207).
 */
function releaseHostRefs(refs: IsolatedVM.Reference[]): void {
  for (const ref of refs.splice(0)) ref.release();
}

function scriptNameOf(name: string): string {
  return `fixpoint:///${name}.js`;
}

/**
 * isolated-vm reports its own failures (time and memory limits, copies) as plain Errors; this
 * is the one place that turns them into coded ones. The node's errors from inside the isolate
 * arrive coded already, as data (rebuilt); module throws keep their stack, mapped to the
 * TypeScript source.
 */
export function toModuleError(err: unknown, name: string, map: SourceMap, fallback: ErrorCode): FixpointError {
  if (err instanceof FixpointError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const message = e.message;
  if (/Script execution timed out/.test(message)) {
    return new FixpointError("MODULE_TIMEOUT", `module ${name} ran past its time limit and was stopped (an endless loop?)`);
  }
  if (/memory limit|Array buffer allocation failed|Isolate is disposed|isolate was disposed/i.test(message)) {
    return new FixpointError("MODULE_MEMORY_LIMIT", `module ${name} went past its memory limit and was stopped`);
  }
  if (/could not be cloned|A non-transferable value was passed/.test(message)) {
    return new FixpointError("RESULT_NOT_COPYABLE", `module ${name} returned a value that cannot be copied out (${message}); return plain data`);
  }
  const { stack, location } = map.ownStack(e.stack ?? `${e.name}: ${message}`, scriptNameOf(name));
  return new FixpointError(fallback === "MODULE_LOAD_FAILED" ? "MODULE_ERROR" : fallback, stack, location === null ? {} : { location });
}
