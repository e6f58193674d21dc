/**
 * The harness: trusted glue that runs inside every module isolate, between the host and the
 * module's definition. The host hands it a few References (log, timers, calls) through a
 * closure, so module code never sees an isolated-vm handle (isolated-vm's SECURITY advice):
 * the boot function deletes itself from the global object before the module runs.
 *
 * Everything crossing to the host is a structured copy. Errors thrown here reach the host as
 * data (ThrownData: name, message, stack, and the code of an error the node raised), which the
 * host maps to the TypeScript source; isolated-vm's own copy of an error keeps only its message
 * and stack, so nothing of ours is left to it. An error the node raises crosses into the module
 * the same way, as `{ code, message }` (CallOutcome), and becomes an Error with `code` there.
 */
import { MODULE_MARK, type ModuleContext, type ModuleDefinition } from "../api.js";
import { SCRATCH_MARK, replEntries } from "./repl.js";
import { takeResponseBytes, type Response as PreludeResponse } from "../prelude/response.js";
import { inspect } from "./inspect.js";
import { GRANTS, type Grant } from "./grants.js";
import { checkPlain } from "./plain-data.js";

/** isolated-vm's Reference as seen from inside the isolate (only the members used here). */
interface HostRef {
  applyIgnored(receiver: undefined, args: unknown[], options?: object): void;
  apply(receiver: undefined, args: unknown[], options?: object): Promise<unknown>;
}

type Host = Record<Grant, HostRef>;

/**
 * What `invoke` answers: the result itself when the method returned one, what it threw, or
 * `pending` when it returned a promise, whose outcome comes later through the host's settle function.
 */
export type Invoked = { state: "done"; value: unknown } | { state: "threw"; error: ThrownData } | { state: "pending" };

/** A throw or rejection as it crosses to the host: what the host's error mapping reads. */
export interface ThrownData {
  name: string;
  message: string;
  stack: string | undefined;
  /**
   * The code of an error the node raised (TIMER_LIMIT, FUNCTION_NOT_FOUND, or one a call to
   * another module failed with), also when module code let it through; never the `code` of an
   * error module code made itself, which is the module's own business (MODULE_ERROR).
   */
  code?: string;
}

/**
 * A state as it crosses the isolate boundary: JSON text (plain data, parsed on the other side)
 * or the value itself (copied by a structured clone). Defined here, where both are made and read.
 */
export type PackedState = { json: string } | { value: unknown };

/** How a call to another module (ctx.call) comes back from the host: never a rejection to re-parse. */
export type CallOutcome = { ok: true; value: unknown } | { ok: false; error: { code: string; message: string } };

export interface WireRequest {
  method: string;
  url: string;
  headers: [string, string][];
  body: Uint8Array | null;
}

export interface WireResponse {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: Uint8Array;
}

type AnyDefinition = ModuleDefinition<unknown>;

/** console's text: strings as they are, everything else as node's console shows it. */
function format(value: unknown): string {
  return typeof value === "string" ? value : inspect(value, { colors: false });
}

/** What `fire` answers: the timers it had no time for, and what the ones that ran threw. */
export interface Fired {
  unrun: number[];
  /** The first few errors thrown (see FIRE_ERRORS_KEPT); `failed` counts them all. */
  errors: ThrownData[];
  failed: number;
}

/** How many of a batch's errors are kept to be logged: a timer that throws every millisecond should not flood the log. */
const FIRE_ERRORS_KEPT = 3;

/**
 * Run when the isolate is prepared, before the module (and its name) is known: attach() names it.
 * Receives the host's grants (runtime/host/capabilities.ts) in GRANTS order, then the most live
 * timers a module may have (MAX_TIMERS, module-limits.ts), then the host app's capabilities'
 * names as JSON (hostShape). References arrive as separate arguments because isolated-vm
 * transfers them only at the top level.
 */
