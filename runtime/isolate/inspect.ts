/**
 * Turns any value into text, inside the isolate: what the REPL shows for a result (issue 6).
 * Inspecting where the value lives means nothing has to be copied out, so a function, a cyclic
 * graph, a class instance or a huge array comes back as a description, never a copy error.
 *
 * The output follows node's util.inspect closely enough to read the same (`{ a: 1 }`,
 * `[Function: f]`, `Map(1) { 'k' => 1 }`, `[Circular]`), within fixed limits: depth, items per
 * collection, string length and total length are bounded, so the text stays small whatever the
 * value. Getters are shown, never called; a Proxy's traps may still run, under the CPU limit.
 */

export interface InspectOptions {
  /** ANSI colours, as node's REPL uses them. */
  colors: boolean;
  /** Nesting shown before `[Object]`. Default 2, like node. */
  depth?: number;
}

const MAX_ITEMS = 100;
const MAX_STRING = 10_000;
const MAX_TOTAL = 256 * 1024;
const BREAK_LENGTH = 72;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

type StyleName = "number" | "string" | "undefined" | "null" | "symbol" | "special" | "date" | "regexp" | "name";
const COLOURS: Record<StyleName, [number, number]> = {
  number: [33, 39],
  string: [32, 39],
  undefined: [90, 39],
  null: [1, 22],
  symbol: [32, 39],
  special: [36, 39],
  date: [35, 39],
  regexp: [31, 39],
  name: [0, 0],
};

interface State {
  colors: boolean;
  depth: number;
  seen: object[];
  /** Characters of leaves produced so far: past MAX_TOTAL the rest is elided, not formatted. */
  used: number;
}

function paint(state: State, text: string, style: StyleName): string {
  state.used += text.length;
  const [open, close] = COLOURS[style];
  return state.colors && open !== 0 ? `\x1b[${open}m${text}\x1b[${close}m` : text;
}

