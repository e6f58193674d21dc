/**
 * The loader's supervisor of its runtime process (Armstrong: "crashes put the system into a
 * stable state and recover"). The runtime hosts module isolates; a module can take it down
 * (one huge allocation aborts V8 with no JavaScript error), the loader never goes with it.
 * The supervisor keeps the process alive and talks to it; which modules run in it, and with
 * what state, is the code server's business (loader/node/code-server.ts), not this file's.
 *
 *   state      on                                  next
 *   starting   "ready" from the runtime            restoring: the code server loads every
 *                                                  module (onReady), then → up
 *   restoring  onReady settled                     up
 *   up         exit, or 3 heartbeats unanswered    down (kill it if still alive)
 *   up         drain() (a guarded restart)         draining: new work waits, HTTP connections are
 *                                                  held; in-flight requests finish
 *   draining   resume()                            up
 *   draining,  restart()                           starting (the old process stopped in order,
 *   up                                             not counted as a crash)
 *   starting,  exit                                down
 *   restoring
 *   down       backoff elapsed (100 ms, doubling   starting
 *              to 5 s while it keeps crashing)
 *   any        stop()                              stopped
 *
 * Each process it starts is a new *generation*; module-life requests (load, unload, export)
 * need only a started process ("restoring" or "up") and say which generation answered, so the
 * code server knows what runs where. Every other request made while the runtime is not up waits
 * for it (up to `waitMs`), then fails with RUNTIME_UNAVAILABLE; requests in flight when it dies
 * fail with RUNTIME_UNAVAILABLE. HTTP connections accepted meanwhile are held, paused, and handed
 * over once it is up.
 */
import { fork, type ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import { FixpointError, hasCode, toFixpointError } from "../protocol/errors.js";
import type { Logger } from "../protocol/log.js";
import type { Mode } from "../protocol/messages.js";
import { DEFAULT_HEARTBEAT_INTERVAL_MS, HEARTBEAT_MISSES } from "../protocol/limits.js";
import {
  isRuntimeMessage,
  type HostReply,
  type HttpWireRequest,
  type HttpWireResponse,
  type LoadedOrUnchanged,
  type ModuleSource,
  type ReplCompletion,
  type ReplEvalResult,
  type StateBytes,
  withKeptBytes,
  askProcess,
  type RuntimeBoot,
  type RuntimeMessage,
  type RuntimeRequest,
  type RuntimeResults,
} from "../protocol/runtime-ipc.js";

export interface RuntimeEntry {
  /** The runtime's main script. */
  script: string;
  /** Node flags for it; always includes --no-node-snapshot (isolated-vm needs it on Node 20). */
  execArgv: string[];
}

export interface SupervisorOptions {
  entry: RuntimeEntry;
  boot: RuntimeBoot;
  logger: Logger;
  /**
   * A new runtime process is ready: load every module into it. The runtime counts as up (and
   * takes calls and HTTP) once this settles.
   */
  onReady(generation: number): Promise<void>;
  /** The runtime stopped one module's isolate (memory limit): it runs no more until loaded again. */
  onModuleDead(module: string, generation: number): void;
  /** Module console output. */
  onModuleLog(module: string, level: "debug" | "info" | "warn" | "error", text: string): void;
  /**
   * A module called a host capability (issue 14): the answer, or a coded error, goes back to the
   * runtime that asked. Without it every such call fails CAPABILITY_NOT_GRANTED.
   */
  onHostCall?(capability: string, fn: string, args: unknown[]): Promise<unknown>;
  /** Console output for one REPL session (issue 6). */
  onReplOutput?(session: string, level: "debug" | "info" | "warn" | "error", text: string): void;
  /** Default DEFAULT_HEARTBEAT_INTERVAL_MS; HEARTBEAT_MISSES missed beats and the runtime is killed and restarted. */
  heartbeatMs?: number;
  /** How long a request waits for a restarting runtime, ms. Default 10000. */
  waitMs?: number;
}

type State = "starting" | "restoring" | "up" | "draining" | "down" | "stopped";
type RequestBody<K extends RuntimeRequest["type"]> = Omit<Extract<RuntimeRequest, { type: K }>, "id" | "type">;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: FixpointError) => void;
  /** Work for clients (calls, REPL, status): what a drain waits for. */
  work: boolean;
}

/** Module-life and housekeeping requests: not clients' work, so a drain does not wait for them. */
const HOUSEKEEPING: ReadonlySet<string> = new Set(["load", "unload", "export", "ping", "drain", "mode"]);

const MAX_HELD_SOCKETS = 1024;

