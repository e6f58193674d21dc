/**
 * The interface between the loader and its runtime process — the only thing of the runtime
 * the loader knows. The loader forks the runtime with an IPC channel in "advanced"
 * serialization (structured clone, so bytes and states cross without JSON), and:
 *
 *   loader → runtime   requests with an id: load, call, health, export, unload, status, ping, drain, check,
 *                      prepare, mode, repl-eval, repl-complete, repl-drop;
 *                      http (a request a host app's own server routed to the node, issue 14);
 *                      and accepted HTTP sockets, passed as handles with { type: "http-socket" }
 *   runtime → loader   exactly one reply per request id; unasked: ready (once, at start),
 *                      log (module console output), dead (a module's isolate was stopped),
 *                      repl-output (console output for one REPL session),
 *                      host-call (a module calls a capability the host app granted, issue 14)
 *   loader → runtime   exactly one host-reply per host-call id (the runtime's own id space)
 *
 * A host call's arguments and result cross as structured copies, at most MAX_CAPABILITY_BYTES
 * each, serialized; functions, host objects and prototypes never do (the copy refuses them).
 *
 * A REPL `session` is a string the loader picks per client connection; the runtime creates
 * the session's scratch isolate on its first evaluation and disposes it on repl-drop.
 *
 * Both ends are ours and run the same build, but the runtime executes module code, so the
 * loader still checks every message it gets against these shapes (`isRuntimeMessage`).
 */
import type { ChildProcess } from "node:child_process";
import { FixpointError, type ErrorData } from "./errors.js";
import type { LogLevel } from "./log.js";
import type { Mode } from "./messages.js";

/** The limits every module isolate runs with: the node's (`loader start --module-*`), or a module's own. */
export interface IsolateLimits {
  /** Heap per isolate, MB (a guideline: V8 may overshoot it). */
  memoryMb: number;
  /** Longest synchronous run of module code, ms. */
  cpuMs: number;
  /** Longest wait for async module work, ms. */
  asyncMs: number;
}

export interface RuntimeLimits extends IsolateLimits {
  /** Largest state a module may hold, serialized, in bytes: what a snapshot can carry. */
  maxStateBytes: number;
}

/** The node's defaults (`loader start --module-*` overrides them); the one copy of these numbers. */
export const DEFAULT_RUNTIME_LIMITS: Readonly<RuntimeLimits> = Object.freeze({ memoryMb: 128, cpuMs: 1000, asyncMs: 30_000, maxStateBytes: 32 * 1024 * 1024 });

/**
 * The least and the most each isolate limit may be, inclusive: for the node's flags and for a
 * module's own `defineModule({ limits })` alike (runtime/host/module-limits.ts), the one copy of
 * these numbers. Below the least an isolate cannot even run its bootstrap; above the most a
 * module could hold its isolate, or the memory of the machine, for good.
 */
export const ISOLATE_LIMIT_BOUNDS: Readonly<Record<keyof IsolateLimits, readonly [least: number, most: number]>> = Object.freeze({
  memoryMb: [8, 4096],
  cpuMs: [10, 60_000],
  asyncMs: [10, 600_000],
});

/** Largest HTTP request body passed to a module, bytes: the node's own --http and a host's mounted handler alike. */
export const MAX_HTTP_BODY_BYTES = 8 * 1024 * 1024;

/** Largest argument list, and largest result, of one host capability call, serialized, bytes. */
export const MAX_CAPABILITY_BYTES = 4 * 1024 * 1024;

/** An HTTP request as it crosses to a module; `url` is absolute, as the module's Request sees it. */
export interface HttpWireRequest {
  method: string;
  url: string;
  headers: [string, string][];
  body: Uint8Array | null;
}

export interface HttpWireResponse {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: Uint8Array;
}

export interface HttpSettings {
  /** The module that takes paths not starting with "/<module>/". */
  rootModule: string;
}

/**
 * A module's state as it crosses between the processes and onto disk: V8's structured-clone
 * serialization (node:v8), made and read only in the runtime. Same digest as the code it is
 * loaded into: taken as it is; another: through that code's `migrate`.
 */
export interface StateBytes {
  bytes: Uint8Array;
  version: string;
  digest: string;
}

/** A load's state that is its `restore`'s bytes as they were sent, now of `version` and `digest`. */
export interface StateKept {
  kept: true;
  version: string;
  digest: string;
}

