/**
 * The loader's supervisor of its runtime process (Armstrong: "crashes put the system into a
 * stable state and recover"). The runtime hosts module isolates; a module can take it down
 * (one huge allocation aborts V8 with no JavaScript error), the loader never goes with it.
 *
 *   state      on                                  next
 *   starting   "ready" from the runtime            restoring: load every current module with
 *                                                  its last known state, then → up
 *   up         exit, or 3 heartbeats unanswered    down (kill it if still alive)
 *   down       backoff elapsed (100 ms, doubling   starting
 *              to 5 s while it keeps crashing)
 *   any        stop()                              stopped
 *
 * Requests made while the runtime is not up wait for it (up to `waitMs`), then fail with
 * RUNTIME_UNAVAILABLE; requests in flight when it dies fail with RUNTIME_UNAVAILABLE. HTTP
 * connections accepted meanwhile are held, paused, and handed over once it is up.
 * States are snapshotted after every load and every `snapshotMs`, so a restart loses at most
 * that much.
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
  type RestoredState,
  type RuntimeBoot,
  type RuntimeMessage,
  type RuntimeRequest,
  type RuntimeResults,
  type StateSnapshot,
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
  /** The current modules, read from the store, to load after every (re)start. */
  currentModules(): ModuleSource[];
  /** Module console output. */
  onModuleLog(module: string, level: "debug" | "info" | "warn" | "error", text: string): void;
  /** Console output for one REPL session (issue 6). */
  onReplOutput?(session: string, level: "debug" | "info" | "warn" | "error", text: string): void;
  /** Default 1000 ms; three missed beats and the runtime is killed and restarted. */
  heartbeatMs?: number;
  /** Default 1000 ms. */
  snapshotMs?: number;
  /** How long a request waits for a restarting runtime, ms. Default 10000. */
  waitMs?: number;
}

type State = "starting" | "up" | "down" | "stopped";
type RequestBody<K extends RuntimeRequest["type"]> = Omit<Extract<RuntimeRequest, { type: K }>, "id" | "type">;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: FixpointError) => void;
}

const MAX_HELD_SOCKETS = 1024;
/** How long after a load its states are snapshotted, ms. */
const SNAPSHOT_AFTER_LOAD_MS = 100;

export class RuntimeSupervisor {
  private state: State = "down";
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private waiters: { go: () => void; fail: (err: FixpointError) => void }[] = [];
  private readonly heldSockets: Socket[] = [];
  private snapshot: StateSnapshot = {};
  private snapshotting: Promise<void> | null = null;
  private snapshotAgain = false;
  private restarts = 0;
  private backoffMs = 100;
  private lastBeat = Date.now();
  private heartbeat: NodeJS.Timeout | undefined;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private readonly heartbeatMs: number;
  private readonly waitMs: number;
  private upSince = 0;

  constructor(private readonly options: SupervisorOptions) {
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    this.waitMs = options.waitMs ?? 10_000;
  }

  /** Starts the runtime and resolves once it is up with every current module loaded. */
  start(): Promise<void> {
    const up = new Promise<void>((resolve, reject) => this.waiters.push({ go: resolve, fail: reject }));
    this.spawn();
    this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
    this.snapshotTimer = setInterval(() => void this.takeSnapshot(), this.options.snapshotMs ?? 1000);
    this.snapshotTimer.unref();
    return up;
  }

  get status(): { state: State; pid: number | null; restarts: number } {
    return { state: this.state, pid: this.child?.pid ?? null, restarts: this.restarts };
  }

  /** The last state snapshot taken (what a restart restores). */
  get lastSnapshot(): StateSnapshot {
    return this.snapshot;
  }