export class RuntimeSupervisor {
  private state: State = "down";
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Requests waiting for the runtime: `started` ones go at "restoring", the rest at "up". */
  private waiters: { need: "started" | "up"; go: () => void; fail: (err: FixpointError) => void }[] = [];
  private readonly heldSockets: Socket[] = [];
  private restarts = 0;
  /** Which process this is: one more on every spawn. */
  private gen = 0;
  /** A runtime process started ahead for a guarded restart (prepareStandby). */
  private standby: { child: ChildProcess; ready: Promise<number>; prepared: Map<string, Promise<unknown>> } | null = null;
  /** Set while restart() waits for a new process: told if it exits before it is up. */
  private startFailed: ((why: string) => void) | null = null;
  private backoffMs = 100;
  private lastBeat = Date.now();
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly heartbeatMs: number;
  private readonly waitMs: number;
  private upSince = 0;
  /** performance.now() at the last spawn and at its "ready": runtime.up says how long each part took. */
  private spawnedAt = 0;
  private readyAt = 0;

  constructor(private readonly options: SupervisorOptions) {
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.waitMs = options.waitMs ?? 10_000;
  }

  /** Starts the runtime and resolves once it is up with every current module loaded. */
  start(): Promise<void> {
    const up = new Promise<void>((resolve, reject) => this.waiters.push({ need: "up", go: resolve, fail: reject }));
    this.spawn();
    this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
    return up;
  }

  get status(): { state: State; pid: number | null; restarts: number; generation: number } {
    return { state: this.state, pid: this.child?.pid ?? null, restarts: this.restarts, generation: this.gen };
  }