function quote(text: string): string {
  const body = text.length > MAX_STRING ? text.slice(0, MAX_STRING) : text;
  const q = !body.includes("'") ? "'" : !body.includes('"') ? '"' : !body.includes("`") ? "`" : "'";
  const escaped = body.replace(/[\\\n\r\t\b\f\v\0]/g, (c) => ({ "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f", "\v": "\\v", "\0": "\\0" })[c]!);
  const out = q + (q === "'" && body.includes("'") ? escaped.replace(/'/g, "\\'") : escaped) + q;
  return text.length > MAX_STRING ? `${out}... ${text.length - MAX_STRING} more characters` : out;
}

function keyText(key: string | symbol): string {
  if (typeof key === "symbol") return `[${key.toString()}]`;
  return IDENTIFIER.test(key) ? key : quote(key);
}

function functionText(state: State, fn: Function): string {
  let source = "";
  try {
    source = Function.prototype.toString.call(fn);
  } catch {
    // a revoked proxy or the like
  }
  const name = typeof fn.name === "string" && fn.name !== "" ? fn.name : "";
  if (source.startsWith("class")) return paint(state, name === "" ? "[class (anonymous)]" : `[class ${name}]`, "special");
  const kind = source.startsWith("async function*") || source.startsWith("async *") ? "AsyncGeneratorFunction" : source.startsWith("async") ? "AsyncFunction" : /^function\s*\*/.test(source) ? "GeneratorFunction" : "Function";
  return paint(state, name === "" ? `[${kind} (anonymous)]` : `[${kind}: ${name}]`, "special");
}

function constructorName(value: object): string | null {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === null) return null;
  const descriptor = Object.getOwnPropertyDescriptor(proto, "constructor");
  const ctor: unknown = descriptor?.value;
  return typeof ctor === "function" && typeof ctor.name === "string" && ctor.name !== "" ? ctor.name : "Object";
}

/** Joins entries on one line if they fit, else one per line, indented. */
function wrap(open: string, entries: string[], close: string, indent: string): string {
  if (entries.length === 0) return `${open}${close}`;
  const oneLine = `${open} ${entries.join(", ")} ${close}`;
  if (oneLine.length + indent.length <= BREAK_LENGTH && !oneLine.includes("\n")) return oneLine;
  const inner = indent + "  ";
  // Many short items (numbers, short strings) are packed into rows, as node does, not one per line.
  if (entries.length > 6 && entries.every((e) => (e.length <= 16 || e.startsWith("... ")) && !e.includes("\n"))) {
    const rows: string[] = [];
    let row = "";
    for (const e of entries) {
      if (row !== "" && inner.length + row.length + e.length + 2 > BREAK_LENGTH + 4) {
        rows.push(row);
        row = "";
      }
      row += row === "" ? e : `, ${e}`;
    }
    rows.push(row);
    return `${open}\n${rows.map((r) => inner + r).join(",\n")}\n${indent}${close}`;
  }
  return `${open}\n${entries.map((e) => inner + e.replace(/\n/g, "\n" + inner)).join(",\n")}\n${indent}${close}`;
}

function propertyEntries(state: State, value: object, level: number, skipIndices: boolean): string[] {
  const out: string[] = [];
  const keys: (string | symbol)[] = Reflect.ownKeys(value);
  let shown = 0;
  for (const key of keys) {
    if (skipIndices && typeof key === "string" && /^(0|[1-9]\d*)$/.test(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (descriptor === undefined || descriptor.enumerable !== true) continue;
    if (++shown > MAX_ITEMS) {
      out.push(`... more properties`);
      break;
    }
    const shownValue =
      descriptor.get !== undefined || descriptor.set !== undefined
        ? paint(state, descriptor.get !== undefined && descriptor.set !== undefined ? "[Getter/Setter]" : descriptor.get !== undefined ? "[Getter]" : "[Setter]", "special")
        : format(state, descriptor.value, level + 1);
    out.push(`${keyText(key)}: ${shownValue}`);
  }
  return out;
}

function format(state: State, value: unknown, level: number): string {
  if (state.used > MAX_TOTAL) return "...";
  switch (typeof value) {
    case "string":
      return paint(state, quote(value), "string");
    case "number":
      return paint(state, Object.is(value, -0) ? "-0" : String(value), "number");
    case "bigint":
      return paint(state, `${value}n`, "number");
    case "boolean":
      return paint(state, String(value), "number");
    case "undefined":
      return paint(state, "undefined", "undefined");
    case "symbol":
      return paint(state, value.toString(), "symbol");
    case "function":
      return functionText(state, value);
    default:
      break;
  }
  if (value === null) return paint(state, "null", "null");
  const object = value as object;
  if (state.seen.includes(object)) return paint(state, "[Circular]", "special");
  const indent = "  ".repeat(level);
  if (object instanceof Error) {
    const stack = typeof object.stack === "string" && object.stack !== "" ? object.stack : `${object.name}: ${object.message}`;
    return level === 0 ? stack : `[${stack.split("\n")[0]}]`;
  }
  if (object instanceof Date) return paint(state, Number.isNaN(object.getTime()) ? "Invalid Date" : object.toISOString(), "date");
  if (object instanceof RegExp) return paint(state, String(object), "regexp");
  if (object instanceof Promise) return `Promise { ${paint(state, "<unknown state>", "special")} }`;
  if (object instanceof WeakMap || object instanceof WeakSet) return `${constructorName(object)} { ${paint(state, "<items unknown>", "special")} }`;
  if (object instanceof ArrayBuffer) return `ArrayBuffer { byteLength: ${paint(state, String(object.byteLength), "number")} }`;
  const name = constructorName(object);
  if (level > state.depth) return paint(state, Array.isArray(object) ? "[Array]" : `[${name ?? "Object: null prototype"}]`, "special");
  state.seen.push(object);
  try {
    if (Array.isArray(object) || ArrayBuffer.isView(object)) {
      const list = object as unknown as ArrayLike<unknown>;
      const items: string[] = [];
      const shown = Math.min(list.length, MAX_ITEMS);
      for (let i = 0; i < shown; i++) items.push(Array.isArray(object) && !(i in object) ? paint(state, "<empty item>", "undefined") : format(state, list[i], level + 1));
      if (list.length > shown) items.push(`... ${list.length - shown} more item${list.length - shown === 1 ? "" : "s"}`);
      // Extra (non-index) properties only on small arrays: listing a million keys to find none is too slow.
      if (Array.isArray(object) && list.length <= MAX_ITEMS * 10) items.push(...propertyEntries(state, object, level, true));
      const prefix = Array.isArray(object) ? (name === "Array" ? "" : `${name ?? "[Array: null prototype]"}(${list.length}) `) : `${name}(${list.length}) `;
      return prefix + wrap("[", items, "]", indent);
    }
    if (object instanceof Map) {
      const items: string[] = [];
      for (const [k, v] of object) {
        if (items.length === MAX_ITEMS) {
          items.push(`... ${object.size - MAX_ITEMS} more items`);
          break;
        }
        items.push(`${format(state, k, level + 1)} => ${format(state, v, level + 1)}`);
      }
      return `${name}(${object.size}) ` + wrap("{", items, "}", indent);
    }
    if (object instanceof Set) {
      const items: string[] = [];
      for (const v of object) {
        if (items.length === MAX_ITEMS) {
          items.push(`... ${object.size - MAX_ITEMS} more items`);
          break;
        }
        items.push(format(state, v, level + 1));
      }
      return `${name}(${object.size}) ` + wrap("{", items, "}", indent);
    }
    const entries = propertyEntries(state, object, level, false);
    const prefix = name === null ? "[Object: null prototype] " : name === "Object" ? "" : `${name} `;
    return prefix + wrap("{", entries, "}", indent);
  } finally {
    state.seen.pop();
  }
}

/**
 * Describes `value` as node's REPL would show it.
 *
 * @example
 * inspect({ a: [1, 2], f() {} }, { colors: false }) // "{ a: [ 1, 2 ], f: [Function: f] }"
 */
export function inspect(value: unknown, options: InspectOptions): string {
  const state: State = { colors: options.colors, depth: options.depth ?? 2, seen: [], used: 0 };
  let text: string;
  try {
    text = format(state, value, 0);
  } catch (err) {
    // A Proxy trap or a hostile toString threw: say so rather than fail the evaluation.
    text = `[value could not be inspected: ${err instanceof Error ? err.message : String(err)}]`;
  }
  return text.length > MAX_TOTAL ? `${text.slice(0, MAX_TOTAL)}\n... (${text.length - MAX_TOTAL} more characters)` : text;
}
