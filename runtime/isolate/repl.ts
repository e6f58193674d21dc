/**
 * The REPL's half inside an isolate (issue 6), joined to the harness: the host compiles and
 * runs each input as a global script in the isolate's context (so `let`/`const` persist between
 * inputs, as in node's REPL), then hands the script's value to `replSettle`, which awaits it if
 * the input used top-level await, remembers it as `_` and inspects it into text here, where it
 * lives. `replComplete` lists names for tab completion without running the user's input.
 *
 * In a module's isolate the first evaluation puts the module's scope on the global object, unless
 * a global of that name exists: `state` (read and assign), `ctx`, `functions`, `call`, and each
 * exported function bound to the context (`hit(2)` runs `functions.hit(ctx, 2)`).
 */
import type { ModuleContext, ModuleFunction } from "../api.js";
import { inspect } from "./inspect.js";

export interface ReplOutcome {
  threw: boolean;
  text: string;
}

const KEYWORDS = [
  "await", "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do", "else", "export", "extends",
  "false", "finally", "for", "function", "if", "import", "in", "instanceof", "let", "new", "null", "return", "super", "switch", "this",
  "throw", "true", "try", "typeof", "undefined", "var", "void", "while", "with", "yield", "async", "of",
];
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const MAX_CANDIDATES = 2000;

/** Every property name of `value` and its prototypes. */
function namesOf(value: unknown): Set<string> {
  const names = new Set<string>();
  let object: unknown = value === null || value === undefined ? null : Object(value);
  for (let depth = 0; object !== null && depth < 32; depth++) {
    for (const name of Object.getOwnPropertyNames(object)) names.add(name);
    object = Object.getPrototypeOf(object);
  }
  return names;
}

/** Marks the definition a REPL scratch isolate runs: it gets `call`, but no module scope. */
export const SCRATCH_MARK = "fixpoint.repl-scratch/1";

/** What the harness knows of its module once attached. */
export interface ReplScope {
  ctx: ModuleContext<unknown>;
  functions: Record<string, ModuleFunction<unknown>>;
  scratch: boolean;
}

/** The REPL entries of the harness; `scope` gives the module's context once it is attached. */
export function replEntries(scope: () => ReplScope | null) {
  const g = globalThis as Record<string, unknown>;
  let installed = false;

  const install = () => {
    const current = scope();
    if (installed || current === null) return;
    installed = true;
    const { ctx, functions } = current;
    const define = (name: string, descriptor: PropertyDescriptor) => {
      if (!(name in g)) Object.defineProperty(g, name, { configurable: true, enumerable: false, ...descriptor });
    };
    define("call", { value: ctx.call, writable: true });
    if (current.scratch) return;
    const bound: Record<string, (...args: unknown[]) => unknown> = {};
    for (const [name, fn] of Object.entries(functions)) {
      if (typeof fn !== "function") continue;
      bound[name] = (...args: unknown[]) => fn(ctx, ...args);
      Object.defineProperty(bound[name], "name", { value: name });
    }
    define("state", { get: () => ctx.state, set: (value: unknown) => (ctx.state = value) });
    define("ctx", { value: ctx, writable: true });
    define("functions", { value: bound, writable: true });
    for (const [name, fn] of Object.entries(bound)) if (IDENTIFIER.test(name)) define(name, { value: fn, writable: true });
  };

  return {
    /** Makes the module's scope visible to the next script (idempotent). */
    replPrepare(): void {
      install();
    },

    /** Awaits the script's value if it is the top-level-await wrapper's promise, keeps it as `_`, inspects it. */
    async replSettle(value: unknown, awaited: boolean, colors: boolean): Promise<ReplOutcome> {
      let result = value;
      try {
        if (awaited) result = await (value as Promise<unknown>);
      } catch (err) {
        g["_error"] = err;
        return { threw: true, text: inspect(err, { colors }) };
      }
      g["_"] = result;
      return { threw: false, text: inspect(result, { colors }) };
    },

    /**
     * Candidates for the word before the cursor. `a.b.pre` lists the properties of `a.b` that
     * start with "pre" (reading `a` and `.b`, which may run a getter, never calling anything);
     * a bare word lists globals, `declared` (the session's top-level let/const/class names,
     * which are not properties of the global object) and keywords.
     */
    replComplete(line: string, declared: string[]): { candidates: string[]; prefix: string } {
      const match = /(^|[^\w$.\])'"`])((?:[A-Za-z_$][\w$]*\s*\??\.\s*)*)([A-Za-z_$][\w$]*)?$/.exec(line);
      if (match === null) return { candidates: [], prefix: "" };
      const path = (match[2] ?? "").split(/\s*\??\.\s*/).filter((p) => p !== "");
      const prefix = match[3] ?? "";
      let names: Set<string>;
      if (path.length === 0) {
        names = namesOf(g);
        for (const name of [...declared, ...KEYWORDS]) names.add(name);
      } else {
        let value: unknown;
        try {
          const [first, ...rest] = path;
          // Indirect eval of a checked identifier reads a global `let` as well as a property.
          value = first! in g ? g[first!] : (0, eval)(first!);
          for (const key of rest) value = (value as Record<string, unknown>)[key];
        } catch {
          return { candidates: [], prefix };
        }
        names = namesOf(value);
      }
      const candidates = [...names].filter((n) => n.startsWith(prefix) && IDENTIFIER.test(n) && !n.startsWith("__fixpoint")).sort();
      return { candidates: candidates.slice(0, MAX_CANDIDATES), prefix };
    },
  };
}
