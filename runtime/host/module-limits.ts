/**
 * A module's own limits (`defineModule({ limits })`), checked against the bounds a node
 * accepts, over the node's defaults. Defaults and bounds are the loader's (ISOLATE_LIMIT_BOUNDS
 * and DEFAULT_RUNTIME_LIMITS in loader/protocol/runtime-ipc.ts), which checks the node's
 * flags against the same bounds. The memory limit is fixed when an isolate is made, so a
 * module that asks for another one gets an isolate of its own rather than the prepared spare.
 */
import { FixpointError } from "../../loader/protocol/errors.js";
import { DEFAULT_RUNTIME_LIMITS, ISOLATE_LIMIT_BOUNDS, type IsolateLimits } from "../../loader/protocol/runtime-ipc.js";

export type { IsolateLimits };

/** The node's default isolate limits: the loader's DEFAULT_RUNTIME_LIMITS, the one copy of the numbers. */
export const DEFAULT_ISOLATE_LIMITS: Readonly<IsolateLimits> = Object.freeze({
  memoryMb: DEFAULT_RUNTIME_LIMITS.memoryMb,
  cpuMs: DEFAULT_RUNTIME_LIMITS.cpuMs,
  asyncMs: DEFAULT_RUNTIME_LIMITS.asyncMs,
});

/**
 * The most timers (setTimeout and setInterval not yet fired or cleared) one module version may
 * have at once. Past it, setTimeout/setInterval throw TIMER_LIMIT in the module's code: a module
 * that scheduled a million timers once took the runtime past 1 GB and every module down with it
 * (issue 13). Node-wide and fixed; a module that needs more should keep a queue of its own.
 */
export const MAX_TIMERS = 10_000;

/** The limits module `name` runs with: `declared` (what its definition says) over `node`'s. */
export function moduleLimits(declared: unknown, node: IsolateLimits, name: string): IsolateLimits {
  if (declared === undefined || declared === null) return node;
  const bad = (why: string) => new FixpointError("MODULE_LOAD_FAILED", `module ${name}: limits ${why}`);
  if (typeof declared !== "object" || Array.isArray(declared)) throw bad("must be an object like { memoryMb: 64, cpuMs: 500 }");
  const out = { ...node };
  for (const [key, value] of Object.entries(declared)) {
    if (!Object.hasOwn(ISOLATE_LIMIT_BOUNDS, key)) throw bad(`has an unknown key "${key}" (known: ${Object.keys(ISOLATE_LIMIT_BOUNDS).join(", ")})`);
    const [min, max] = ISOLATE_LIMIT_BOUNDS[key as keyof IsolateLimits];
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) throw bad(`.${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    out[key as keyof IsolateLimits] = value;
  }
  return out;
}
