/**
 * The module API: what a module author writes against, `import { defineModule } from "fixpoint"`.
 *
 * A module is one TypeScript file whose default export is `defineModule({...})`. It runs in its
 * own V8 isolate on every node it is pushed to; its state lives there and is handed to the next
 * version on a hot swap (Erlang's code_change). This file is bundled into the module by esbuild
 * (the devtool aliases "fixpoint" to it), so it must stay free of imports and host APIs.
 *
 * @example
 * import { defineModule } from "fixpoint";
 *
 * export default defineModule({
 *   version: "2",
 *   state: { hits: 0 },
 *   migrate: (old: { hits: number }) => ({ hits: old.hits }),
 *   functions: {
 *     hit: (ctx, by: number = 1) => (ctx.state.hits += by),
 *   },
 *   http: (request, ctx) => new Response(`hits: ${++ctx.state.hits}`),
 *   health: (ctx) => ctx.state.hits >= 0,
 * });
 */

/**
 * The capabilities the host app grants this node's modules (`startNode({ capabilities })`),
 * empty until a module declares the ones it uses, by declaration merging:
 *
 * @example
 * declare module "fixpoint" {
 *   interface FixpointHost {
 *     db: { query(sql: string): Promise<{ id: number; name: string }[]> };
 *   }
 * }
 * // or, from the host app's own object (a type-only import, bundled away):
 * // interface FixpointHost extends HostOf<typeof import("../server/capabilities.js").capabilities> {}
 *
 * Every function returns a promise: it runs in the host's process. Arguments and results cross
 * as structured copies (plain data, Date, Map, Set, typed arrays; no functions, class
 * instances' prototypes or host objects); a name the node does not grant throws
 * CAPABILITY_NOT_GRANTED, a host function that throws rejects with CAPABILITY_FAILED and its
 * message, one that takes too long with CAPABILITY_TIMEOUT.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface -- filled in by declaration merging
export interface FixpointHost {}

/** A host's capabilities object as module code sees it: each function async, taking and giving copies. */
export type HostOf<C> = {
  readonly [K in keyof C]: { readonly [F in keyof C[K]]: C[K][F] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never };
};

/** What a module's code gets besides its arguments. */
export interface ModuleContext<S> {
  /** The host app's capabilities this node grants (see FixpointHost). */
  readonly host: FixpointHost;
  /** The module's state. Mutate it in place or assign a new value; it is kept across swaps. */
  state: S;
  /** The module's name on the node. */
  readonly module: string;
  /**
   * Calls a function of another module on the same node; resolves with a structured copy of
   * its result or rejects with its coded error.
   */
  call<R = unknown>(module: string, fn: string, ...args: unknown[]): Promise<R>;
}

/** A function callable remotely as {module, function, arguments}; arguments arrive as copies. */
// `any[]`, not `unknown[]`: a function declaring `(ctx, by: number)` must be assignable here. The
// arguments arrive as structured copies of what the caller sent; the function checks them.
export type ModuleFunction<S> = (ctx: ModuleContext<S>, ...args: any[]) => unknown;

export interface HealthReport {
  ok: boolean;
  detail?: string;
}

/**
 * Limits for this module's isolate; each one left out is the node's (`loader start
 * --module-memory-mb`, `--module-cpu-ms`, `--module-async-ms`).
 */
export interface ModuleLimits {
  /** V8 heap for the isolate, MB, 8..4096 (a guideline: V8 may overshoot it 1.4-2x before stopping it). */
  memoryMb?: number;
  /** Longest synchronous run of this module's code per call, ms, 10..60000. */
  cpuMs?: number;
  /** Longest wait for an async function, handler or check to settle, ms, 10..600000. */
  asyncMs?: number;
}

export interface ModuleDefinition<S> {
  /** A label for this version, shown in status and passed to the next version's `migrate`. Default "0". */
  version?: string;
  /** The initial state (or a function making it), used when no previous version hands one over. */
  state?: S | (() => S);
  /**
   * Turns the previous version's state into this version's. Without it the state passes
   * through unchanged. Throwing keeps the previous version running with its state untouched.
   */
  migrate?: (previous: unknown, previousVersion: string) => S;
  /** Functions callable remotely and by other modules. */
  functions?: Record<string, ModuleFunction<S>>;
  /** Handles HTTP requests routed to this module (see the README for routing). */
  http?: (request: Request, ctx: ModuleContext<S>) => Response | Promise<Response>;
  /** Says whether the module is healthy; false, a report with ok false, or a throw is unhealthy. */
  health?: (ctx: ModuleContext<S>) => boolean | HealthReport | Promise<boolean | HealthReport>;
  /** This module's own limits, where the node's defaults do not suit it. */
  limits?: ModuleLimits;
}

/** Marks a module definition; the runtime looks for it on the module's default export. */
export const MODULE_MARK = "fixpoint.module/1";

export type DefinedModule<S> = ModuleDefinition<S> & { readonly [MODULE_MARK]: true };

/** Declares a module. Returns the definition, marked so the runtime can recognise it. */
export function defineModule<S>(definition: ModuleDefinition<S>): DefinedModule<S> {
  // Module code is bundled, not type-checked: \`version: 1\` would otherwise go live as "v0"
  // (issue 12.8). Throwing here fails the load, and the old version keeps serving.
  const version: unknown = definition.version;
  if (version !== undefined && typeof version !== "string") {
    throw new TypeError(`defineModule: "version" must be a string such as "2", got ${typeof version === "number" ? `the number ${version}` : typeof version}; write version: "${String(version)}"`);
  }
  return Object.assign({}, definition, { [MODULE_MARK]: true as const });
}
