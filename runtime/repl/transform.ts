/**
 * Turns one REPL input into the script the isolate runs (issue 6), the way node's REPL does:
 *
 * - Input that is a global script already runs as it is. V8 keeps a script's top-level
 *   `let`/`const`/`class` in the context's global lexical scope, so they persist to the next
 *   input with no rewriting (and a second `let x` is V8's own "already declared" error, as in node).
 * - `{ a: 1 }` is an object, not a block: wrapped in parentheses when that parses.
 * - Input with top-level `await` cannot be a script, so it becomes an async arrow whose promise
 *   is the script's value, with its top-level declarations hoisted out of it so they persist
 *   (`const` becomes `let`, as node's REPL does), and its last expression statement returned.
 *
 * Parsing is acorn's (what node's REPL uses). Input acorn cannot parse is passed through as it
 * is, so that V8 reports the syntax error with its own message and position.
 */
import { parse, type Node, type Pattern, type Program } from "acorn";

export interface ReplScript {
  /** The script to compile and run. */
  code: string;
  /** True when the script's value is a promise of the input's value (top-level await). */
  awaited: boolean;
  /** Names the input declares at top level (for completion: global lexical names are not properties). */
  declared: string[];
}

const OPTIONS = { ecmaVersion: "latest", sourceType: "script", allowAwaitOutsideFunction: true } as const;

function tryParse(source: string): Program | null {
  try {
    return parse(source, OPTIONS);
  } catch {
    return null;
  }
}

/** The identifiers a binding pattern declares: `{ a, b: [c, ...d] = e }` → a, c, d. */
export function patternNames(pattern: Pattern): string[] {
  switch (pattern.type) {
    case "Identifier":
      return [pattern.name];
    case "ObjectPattern":
      return pattern.properties.flatMap((p) => (p.type === "RestElement" ? patternNames(p.argument) : patternNames(p.value)));
    case "ArrayPattern":
      return pattern.elements.flatMap((e) => (e === null ? [] : patternNames(e)));
    case "AssignmentPattern":
      return patternNames(pattern.left);
    case "RestElement":
      return patternNames(pattern.argument);
    default:
      return []; // MemberExpression: not a declaration
  }
}

function declaredNames(program: Program): string[] {
  return program.body.flatMap((statement) => {
    if (statement.type === "VariableDeclaration") return statement.declarations.flatMap((d) => patternNames(d.id));
    if ((statement.type === "FunctionDeclaration" || statement.type === "ClassDeclaration") && statement.id !== null) return [statement.id.name];
    return [];
  });
}

const FUNCTIONS = new Set(["FunctionDeclaration", "FunctionExpression", "ArrowFunctionExpression"]);

/** Whether `node` awaits outside any function of its own (top-level await or `for await`). */
function awaitsAtTopLevel(node: unknown): boolean {
  if (typeof node !== "object" || node === null) return false;
  if (Array.isArray(node)) return node.some(awaitsAtTopLevel);
  const n = node as Node & Record<string, unknown>;
  if (typeof n.type !== "string") return false;
  if (FUNCTIONS.has(n.type)) return false;
  if (n.type === "AwaitExpression" || (n.type === "ForOfStatement" && n["await"] === true)) return true;
  for (const key of Object.keys(n)) {
    if (key === "type" || key === "start" || key === "end" || key === "loc" || key === "range") continue;
    if (awaitsAtTopLevel(n[key])) return true;
  }
  return false;
}

/** The async wrapper for input with top-level await (see the file comment). */
function wrapAwait(source: string, program: Program): string {
  const text = (node: Node) => source.slice(node.start, node.end);
  const hoisted: string[] = [];
  const functions: string[] = [];
  const body: string[] = [];
  program.body.forEach((statement, i) => {
    const last = i === program.body.length - 1;
    switch (statement.type) {
      case "VariableDeclaration": {
        const names = statement.declarations.flatMap((d) => patternNames(d.id));
        if (names.length > 0) hoisted.push(`${statement.kind === "var" ? "var" : "let"} ${names.join(", ")};`);
        const assignments = statement.declarations.flatMap((d) => (d.init === null || d.init === undefined ? [] : [`(${text(d.id)} = ${text(d.init)})`]));
        if (assignments.length > 0) body.push(`void (${assignments.join(", ")});`);
        return;
      }
      case "FunctionDeclaration":
        // Hoisted to the top of the body, as a function declaration would be.
        hoisted.push(`var ${statement.id.name};`);
        functions.push(`${statement.id.name} = ${text(statement)};`);
        return;
      case "ClassDeclaration":
        hoisted.push(`let ${statement.id.name};`);
        body.push(`${statement.id.name} = ${text(statement)};`);
        return;
      case "ExpressionStatement":
        // On its own lines: a trailing `// comment` must not swallow the closing parenthesis.
        body.push(last ? `return (\n${text(statement.expression)}\n);` : text(statement));
        return;
      default:
        body.push(text(statement));
    }
  });
  return `${hoisted.join(" ")}\n(async () => {\n${[...functions, ...body].join("\n")}\n})()`;
}

/**
 * The script for one REPL input.
 *
 * @example
 * toReplScript("const x = await f(); x + 1").code
 * // "let x;\n(async () => {\nvoid ((x = await f()));\nreturn (\nx + 1\n);\n})()"
 */
export function toReplScript(source: string): ReplScript {
  // node's REPL rule: input that starts with "{" and ends with "}" is first tried as an object.
  if (/^\s*\{/.test(source) && /\}\s*;?\s*$/.test(source)) {
    const wrapped = `(${source.replace(/;\s*$/, "")})`;
    const program = tryParse(wrapped);
    if (program !== null && program.body.length === 1 && program.body[0]!.type === "ExpressionStatement") {
      return awaitsAtTopLevel(program) ? { code: wrapAwait(wrapped, program), awaited: true, declared: [] } : { code: wrapped, awaited: false, declared: [] };
    }
  }
  const program = tryParse(source);
  if (program === null) return { code: source, awaited: false, declared: [] };
  const declared = declaredNames(program);
  if (!awaitsAtTopLevel(program)) return { code: source, awaited: false, declared };
  return { code: wrapAwait(source, program), awaited: true, declared };
}
