/**
 * What the host grants a module: everything module code can reach outside its isolate, in one
 * place. Nothing else crosses — no `require`, `process`, file system or network.
 *
 * Each grant is one host function. The harness (runtime/isolate/harness.ts) receives them in
 * GRANTS order when the isolate is prepared, and module code never sees them, only what the
 * harness builds on them:
 *
 *   log         console.log/info/debug/warn/error → the node's log, as text (64 KiB a line)
 *   setTimer    setTimeout/setInterval: the host keeps the clock, the isolate the callbacks
 *   clearTimer  clearTimeout/clearInterval
 *   call        ctx.call(module, fn, ...args): calls to other modules on the same node
 *   settle      the outcome of an async function, handler or check (see ModuleIsolate.invoke)
 *
 * A new grant is a row here and its use in the harness; giving a module more (a key-value
 * store, outbound fetch) is a decision made in this file (the names' order is kept in
 * runtime/isolate/grants.ts, which the isolate's bundle imports).
 */
import { FixpointError, toFixpointError } from "../../loader/protocol/errors.js";
import { LOG_LEVELS, type LogLevel } from "../../loader/protocol/log.js";
import { GRANTS, type Grant } from "../isolate/grants.js";
import type { CallOutcome } from "../isolate/harness.js";
import type { IsolateHooks } from "./module-isolate.js";

export { GRANTS, type Grant } from "../isolate/grants.js";

/** The instance side of a grant: what the timers and async outcomes reach once the module runs. */
export interface GrantReceiver {
  setTimer(id: number, ms: number, repeat: boolean): void;
  clearTimer(id: number): void;
  settle(id: number, ok: boolean, value: unknown): void;
  /** Module code is about to run outside a call the host made (a call's result arriving). */
  touched(): void;
  /** False once a swap has paused or retired the version and no call is in flight on it (ModuleIsolate.mayReachOut). */
  mayReachOut(): boolean;
}

/** Who the grants serve, bound late: an isolate is prepared before its module arrives. */
export interface GrantTarget {
  name: string;
  hooks: IsolateHooks | null;
  self: GrantReceiver | null;
}

const LEVELS: ReadonlySet<string> = new Set(LOG_LEVELS);

/**
 * The host functions for one isolate, in GRANTS order. The harness calls most of them with
 * applyIgnored, which runs them on the runtime's event loop with nobody to catch a throw: so
 * none of them throws, whatever state the module or its isolate is in (issue 13).
 */
export function hostFunctions(target: GrantTarget): ((...args: never[]) => unknown)[] {
  const quietly =
    <A extends unknown[]>(f: (...args: A) => void) =>
    (...args: A): void => {
      try {
        f(...args);
      } catch {
        // A grant of a version that is stopping: there is nobody left to tell.
      }
    };
  const grants: Record<Grant, (...args: never[]) => unknown> = {
    log: quietly((level: string, text: string) => {
      if (target.self?.mayReachOut() === false) return;
      target.hooks?.log(LEVELS.has(level) ? (level as LogLevel) : "info", String(text).slice(0, 64 * 1024));
    }),
    setTimer: quietly((id: number, ms: number, repeat: boolean) => target.self?.setTimer(id, ms, repeat)),
    clearTimer: quietly((id: number) => target.self?.clearTimer(id)),
    // Never rejects (see callFor): isolated-vm takes the outcome only while the isolate lives,
    // and a rejection for one disposed meanwhile would be unhandled and end the runtime process.
    call: (module: string, fn: string, args: unknown[]) => callFor(module, fn, args),
    settle: quietly((id: number, ok: boolean, value: unknown) => target.self?.settle(id, ok, value)),
  };
  /** A call to another module, its failure as data ({ code, message }) that the harness makes an Error with `code` of. */
  async function callFor(module: string, fn: string, args: unknown[]): Promise<CallOutcome> {
    try {
      if (target.hooks === null) throw new FixpointError("MODULE_NOT_FOUND", "this isolate has no module yet");
      // A version a swap has replaced finishes its calls in flight and does nothing else: an
      // interval of it calling its own module by name would reach (and change) the new version.
      if (target.self?.mayReachOut() === false) throw new FixpointError("MODULE_STOPPED", `this version of module ${target.name} was replaced or stopped; only the calls in flight on it may still call modules`);
      return { ok: true, value: await target.hooks.call(module, fn, args) };
    } catch (err) {
      const e = toFixpointError(err, "MODULE_ERROR");
      return { ok: false, error: { code: e.code, message: e.message } };
    } finally {
      // The caller's code resumes with the answer, and may change its state.
      target.self?.touched();
    }
  }
  return GRANTS.map((g) => grants[g]);
}
