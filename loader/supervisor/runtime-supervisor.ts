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
import { FixpointError } from "../errors.js";
import type { Logger } from "../log.js";
import {
  isRuntimeMessage,
  type LoadResult,
  type ReplCompletion,
  type ReplEvalResult,
  type StateBytes,
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

/** A module as the loader knows it: what to load after a (re)start. */
export interface ModuleSource {
  name: string;
  digest: string;
  code: string;
  sourceMap: string;
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
  /** Console output for one REPL session (issue 6). */
  onReplOutput?(session: string, level: "debug" | "info" | "warn" | "error", text: string): void;
  /** Default 1000 ms; three missed beats and the runtime is killed and restarted. */
  heartbeatMs?: number;
  /** How long a request waits for a restarting runtime, ms. Default 10000. */
  waitMs?: number;
}

type State = "starting" | "restoring" | "up" | "down" | "stopped";
type RequestBody<K extends RuntimeRequest["type"]> = Omit<Extract<RuntimeRequest, { type: K }>, "id" | "type">;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: FixpointError) => void;
}

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
    this.heartbeatMs = options.heartbeatMs ?? 1000;
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

  /** The runtime process now running (or starting): one more with every restart. */
  get generation(): number {
    return this.gen;
  }

  private spawn(): void {
    this.state = "starting";
    this.gen++;
    this.spawnedAt = performance.now();
    const child = fork(this.options.entry.script, [JSON.stringify(this.options.boot)], {
      execArgv: this.options.entry.execArgv,
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.child = child;
    child.on("message", (message: unknown) => {
      this.lastBeat = Date.now();
      if (!isRuntimeMessage(message)) {
        this.options.logger.log("error", "runtime.bad-message", { sample: JSON.stringify(message)?.slice(0, 200) });
        return;
      }
      this.onMessage(message);
    });
    child.on("exit", (code, signal) => this.onExit(child, code, signal));
    child.on("error", (err) => {
      if (this.state !== "stopped") this.options.logger.log("error", "runtime.error", { reason: err.message });
    });
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
    if ((this.state !== "up" && this.state !== "restoring") || this.child === null) return;
    if (Date.now() - this.lastBeat > this.heartbeatMs * 3) {
      this.options.logger.log("error", "runtime.unresponsive", { pid: this.child.pid, silentMs: Date.now() - this.lastBeat });
      this.child.kill("SIGKILL");
      return;
    }
    this.send("ping", {}, "started").catch(() => {});
  }

  private waitFor(need: "started" | "up"): Promise<void> {
    if (this.state === "up" || (need === "started" && this.state === "restoring")) return Promise.resolve();
    if (this.state === "stopped") return Promise.reject(new FixpointError("RUNTIME_UNAVAILABLE", "the node is stopping"));
    return new Promise((resolve, reject) => {
      const waiter = {
        need,
        go: () => {
          clearTimeout(timer);
          resolve();
        },
        fail: (err: FixpointError) => {
          clearTimeout(timer);
          reject(err);
        },
      };
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
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ ...body, type, id }, (err) => {
        if (err !== null && err !== undefined && this.pending.delete(id)) reject(new FixpointError("RUNTIME_UNAVAILABLE", `cannot reach the runtime: ${err.message}`));
      });
    });
    return { value, generation };
  }

  /** Loads (or swaps in) a module version; for the code server only. */
  load(source: ModuleSource & { restore?: StateBytes }): Promise<{ value: LoadResult; generation: number }> {
    return this.sendTo("load", source, "started");
  }

  /** Stops a module in the runtime; for the code server only. */
  async unload(name: string): Promise<void> {
    await this.send("unload", { name }, "started");
  }

  /** Copies of the states that may have changed since the last export; for the code server only. */
  exportStates(): Promise<{ value: RuntimeResults["export"]; generation: number }> {
    return this.sendTo("export", {}, "started");
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