/** A module's code as the loader sends it to the runtime: to load, to check, to prepare. */
export interface ModuleSource {
  name: string;
  digest: string;
  code: string;
  sourceMap: string;
}

export type RuntimeRequest =
  /**
   * `restore`: the state to start from where no version runs (a version that runs hands its own
   * over). `saved` instead: the loader holds one but did not send it (a push, where a version
   * usually runs: a megabyte state crossed twice for nothing); where none runs the runtime answers
   * `needs-state` and the loader sends the load again with it.
   */
  | ({ type: "load"; id: number; restore?: StateBytes; saved?: true } & ModuleSource)
  | { type: "call"; id: number; module: string; fn: string; args: unknown[] }
  | { type: "health"; id: number; module: string }
  /** `skip`: modules not to copy this time (their turn comes later): left out of the answer, still counted as changed. */
  | { type: "export"; id: number; skip?: string[] }
  | { type: "unload"; id: number; name: string }
  | { type: "status"; id: number }
  | { type: "ping"; id: number }
  /** Whether this code would compile and start, in a scratch isolate (nothing running changes). */
  | ({ type: "check"; id: number } & ModuleSource)
  /**
   * The same check, in a runtime process started ahead for a guarded restart, which keeps the
   * started module for its load once it is adopted: only the state is left to do then.
   */
  | ({ type: "prepare"; id: number } & ModuleSource)
  /** Before a guarded restart: finish HTTP requests in flight (at most timeoutMs), keep no connection alive. */
  | { type: "drain"; id: number; timeoutMs: number }
  /** The node switched mode: from now on the runtime answers as `boot.mode` would say (production shows no stack frames to HTTP clients). */
  | { type: "mode"; id: number; mode: Mode }
  | { type: "repl-eval"; id: number; session: string; module?: string; source: string; colors: boolean }
  | { type: "repl-complete"; id: number; session: string; module?: string; source: string }
  | { type: "repl-drop"; id: number; session: string }
  /** A request the host app's server routed to the node: answered by the module its path names (runtime/http/server.ts). */
  | { type: "http"; id: number; path: string; request: HttpWireRequest };

/** The loader's answer to a host-call (not a RuntimeRequest: it answers the runtime's id). */
export type HostReply = { type: "host-reply"; id: number; ok: true; value: unknown } | { type: "host-reply"; id: number; ok: false; error: ErrorData };

/** An evaluation's outcome; a limit hit (MODULE_TIMEOUT, MODULE_MEMORY_LIMIT) is a coded error instead. */
export interface ReplEvalResult {
  threw: boolean;
  /** The value or the thrown error, inspected inside the isolate. */
  text: string;
  /** Where a syntax error is in the input, 1-based. */
  location?: { line: number; column: number };
}

export interface ReplCompletion {
  candidates: string[];
  /** The word being completed. */
  prefix: string;
}

export type LoadResult =
  /**
   * `state`: the new version's state, copied and measured before it took over (what to save);
   * or `kept` when it is the `restore` sent, taken as it was (the same code, or code without a
   * migrate hook; within the limit): the loader holds those bytes already, so they do not cross back.
   */
  | { status: "loaded"; name: string; digest: string; version: string; previousDigest: string | null; ms: number; state: StateBytes | StateKept }
  | { status: "unchanged"; name: string; digest: string }
  /** Nothing runs to hand a state over and the load came without the one the loader holds (`saved`). */
  | { status: "needs-state"; name: string };

/**
 * One request to a runtime process outside the supervisor's own request table (a process
 * started ahead, not yet adopted): resolves with its reply's value, rejects with its error, or
 * RUNTIME_UNAVAILABLE naming `who` if the process exits or cannot be reached first.
 */
export function askProcess(child: ChildProcess, request: RuntimeRequest, who: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const settle = (error: FixpointError | null, value?: unknown): void => {
      child.off("message", onMessage);
      child.off("exit", onExit);
      if (error === null) resolve(value);
      else reject(error);
    };
    const onMessage = (m: unknown): void => {
      if (isRuntimeMessage(m) && m.type === "reply" && m.id === request.id) settle(m.ok ? null : FixpointError.fromData(m.error), m.ok ? m.value : undefined);
    };
    const onExit = (): void => settle(new FixpointError("RUNTIME_UNAVAILABLE", `${who} exited while it answered a ${request.type} request`));
    child.on("message", onMessage);
    child.once("exit", onExit);
    child.send(request, (err) => err && settle(new FixpointError("RUNTIME_UNAVAILABLE", `cannot reach ${who}: ${err.message}`)));
  });
}