  private fork(): ChildProcess {
    return fork(this.options.entry.script, [JSON.stringify(this.options.boot)], {
      execArgv: this.options.entry.execArgv,
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
  }

  private spawn(): void {
    this.state = "starting";
    this.gen++;
    this.spawnedAt = performance.now();
    this.adopt(this.fork());
  }

  /** Makes `child` the runtime: its messages and its exit are this supervisor's from now on. */
  private adopt(child: ChildProcess): void {
    this.child = child;
    child.on("message", (message: unknown) => {
      if (child !== this.child) return;
      this.lastBeat = Date.now();
      if (!isRuntimeMessage(message)) {
        this.options.logger.log("error", "runtime.bad-message", { sample: JSON.stringify(message)?.slice(0, 200) });
        return;
      }
      this.onMessage(message);
    });
    child.on("exit", (code, signal) => this.onExit(child, code, signal));
    child.on("error", (err) => {
      if (this.state !== "stopped" && child === this.child) this.options.logger.log("error", "runtime.error", { reason: err.message });
    });
  }

  /**
   * Starts the next runtime process ahead, while the current one serves, so that a guarded
   * restart does not pay for a process start while the node is out of service (measured: most
   * of the restart). It waits, idle, until restart() adopts it or discardStandby() ends it.
   */
  prepareStandby(): void {
    if (this.standby !== null || this.state === "stopped") return;
    const child = this.fork();
    const ready = new Promise<number>((resolve, reject) => {
      const onMessage = (m: unknown) => {
        if (isRuntimeMessage(m) && m.type === "ready") {
          child.off("message", onMessage);
          resolve(m.pid);
        }
      };
      child.on("message", onMessage);
      child.once("exit", () => {
        // One that died waiting is not kept: the next guarded restart starts another.
        if (this.standby?.child === child) this.standby = null;
        reject(new FixpointError("RUNTIME_UNAVAILABLE", "the prepared runtime process exited before it was used"));
      });
    });
    ready.catch(() => {});
    child.on("error", () => {});
    this.standby = { child, ready, prepared: new Map() };
  }

  /** Ends a prepared runtime nobody will use (a refused or finished upgrade). */
  discardStandby(): void {
    const standby = this.standby;
    this.standby = null;
    if (standby === null) return;
    if (standby.child.connected) standby.child.disconnect();
    setTimeout(() => standby.child.kill("SIGKILL"), 2000).unref();
  }

  private onMessage(message: RuntimeMessage): void {
    switch (message.type) {
      case "ready":
        this.lastBeat = Date.now();
        this.readyAt = performance.now();
        void this.restore(message.pid, this.gen);
        return;
      case "reply": {
        const p = this.pending.get(message.id);
        if (p === undefined) return;
        this.pending.delete(message.id);
        if (message.ok) p.resolve(message.value);
        else p.reject(FixpointError.fromData(message.error));
        return;
      }
      case "log":
        this.options.onModuleLog(message.module, message.level, message.text);
        return;
      case "dead":
        this.options.logger.log("error", "module.stopped", { module: message.module, code: message.error.code, reason: message.error.message });
        this.options.onModuleDead(message.module, this.gen);
        return;
      case "repl-output":
        this.options.onReplOutput?.(message.session, message.level, message.text);
        return;
      case "host-call": {
        const child = this.child;
        const { id } = message;
        const answer = this.options.onHostCall?.(message.capability, message.fn, message.args) ?? Promise.reject(new FixpointError("CAPABILITY_NOT_GRANTED", "this node grants no host capabilities"));
        const reply = (r: HostReply) => {
          if (child?.connected === true) child.send(r, (err) => err && this.options.logger.log("error", "runtime.host-reply-failed", { reason: err.message }));
        };
        answer.then(
          (value) => reply({ type: "host-reply", id, ok: true, value }),
          (err: unknown) => reply({ type: "host-reply", id, ok: false, error: toFixpointError(err, "CAPABILITY_FAILED").toData() }),
        );
        return;
      }
      default: {
        const exhaustive: never = message;
        return exhaustive;
      }
    }
  }

  /** After a (re)start: the code server loads every module, then the runtime takes work. */
  private async restore(pid: number, generation: number): Promise<void> {
    this.state = "restoring";
    this.release("started");
    try {
      await this.options.onReady(generation);
    } catch (err) {
      this.options.logger.log("error", "runtime.restore-failed", { reason: (err as Error).message });
    }
    // Died (or was stopped) while its modules were loaded: a later generation takes over.
    if (this.gen !== generation || this.state !== "restoring") return;
    this.state = "up";
    this.upSince = Date.now();
    // How long the process took to start, and the code server to load every module into it.
    const startMs = Math.round(this.readyAt - this.spawnedAt);
    const restoreMs = Math.round(performance.now() - this.readyAt);
    this.options.logger.log("info", "runtime.up", { pid, restarts: this.restarts, startMs, restoreMs });
    this.release("up");
    for (const socket of this.heldSockets.splice(0)) this.handSocket(socket);
  }

  private release(level: "started" | "up"): void {
    const ready = this.waiters.filter((w) => level === "up" || w.need === "started");
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.go();
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    this.child = null;
    for (const [id, p] of this.pending) {
      p.reject(new FixpointError("RUNTIME_UNAVAILABLE", `the runtime exited (${signal ?? `code ${code}`}) while this request ran; it is being restarted`));
      this.pending.delete(id);
    }
    if (this.state === "stopped") return;
    if (this.state === "starting" || this.state === "restoring") this.startFailed?.(`the runtime exited (${signal ?? `code ${code}`}) while it started`);
    this.state = "down";
    this.restarts++;
    // A runtime that stayed up for a while gets a quick restart; a crash loop backs off.
    this.backoffMs = Date.now() - this.upSince > 10_000 ? 100 : Math.min(this.backoffMs * 2, 5000);
    this.options.logger.log("error", "runtime.exited", { code, signal, restartInMs: this.backoffMs, restarts: this.restarts });
    setTimeout(() => {
      if (this.state === "down") this.spawn();
    }, this.backoffMs).unref();
  }

  private beat(): void {
    // Only a runtime that is up is judged: while it restores, loading large states can keep it
    // from answering for seconds (each load is bounded by the module's own limits), and killing
    // it then turned a slow restore into a crash loop.
    if (this.state !== "up" || this.child === null) return;
    if (Date.now() - this.lastBeat > this.heartbeatMs * HEARTBEAT_MISSES) {
      this.options.logger.log("error", "runtime.unresponsive", { pid: this.child.pid, silentMs: Date.now() - this.lastBeat });
      this.child.kill("SIGKILL");
      return;
    }
    // Any message counts (the snapshot's export answers every second): a ping only after a quiet interval.
    if (Date.now() - this.lastBeat >= this.heartbeatMs) this.send("ping", {}, "started").catch(() => {});
  }

  private waitFor(need: "started" | "up"): Promise<void> {
    if (this.state === "up" || (need === "started" && (this.state === "restoring" || this.state === "draining"))) return Promise.resolve();
    if (this.state === "stopped") return Promise.reject(new FixpointError("RUNTIME_UNAVAILABLE", "the node is stopping"));
    return new Promise((resolve, reject) => {
      const waiter = { need, go: () => (clearTimeout(timer), resolve()), fail: (err: FixpointError) => (clearTimeout(timer), reject(err)) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new FixpointError("RUNTIME_UNAVAILABLE", `the runtime did not come back within ${this.waitMs} ms; see the node log`));
      }, this.waitMs);
      this.waiters.push(waiter);
    });
  }

