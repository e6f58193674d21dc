/**
 * REPL sessions in the runtime (issue 6). Each session (one client connection; the loader names
 * it) gets a scratch isolate of its own on its first evaluation — a module-less isolate with
 * the node's memory and CPU limits, console, timers and `call` — so two sessions never see each
 * other's variables. With a module, the input runs in that module's live isolate instead.
 *
 * A scratch isolate lives until the loader drops the session (its connection closed), which
 * disposes it even mid-evaluation. One that hits the memory limit is gone: the next input
 * starts a fresh one. A timeout stops only that input; the session keeps its variables.
 */
import { FixpointError, toFixpointError } from "../../loader/protocol/errors.js";
import type { ReplCompletion, ReplEvalResult } from "../../loader/protocol/runtime-ipc.js";
import type { LogLevel } from "../../loader/protocol/log.js";
import { MODULE_MARK } from "../api.js";
import { SCRATCH_MARK } from "../isolate/repl.js";
import { ModuleIsolate, type IsolateLimits } from "../host/module-isolate.js";
import type { ModuleTable } from "../swap/module-table.js";
import { toReplScript } from "./transform.js";

type Level = LogLevel;

export interface ReplHooks {
  /** Console output for a session. */
  output(session: string, level: Level, text: string): void;
  /** V8 lost control of a scratch isolate: the process must end (see IsolateHooks.onDead). */
  fatal(session: string, reason: FixpointError): void;
}

/** What a scratch isolate runs as its "module": a definition with nothing in it. */
const SCRATCH_CODE = `var __fixpoint_module = { default: { ${JSON.stringify(MODULE_MARK)}: true, ${JSON.stringify(SCRATCH_MARK)}: true, version: "repl" } };`;

interface Scratch {
  isolate: Promise<ModuleIsolate>;
  /** Top-level names its inputs declared (global `let`s are not properties, so completion is told). */
  declared: Set<string>;
}

export class ReplSessions {
  private readonly scratch = new Map<string, Scratch>();
  /** Names declared per "session/module", for completion in a module. */
  private readonly moduleDeclared = new Map<string, Set<string>>();
  /** Sessions evaluating in each module right now: they see its console output. */
  private readonly watching = new Map<string, Map<string, number>>();
  private inputs = 0;

  constructor(
    private readonly table: ModuleTable,
    private readonly limits: IsolateLimits,
    private readonly hooks: ReplHooks,
  ) {}

  async evaluate(request: { session: string; module?: string; source: string; colors: boolean }): Promise<ReplEvalResult> {
    const script = toReplScript(request.source);
    // Named like node's REPL inputs, so a stack reads "at REPL3:1:7".
    const options = { filename: `REPL${++this.inputs}`, awaited: script.awaited, colors: request.colors };
    const { session, module } = request;
    if (module !== undefined) {
      const declared = this.declaredIn(session, module);
      this.watch(module, session, +1);
      try {
        const result = await this.table.withModule(module, (isolate) => isolate.evaluate(script.code, options));
        for (const name of script.declared) declared.add(name);
        return result;
      } finally {
        this.watch(module, session, -1);
      }
    }
    const scratch = this.scratchOf(session);
    try {
      const result = await (await scratch.isolate).evaluate(script.code, options);
      for (const name of script.declared) scratch.declared.add(name);
      return result;
    } catch (err) {
      throw this.scratchError(toFixpointError(err));
    }
  }

  async complete(request: { session: string; module?: string; source: string }): Promise<ReplCompletion> {
    const { session, module } = request;
    if (module !== undefined) {
      const declared = [...this.declaredIn(session, module)];
      return this.table.withModule(module, (isolate) => isolate.complete(request.source, declared));
    }
    const scratch = this.scratchOf(session);
    return (await scratch.isolate).complete(request.source, [...scratch.declared]);
  }

  /** Forgets a session; disposes its scratch isolate, stopping what runs in it. True if it had one. */
  drop(session: string): boolean {
    for (const key of [...this.moduleDeclared.keys()]) if (key.startsWith(`${session}/`)) this.moduleDeclared.delete(key);
    const scratch = this.scratch.get(session);
    if (scratch === undefined) return false;
    this.scratch.delete(session);
    scratch.isolate.then(
      (isolate) => isolate.dispose(),
      () => {},
    );
    return true;
  }

  /** A module's console output: also to the sessions evaluating in it at the moment. */
  moduleOutput(module: string, level: Level, text: string): void {
    for (const session of this.watching.get(module)?.keys() ?? []) this.hooks.output(session, level, text);
  }

  dispose(): void {
    for (const session of [...this.scratch.keys()]) this.drop(session);
  }

  private declaredIn(session: string, module: string): Set<string> {
    const key = `${session}/${module}`;
    let set = this.moduleDeclared.get(key);
    if (set === undefined) this.moduleDeclared.set(key, (set = new Set()));
    return set;
  }

  private watch(module: string, session: string, delta: 1 | -1): void {
    const sessions = this.watching.get(module) ?? new Map<string, number>();
    const count = (sessions.get(session) ?? 0) + delta;
    if (count > 0) sessions.set(session, count);
    else sessions.delete(session);
    if (sessions.size > 0) this.watching.set(module, sessions);
    else this.watching.delete(module);
  }

  private scratchOf(session: string): Scratch {
    const existing = this.scratch.get(session);
    if (existing !== undefined) return existing;
    const entry: Scratch = {
      isolate: ModuleIsolate.create(`repl-${session}`, SCRATCH_CODE, "", this.limits, {
        log: (level, text) => this.hooks.output(session, level, text),
        call: (module, fn, args) => this.table.call(module, fn, args),
        onDead: (reason, fatal = false) => {
          if (this.scratch.get(session) === entry) this.scratch.delete(session);
          if (fatal) this.hooks.fatal(session, reason);
        },
      }),
      declared: new Set(),
    };
    entry.isolate.catch(() => {
      if (this.scratch.get(session) === entry) this.scratch.delete(session);
    });
    this.scratch.set(session, entry);
    return entry;
  }

  /** Limit errors say what became of the session, not of a "module repl-c1". */
  private scratchError(e: FixpointError): FixpointError {
    if (e.code === "MODULE_MEMORY_LIMIT") {
      return new FixpointError("MODULE_MEMORY_LIMIT", `the evaluation went past the node's memory limit (${this.limits.memoryMb} MB per isolate) and its scratch context was stopped; the next input starts a fresh one (earlier variables are gone)`);
    }
    if (e.code === "MODULE_TIMEOUT") {
      const what = /did not settle/.test(e.message) ? `did not settle within the node's async limit (${this.limits.asyncMs} ms)` : `ran past the node's CPU limit (${this.limits.cpuMs} ms)`;
      return new FixpointError("MODULE_TIMEOUT", `the evaluation ${what} and was stopped; the session goes on with its variables`);
    }
    return e;
  }
}