/** A load's answer as the loader takes it: a kept state stands for the bytes that were sent. */
export type LoadedOrUnchanged = Exclude<LoadResult, { status: "loaded" | "needs-state" }> | (Omit<Extract<LoadResult, { status: "loaded" }>, "state"> & { state: StateBytes });

/**
 * Resolves a kept state to the `restore` sent with the load: the same bytes object, so that the
 * loader can tell it holds them already. INTERNAL if the runtime kept a state it was not sent.
 */
export function withKeptBytes(result: LoadResult, restore: StateBytes | undefined): LoadedOrUnchanged {
  if (result.status === "needs-state") throw new FixpointError("INTERNAL", `the runtime asked for module ${result.name}'s state after it was sent`);
  if (result.status !== "loaded" || !("kept" in result.state)) return result as LoadedOrUnchanged;
  if (restore === undefined) throw new FixpointError("INTERNAL", `the runtime kept a state for module ${result.name} that it was not sent`);
  return { ...result, state: { bytes: restore.bytes, version: result.state.version, digest: result.state.digest } };
}

export interface RuntimeModuleStatus {
  name: string;
  digest: string;
  version: string;
  functions: string[];
  http: boolean;
  health: boolean;
  heapUsed: number;
  calls: number;
  loadedAt: string;
  /** The module's health check's answer, when it has one (asked for each status). */
  checked?: { ok: boolean; detail?: string };
}

/** States of running modules, keyed by name. */
export type StateSnapshot = Record<string, StateBytes>;

export interface RuntimeResults {
  load: LoadResult;
  call: unknown;
  health: { ok: boolean; detail?: string };
  /** `unchanged`: modules no code ran in since their last export; their last copy stands. */
  export: { snapshot: StateSnapshot; failed: Record<string, ErrorData>; unchanged: string[] };
  unload: null;
  status: { modules: RuntimeModuleStatus[]; rss: number; heapUsed: number };
  ping: null;
  drain: null;
  mode: null;
  check: null;
  prepare: null;
  "repl-eval": ReplEvalResult;
  "repl-complete": ReplCompletion;
  /** Whether the session had a scratch isolate (now disposed). */
  "repl-drop": { dropped: boolean };
  http: HttpWireResponse;
}

export type RuntimeMessage =
  | { type: "reply"; id: number; ok: true; value: unknown }
  | { type: "reply"; id: number; ok: false; error: ErrorData }
  | { type: "ready"; pid: number }
  | { type: "log"; module: string; level: LogLevel; text: string }
  | { type: "dead"; module: string; error: ErrorData }
  | { type: "repl-output"; session: string; level: LogLevel; text: string }
  | { type: "host-call"; id: number; capability: string; fn: string; args: unknown[] };

/** Arguments the loader passes when it forks the runtime, as one JSON argv entry. */
export interface RuntimeBoot {
  limits: RuntimeLimits;
  http: HttpSettings;
  /**
   * The node's mode. Only in dev mode does an HTTP client get a module error's stack (mapped to
   * its TypeScript); otherwise its code and message only. Absent: as in production.
   */
  mode?: Mode;
  /** The host capabilities the node grants its modules: each one's function names (issue 14). */
  capabilities?: Record<string, string[]>;
}

export function isRuntimeMessage(value: unknown): value is RuntimeMessage {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  switch (m["type"]) {
    case "reply":
      return typeof m["id"] === "number" && typeof m["ok"] === "boolean";
    case "ready":
      return typeof m["pid"] === "number";
    case "log":
      return typeof m["module"] === "string" && typeof m["level"] === "string" && typeof m["text"] === "string";
    case "dead":
      return typeof m["module"] === "string" && typeof m["error"] === "object";
    case "repl-output":
      return typeof m["session"] === "string" && typeof m["level"] === "string" && typeof m["text"] === "string";
    case "host-call":
      return typeof m["id"] === "number" && typeof m["capability"] === "string" && typeof m["fn"] === "string" && Array.isArray(m["args"]);
    default:
      return false;
  }
}