  private async send<K extends RuntimeRequest["type"]>(type: K, body: RequestBody<K>, need: "started" | "up" = "up"): Promise<RuntimeResults[K]> {
    return (await this.sendTo(type, body, need)).value;
  }

  /** Sends a request once the runtime is `need`; resolves with the answer and the generation that gave it. */
  private async sendTo<K extends RuntimeRequest["type"]>(type: K, body: RequestBody<K>, need: "started" | "up"): Promise<{ value: RuntimeResults[K]; generation: number }> {
    await this.waitFor(need);
    const child = this.child;
    const generation = this.gen;
    if (child === null || !child.connected) throw new FixpointError("RUNTIME_UNAVAILABLE", "the runtime is not running");
    const id = this.nextId++;
    const value = await new Promise<RuntimeResults[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, work: !HOUSEKEEPING.has(type) });
      child.send({ ...body, type, id }, (err) => {
        if (err !== null && err !== undefined && this.pending.delete(id)) reject(new FixpointError("RUNTIME_UNAVAILABLE", `cannot reach the runtime: ${err.message}`));
      });
    });
    return { value, generation };
  }

  /**
   * Stops taking new work for a guarded restart: requests and HTTP connections that arrive
   * now wait (they are not refused); HTTP requests and calls in flight finish, for at most
   * `timeoutMs`.
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.state !== "up") return;
    this.state = "draining";
    const deadline = Date.now() + timeoutMs;
    try {
      await this.send("drain", { timeoutMs }, "started");
    } catch {
      // a runtime that cannot answer has nothing in flight worth waiting for
    }
    while ([...this.pending.values()].some((p) => p.work) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  /**
   * The node switched mode: every runtime process started from now on boots in it, the running
   * one is told at once, and one started ahead in the other mode is let go. Before, a node
   * switched to production kept showing stack frames to HTTP clients until the loader restarted.
   */
  setMode(mode: Mode): void {
    this.options.boot.mode = mode;
    this.discardStandby();
    if (this.child !== null) void this.send("mode", { mode }, "started").catch(() => {});
  }

  /** Takes work again after a drain that did not lead to a restart. */
  resume(): void {
    if (this.state !== "draining") return;
    this.state = "up";
    this.release("up");
    for (const socket of this.heldSockets.splice(0)) this.handSocket(socket);
  }

  /**
   * Replaces the runtime process: the old one stops in order (not counted as a crash), a new
   * one starts and loads every module (onReady). Resolves once it is up; rejects
   * RUNTIME_UNAVAILABLE if it exits before (the supervisor keeps restarting it meanwhile).
   */
  async restart(graceMs = 2000): Promise<void> {
    const old = this.child;
    this.child = null;
    this.state = "down";
    for (const [id, p] of this.pending) {
      p.reject(new FixpointError("RUNTIME_UNAVAILABLE", "the runtime was replaced while this request ran"));
      this.pending.delete(id);
    }
    const standby = this.standby;
    this.standby = null;
    if (old !== null && old.exitCode === null && old.signalCode === null) {
      const gone = new Promise<void>((resolve) => {
        const timer = setTimeout(() => old.kill("SIGKILL"), graceMs);
        timer.unref();
        old.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        // Replaced by a process started ahead, the drained old one is killed: its orderly exit (every isolate disposed) took the cores the new one restores on.
        if (old.connected && standby === null) old.disconnect();
        else old.kill("SIGKILL");
      });
      // With a process started ahead there is nothing to wait for: the old one was drained and
      // holds nothing the new one needs (the loader holds the sockets, the disk has the states).
      if (standby === null) await gone;
    }
    if ((this.state as State) === "stopped") {
      if (standby !== null) standby.child.kill("SIGKILL");
      throw new FixpointError("RUNTIME_UNAVAILABLE", "the node is stopping");
    }
    const up = new Promise<void>((resolve, reject) => this.waiters.push({ need: "up", go: resolve, fail: reject }));
    const gen = this.gen + 1;
    this.startFailed = (why) => {
      if (this.gen === gen) for (const w of this.waiters.filter((w) => w.need === "up")) w.fail(new FixpointError("RUNTIME_UNAVAILABLE", why));
    };
    let pid: number | null = null;
    if (standby !== null) pid = await standby.ready.catch(() => null);
    if (standby !== null && pid !== null && standby.child.connected) {
      this.state = "starting";
      this.gen++;
      this.adopt(standby.child);
      this.lastBeat = Date.now();
      this.spawnedAt = this.readyAt = performance.now();
      void this.restore(pid, this.gen);
    } else {
      standby?.child.kill("SIGKILL");
      this.spawn();
    }
    try {
      await up;
    } finally {
      this.startFailed = null;
    }
  }

  /** Loads (or swaps in) a module version; for the code server only. `lazily`: its restore crosses only if the runtime asks for it (see RuntimeRequest). */
  async load(source: ModuleSource & { restore?: StateBytes }, lazily = false): Promise<{ value: LoadedOrUnchanged; generation: number }> {
    const { restore, ...code } = source;
    let { value, generation } = await this.sendTo("load", lazily && restore !== undefined ? { ...code, saved: true } : source, "started");
    if (value.status === "needs-state") ({ value, generation } = await this.sendTo("load", source, "started"));
    return { value: withKeptBytes(value, restore), generation };
  }

  /** Stops a module in the runtime; for the code server only. */
  async unload(name: string): Promise<void> {
    await this.send("unload", { name }, "started");
  }

  /** Whether a module's code compiles and starts, in a scratch isolate; MODULE_LOAD_FAILED if not. */
  async check(source: ModuleSource): Promise<void> {
    await this.send("check", source);
  }

  /**
   * The same check, made in the runtime process started ahead (prepareStandby), which keeps the
   * module started for its load once restart() adopts it: then the restart, out of service,
   * only gives each module its state. Without a usable process started ahead, a check here.
   */
  async prepare(source: ModuleSource): Promise<void> {
    const standby = this.standby;
    const pid = standby === null ? null : await standby.ready.catch(() => null);
    if (standby === null || pid === null || !standby.child.connected || standby !== this.standby) return this.check(source);
    // Asked once per process and code: a stage prepares ahead, and the upgrade that follows finds it done.
    const key = `${source.name}@${source.digest}`;
    const preparing = standby.prepared.get(key) ?? askProcess(standby.child, { ...source, type: "prepare", id: this.nextId++ }, "the runtime process started ahead");
    standby.prepared.set(key, preparing);
    try {
      await preparing;
    } catch (err) {
      if (!hasCode(err, "RUNTIME_UNAVAILABLE")) throw err;
      standby.prepared.delete(key);
      await this.check(source);
    }
  }

  /** Copies of the states that may have changed since the last export; for the code server only. */
  exportStates(skip: string[] = []): Promise<{ value: RuntimeResults["export"]; generation: number }> {
    return this.sendTo("export", skip.length === 0 ? {} : { skip }, "started");
  }

  call(module: string, fn: string, args: unknown[]): Promise<unknown> {
    return this.send("call", { module, fn, args });
  }

  health(module: string): Promise<RuntimeResults["health"]> {
    return this.send("health", { module });
  }

  /** Evaluates REPL input in `session`'s scratch isolate, or in `module`'s isolate. */
  replEval(request: { session: string; module?: string; source: string; colors: boolean }): Promise<ReplEvalResult> {
    return this.send("repl-eval", request);
  }

  replComplete(request: { session: string; module?: string; source: string }): Promise<ReplCompletion> {
    return this.send("repl-complete", request);
  }

  /** Disposes a REPL session's scratch isolate, stopping whatever runs in it. */
  replDrop(session: string): Promise<{ dropped: boolean }> {
    return this.send("repl-drop", { session });
  }

  /** Answers a request a host app's server routed to the node (`path`: below its mount point). */
  http(path: string, request: HttpWireRequest): Promise<HttpWireResponse> {
    return this.send("http", { path, request });
  }

  runtimeStatus(): Promise<RuntimeResults["status"]> {
    return this.send("status", {});
  }

  /** Hands an accepted HTTP connection to the runtime, or holds it until the runtime is up. */
  handSocket(socket: Socket): void {
    if (this.state === "up" && this.child?.connected === true) {
      this.child.send({ type: "http-socket" }, socket, (err) => {
        if (err) socket.destroy();
      });
      return;
    }
    if (this.heldSockets.length >= MAX_HELD_SOCKETS) {
      socket.destroy();
      return;
    }
    this.heldSockets.push(socket);
  }

  /** Stops the runtime (SIGTERM, then SIGKILL after `graceMs`). */
  async stop(graceMs = 2000): Promise<void> {
    this.state = "stopped";
    clearInterval(this.heartbeat);
    this.discardStandby();
    for (const w of this.waiters.splice(0)) w.fail(new FixpointError("RUNTIME_UNAVAILABLE", "the node is stopping"));
    for (const s of this.heldSockets.splice(0)) s.destroy();
    const child = this.child;
    if (child === null || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      child.disconnect();
    });
  }
}