  private spawn(): void {
    this.state = "starting";
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
        void this.restore(message.pid);
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
        void this.reloadAfterDeath(message.module);
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

  /** After a (re)start: load every current module with its last state, then accept work. */
  private async restore(pid: number): Promise<void> {
    const modules = this.options.currentModules();
    const failures: string[] = [];
    for (const m of modules) {
      const saved = this.snapshot[m.name];
      try {
        await this.send("load", { ...m, ...(saved === undefined ? {} : { restore: saved }) }, true);
      } catch (err) {
        failures.push(m.name);
        this.options.logger.log("error", "module.restore-failed", { module: m.name, code: (err as FixpointError).code, reason: (err as Error).message });
      }
    }
    this.state = "up";
    this.upSince = Date.now();
    this.options.logger.log("info", "runtime.up", { pid, modules: modules.length - failures.length, restarts: this.restarts });
    for (const w of this.waiters.splice(0)) w.go();
    for (const socket of this.heldSockets.splice(0)) this.handSocket(socket);
  }

  private async reloadAfterDeath(module: string): Promise<void> {
    const source = this.options.currentModules().find((m) => m.name === module);
    if (source === undefined) return;
    const saved = this.snapshot[module];
    try {
      await this.load({ ...source, ...(saved === undefined ? {} : { restore: saved }) });
      this.options.logger.log("info", "module.restarted", { module, fromSnapshot: saved !== undefined });
    } catch (err) {
      this.options.logger.log("error", "module.restart-failed", { module, code: (err as FixpointError).code, reason: (err as Error).message });
    }
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
    if (this.state !== "up" || this.child === null) return;
    if (Date.now() - this.lastBeat > this.heartbeatMs * 3) {
      this.options.logger.log("error", "runtime.unresponsive", { pid: this.child.pid, silentMs: Date.now() - this.lastBeat });
      this.child.kill("SIGKILL");
      return;
    }
    this.send("ping", {}).catch(() => {});
  }

  /** One export at a time; asks made meanwhile coalesce into one more (bursts of pushes). */
  private takeSnapshot(): Promise<void> {
    if (this.snapshotting !== null) {
      this.snapshotAgain = true;
      return this.snapshotting;
    }
    this.snapshotting = (async () => {
      do {
        this.snapshotAgain = false;
        await this.exportStates();
      } while (this.snapshotAgain && this.state === "up");
      this.snapshotting = null;
    })();
    return this.snapshotting;
  }

  private async exportStates(): Promise<void> {
    if (this.state !== "up") return;
    try {
      const { snapshot, failed, unchanged } = await this.send("export", {});
      // Keep the last copy of a module that did not change, and the last good state of one
      // whose state could not be copied this time.
      const kept = [...unchanged, ...Object.keys(failed)].flatMap((n) => (this.snapshot[n] === undefined ? [] : [[n, this.snapshot[n]!] as const]));
      this.snapshot = { ...Object.fromEntries(kept), ...snapshot };
    } catch {
      // the runtime is going down; the exit handler reports it
    }
  }

  private waitUntilUp(): Promise<void> {
    if (this.state === "up") return Promise.resolve();
    if (this.state === "stopped") return Promise.reject(new FixpointError("RUNTIME_UNAVAILABLE", "the node is stopping"));
    return new Promise((resolve, reject) => {
      const waiter = {
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

  private async send<K extends RuntimeRequest["type"]>(type: K, body: RequestBody<K>, duringRestore = false): Promise<RuntimeResults[K]> {
    if (!duringRestore) await this.waitUntilUp();
    const child = this.child;
    if (child === null || !child.connected) throw new FixpointError("RUNTIME_UNAVAILABLE", "the runtime is not running");
    const id = this.nextId++;
    return new Promise<RuntimeResults[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ ...body, type, id }, (err) => {
        if (err !== null && err !== undefined && this.pending.delete(id)) reject(new FixpointError("RUNTIME_UNAVAILABLE", `cannot reach the runtime: ${err.message}`));
      });
    });
  }

  async load(source: ModuleSource & { restore?: RestoredState }): Promise<LoadResult> {
    const result = await this.send("load", source);
    // Not awaited, and a moment later: HTTP already sees the new version, and neither the push's
    // answer nor the swaps of other nodes on the same machine should wait for every module's
    // state to be copied. Until the snapshot lands, a restart restores the old version's state
    // through the new version's migrate hook, which is what migrate is for.
    if (result.status === "loaded") setTimeout(() => void this.takeSnapshot(), SNAPSHOT_AFTER_LOAD_MS).unref();
    return result;
  }

  async unload(name: string): Promise<void> {
    await this.send("unload", { name });
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
    clearInterval(this.snapshotTimer);
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