function boot(...received: unknown[]) {
  let moduleName = "(not attached)";
  const grants = received.slice(0, GRANTS.length) as HostRef[];
  const maxTimers = Number(received[GRANTS.length]);
  const hostNames = JSON.parse(String(received[GRANTS.length + 1] ?? "{}")) as Record<string, string[]>;
  const host = Object.fromEntries(GRANTS.map((name, i) => [name, grants[i]!])) as Host;
  const g = globalThis as Record<string, unknown>;
  delete g["__fixpoint_boot"];

  // The errors the node raised, told apart from look-alikes module code may make.
  const nodeErrors = new WeakSet<Error>();
  /** An error of the node's, with `code` for module code that catches it; its stack reads "Name [CODE]: message", as Node's coded errors do. */
  const coded = (code: string, message: string, name = "Error"): Error => {
    const err = new Error(message);
    err.name = `${name} [${code}]`;
    void err.stack; // formatted now, with the code in its first line
    err.name = name;
    Object.defineProperty(err, "code", { value: code, enumerable: true });
    nodeErrors.add(err);
    return err;
  };

  const log = (level: string, args: unknown[]) => host.log.applyIgnored(undefined, [level, args.map((a) => format(a)).join(" ")], { arguments: { copy: true } });
  const consoleObject = {
    log: (...a: unknown[]) => log("info", a),
    info: (...a: unknown[]) => log("info", a),
    debug: (...a: unknown[]) => log("debug", a),
    warn: (...a: unknown[]) => log("warn", a),
    error: (...a: unknown[]) => log("error", a),
    trace: (...a: unknown[]) => log("debug", [...a, new Error("trace").stack]),
  };
  Object.defineProperty(g, "console", { value: consoleObject, writable: true, configurable: true, enumerable: false });

  // Timers: the host keeps the clock, the isolate keeps the callbacks.
  const timers = new Map<number, { fn: (...a: unknown[]) => void; args: unknown[]; repeat: boolean }>();
  let nextTimer = 1;
  const setTimer = (repeat: boolean) => (fn: unknown, ms?: unknown, ...args: unknown[]) => {
    if (typeof fn !== "function") throw new TypeError("the callback must be a function");
    if (timers.size >= maxTimers) {
      throw coded("TIMER_LIMIT", `module ${moduleName} has ${maxTimers} live timers, the most a module may have; clear some (clearTimeout, clearInterval) or keep a queue of your own`, "TimerLimit");
    }
    const id = nextTimer++;
    timers.set(id, { fn: fn as (...a: unknown[]) => void, args, repeat });
    const delay = Math.max(0, Math.min(Number(ms) || 0, 2 ** 31 - 1));
    host.setTimer.applyIgnored(undefined, [id, delay, repeat]);
    return id;
  };
  const clear = (id: unknown) => {
    if (typeof id === "number" && timers.delete(id)) host.clearTimer.applyIgnored(undefined, [id]);
  };
  const globals: Record<string, unknown> = {
    setTimeout: setTimer(false),
    setInterval: setTimer(true),
    clearTimeout: clear,
    clearInterval: clear,
    queueMicrotask: (fn: () => void) => void Promise.resolve().then(fn),
  };
  for (const [name, value] of Object.entries(globals)) Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });

  // ctx.host: exactly the capabilities the node grants. Asking for any other name is a coded
  // error at once (not `undefined` and a TypeError a line later), which names what is granted.
  const granted = Object.keys(hostNames);
  const guarded = <T extends object>(target: T, what: (key: string) => string): T =>
    new Proxy(target, {
      get(t, key, receiver) {
        // "then" and "toJSON": `await ctx.host` and JSON.stringify(ctx) probe them, and must not
        // throw; everything an object has (toString, a symbol) stays as it is.
        if (typeof key !== "string" || key === "then" || key === "toJSON" || key in t) return Reflect.get(t, key, receiver) as unknown;
        throw coded("CAPABILITY_NOT_GRANTED", `module ${moduleName} asked for ${what(key)}, which this node does not grant (it grants ${granted.length === 0 ? "none" : granted.map((c) => `${c}: ${hostNames[c]!.join(", ")}`).join("; ")}); the host app grants capabilities with startNode({ capabilities })`, "CapabilityNotGranted");
      },
    });
  const callHost = async (capability: string, fn: string, args: unknown[]): Promise<unknown> => {
    const outcome = (await host.host.apply(undefined, [capability, fn, args], { arguments: { copy: true }, result: { promise: true, copy: true } })) as CallOutcome;
    if (outcome.ok) return outcome.value;
    throw coded(outcome.error.code, outcome.error.message);
  };
  const hostApi = guarded(
    Object.freeze(
      Object.fromEntries(
        granted.map((capability) => [
          capability,
          guarded(Object.freeze(Object.fromEntries(hostNames[capability]!.map((fn) => [fn, (...args: unknown[]) => callHost(capability, fn, args)]))), (fn) => `host capability "${capability}.${fn}"`),
        ]),
      ),
    ),
    (capability) => `host capability "${capability}"`,
  );

  let definition: AnyDefinition | null = null;
  let version = "0";
  const ctx: ModuleContext<unknown> = {
    host: hostApi as ModuleContext<unknown>["host"],
    state: undefined,
    module: moduleName,
    call: async (module: string, fn: string, ...args: unknown[]) => {
      const outcome = (await host.call.apply(undefined, [module, fn, args], { arguments: { copy: true }, result: { promise: true, copy: true } })) as CallOutcome;
      if (outcome.ok) return outcome.value as never;
      throw coded(outcome.error.code, outcome.error.message);
    },
  };

  const pendingHttp = new Map<number, Promise<unknown>>();
  let nextHttp = 1;
  const wireResponse = (response: unknown): WireResponse => {
    if (!(response instanceof Response)) throw new TypeError(`module ${moduleName}'s http handler must return a Response`);
    const headers: [string, string][] = [];
    response.headers.forEach((value, key) => headers.push([key, value]));
    return { status: response.status, statusText: response.statusText, headers, body: takeResponseBytes(response as unknown as PreludeResponse) };
  };
  const fn = (name: string) => {
    const f = definition?.functions !== undefined && Object.hasOwn(definition.functions, name) ? definition.functions[name] : undefined;
    if (typeof f !== "function") {
      const known = Object.keys(definition?.functions ?? {});
      throw coded("FUNCTION_NOT_FOUND", `module ${moduleName} has no function "${name}"${known.length > 0 ? ` (it has ${known.join(", ")})` : ""}`, "FunctionNotFound");
    }
    return f;
  };

  const unpack = (packed: PackedState): unknown => {
    if (!("json" in packed)) return packed.value;
    try {
      return JSON.parse(packed.json) as unknown;
    } catch (err) {
      throw coded("STATE_CORRUPT", `module ${moduleName}'s saved state is not valid JSON: ${(err as Error).message}`, "StateCorrupt");
    }
  };

  const api = {
    // The remote REPL (repl.ts): evaluation with the module's state and functions in scope.
    ...replEntries(() => (definition === null ? null : { ctx, functions: definition.functions ?? {}, scratch: (definition as Record<string, unknown>)[SCRATCH_MARK] === true })),
    /** Finds the definition the bundle exported; returns what the host shows in status. */
    attach(name: string): { version: string; functions: string[]; http: boolean; health: boolean; migrate: boolean; limits: unknown } {
      moduleName = name;
      (ctx as { module: string }).module = name;
      const exported = g["__fixpoint_module"] as { default?: unknown } | undefined;
      // A top-level `var` of the bundle: not deletable, so cleared.
      g["__fixpoint_module"] = undefined;
      const candidate = exported?.default as (AnyDefinition & Record<string, unknown>) | undefined;
      if (candidate === undefined || candidate === null || candidate[MODULE_MARK] !== true) {
        const err = new Error(`module ${moduleName} must \`export default defineModule({...})\` (import { defineModule } from "fixpoint")`);
        err.name = "NotAModule";
        throw err;
      }
      definition = candidate;
      version = typeof candidate.version === "string" ? candidate.version : "0";
      // Limits are checked by the host (module-isolate.ts); only plain data crosses.
      const limits = candidate.limits === undefined ? undefined : JSON.parse(JSON.stringify(candidate.limits)) as unknown;
      return { version, functions: Object.keys(candidate.functions ?? {}), http: typeof candidate.http === "function", health: typeof candidate.health === "function", migrate: typeof candidate.migrate === "function", limits };
    },
    /** Sets the state: migrated from the previous version's, or the initial one. */
    init(previous: { packed: PackedState; version: string } | null, migrate: boolean): void {
      const def = definition!;
      if (previous === null) {
        ctx.state = typeof def.state === "function" ? (def.state as () => unknown)() : def.state;
      } else {
        const state = unpack(previous.packed);
        ctx.state = !migrate || def.migrate === undefined ? state : def.migrate(state, previous.version);
      }
    },
    call(name: string, args: unknown[]): unknown {
      return fn(name)(ctx, ...args);
    },
    /**
     * The state as it leaves the isolate: JSON text when it is plain data, its text fits in
     * `maxChars` and proving it plain takes under `checkMs` (see plain-data.ts), else the state
     * itself for a structured copy, or, when even its characters pass `maxBytes`, only how many
     * there are (nothing built).
     */
    exportState(maxChars: number, maxBytes: number, checkMs: number): PackedState | { tooLarge: number } {
      const state = ctx.state;
      const check = checkPlain(state, Math.max(maxChars, maxBytes), Date.now() + checkMs);
      if (check.chars > maxBytes) return { tooLarge: check.chars };
      if (!check.plain || check.chars > maxChars) return { value: state };
      let json: string;
      try {
        json = JSON.stringify(state);
      } catch {
        // Deeper than JSON.stringify recurses, or a getter that throws: the structured copy says what it makes of it.
        return { value: state };
      }
      return json.length > maxChars ? { value: state } : { json };
    },
    /**
     * Runs the paths a request takes once, while the isolate is still a spare: V8 compiles a
     * function on its first call, and in a fresh isolate the first request would otherwise pay
     * for compiling URL parsing, Headers, Request and Response (measured: 6 ms, against 0.6 ms
     * for the next one) on the save-to-live path.
     */
    warm(): void {
      const request = new Request("http://localhost:8080/warm/up?x=1#f", { method: "POST", headers: [["content-type", "text/plain"], ["accept", "*/*"]], body: new Uint8Array([104, 105]) });
      void request.headers.get("accept");
      void new URL(request.url).searchParams.get("x");
      void request.text();
      wireResponse(new Response("warm " + JSON.stringify({ a: 1 }), { status: 201, headers: { "content-type": "text/plain; charset=utf-8" } }));
      wireResponse(Response.json({ warm: true }));
      void new TextDecoder().decode(new TextEncoder().encode("warm"));
    },
    /**
     * Runs the http handler. A Response returned at once (the usual case) is answered at once,
     * so the host can run this synchronously without waiting on the isolate's thread; a
     * promise is parked under an id for httpWait.
     */
    httpNow(wire: WireRequest): WireResponse | { pending: number } {
      const handler = definition?.http;
      if (handler === undefined) return { status: 404, statusText: "Not Found", headers: [["content-type", "text/plain"]], body: new TextEncoder().encode(`module ${moduleName} has no http handler\n`) };
      const init: RequestInit = { method: wire.method, headers: wire.headers };
      if (wire.body !== null && wire.method !== "GET" && wire.method !== "HEAD") init.body = wire.body;
      const result = handler(new Request(wire.url, init), ctx);
      if (result instanceof Response) return wireResponse(result);
      const id = nextHttp++;
      pendingHttp.set(id, Promise.resolve(result));
      return { pending: id };
    },
    async httpWait(id: number): Promise<WireResponse> {
      const pending = pendingHttp.get(id);
      pendingHttp.delete(id);
      if (pending === undefined) throw new Error(`no http handler is pending under ${id}`);
      return wireResponse(await pending);
    },
    async health(): Promise<{ ok: boolean; detail?: string }> {
      const check = definition?.health;
      if (check === undefined) return { ok: true };
      const result = await check(ctx);
      if (typeof result === "boolean") return { ok: result };
      return result.detail === undefined ? { ok: result.ok === true } : { ok: result.ok === true, detail: String(result.detail) };
    },
    /**
     * Runs the callbacks of a batch of due timers (runtime/host/module-timers.ts), in order,
     * until `budgetMs` has passed: the rest are handed back, so that one module's timers never
     * hold its isolate (and the calls waiting for it) for long. One callback's throw does not
     * stop the others.
     */
    fire(ids: number[], budgetMs: number): Fired {
      const started = Date.now();
      const fired: Fired = { unrun: [], errors: [], failed: 0 };
      for (let i = 0; i < ids.length; i++) {
        if (i > 0 && Date.now() - started >= budgetMs) {
          fired.unrun = ids.slice(i);
          break;
        }
        const timer = timers.get(ids[i]!);
        if (timer === undefined) continue;
        if (!timer.repeat) timers.delete(ids[i]!);
        try {
          timer.fn(...timer.args);
        } catch (err) {
          if (fired.failed++ < FIRE_ERRORS_KEPT) fired.errors.push(thrown(err));
        }
      }
      return fired;
    },
  };

  function thrown(err: unknown): ThrownData {
    if (err instanceof Error) {
      const data: ThrownData = { name: String(err.name), message: String(err.message), stack: typeof err.stack === "string" ? err.stack : undefined };
      if (nodeErrors.has(err)) data.code = String((err as { code?: unknown }).code);
      return data;
    }
    let message: string;
    try {
      message = String(err);
    } catch {
      message = "a value that cannot be shown";
    }
    return { name: "Error", message, stack: undefined };
  }
  const settle = (id: number, ok: boolean, value: unknown) => {
    try {
      host.settle.applyIgnored(undefined, [id, ok, ok ? value : thrown(value)], { arguments: { copy: true } });
    } catch (err) {
      // The result cannot be copied out (a function, say): the caller gets why instead.
      host.settle.applyIgnored(undefined, [id, false, thrown(err)], { arguments: { copy: true } });
    }
  };
  // Never settles, and stays reachable from `watch` for the isolate's life (see watch).
  const forever = new Promise<never>(() => {});

  return {
    ...api,
    /**
     * Runs `api[method]` for the host. Why not isolated-vm's `result: { promise: true }`: each
     * such call leaves a promise holder in this isolate that only this isolate's garbage
     * collector frees, and with it the copy of the result; an isolate that allocates little
     * never collects, so the runtime's memory grew ~2.8 KiB per call (and by the size of every
     * result) for good. Here a result comes back as the copied return value, and a promise's
     * outcome through the host's settle function, copied and freed as soon as it is delivered.
     */
    invoke(id: number, method: string, args: unknown[]): Invoked {
      const f: unknown = method === "invoke" || method === "watch" || !Object.hasOwn(api, method) ? undefined : (api as Record<string, unknown>)[method];
      if (typeof f !== "function") throw new Error(`the harness has no method "${method}"`);
      let result: unknown;
      try {
        result = f(...args);
      } catch (err) {
        return { state: "threw", error: thrown(err) };
      }
      if (typeof (result as { then?: unknown } | null)?.then !== "function") return { state: "done", value: result };
      Promise.resolve(result).then(
        (value) => settle(id, true, value),
        (err: unknown) => settle(id, false, err),
      );
      return { state: "pending" };
    },
    /**
     * A promise that never settles, awaited by the host with `result: { promise: true }` once per
     * isolate: isolated-vm rejects it when it disposes the isolate at the memory limit, which is
     * how the host learns to fail the calls still waiting for settle.
     */
    watch(): Promise<never> {
      return forever;
    },
  };
}

export type Harness = ReturnType<typeof boot>;

(globalThis as Record<string, unknown>)["__fixpoint_boot"] = boot;
