/**
 * Deciding when REPL input is complete, as node's REPL does: input whose only syntax error is
 * that it ends too soon (`function f() {`, `foo(`, an open template literal or comment)
 * continues on the next line; any other error is sent to the node, which reports it with its
 * position. Parsing is acorn's, as in node's REPL; nothing is evaluated here.
 */
import { parse } from "acorn";

const OPTIONS = { ecmaVersion: "latest", sourceType: "script", allowAwaitOutsideFunction: true } as const;

/** True when `source` is unfinished: it would parse if more lines came. */
export function isUnfinished(source: string): boolean {
  // `{ a: 1` continues as an object does; `{ a: 1 }` parses (as a block, or as an object on the node).
  try {
    parse(source, OPTIONS);
    return false;
  } catch (err) {
    // `pos` is where the offending token starts: at the end of the input, the input ended too soon.
    const e = err as SyntaxError & { pos?: number };
    if (/^Unterminated (template|comment)/.test(e.message)) return true;
    // A string or a regular expression left open is a mistake, not a continuation (node agrees).
    if (/^Unterminated (string|regular expression)/.test(e.message)) return false;
    return typeof e.pos === "number" && e.pos >= source.trimEnd().length;
  }
}

/** One unit of non-interactive input: code to evaluate, or a dot-command line. */
export type Group = { kind: "code"; source: string } | { kind: "command"; line: string };

/**
 * Splits piped input into what to evaluate, in order: lines accumulate until they form a complete
 * input; a line starting with "." between inputs is a dot-command. What is left unfinished at
 * the end is sent as it is, so the node reports its syntax error.
 */
export function groupInput(text: string): Group[] {
  const groups: Group[] = [];
  let buffer = "";
  for (const line of text.split(/\r?\n/)) {
    if (buffer === "" && line.trim() === "") continue;
    if (buffer === "" && /^\s*\.[a-z]/.test(line)) {
      groups.push({ kind: "command", line: line.trim() });
      continue;
    }
    buffer = buffer === "" ? line : `${buffer}\n${line}`;
    if (!isUnfinished(buffer)) {
      groups.push({ kind: "code", source: buffer });
      buffer = "";
    }
  }
  if (buffer.trim() !== "") groups.push({ kind: "code", source: buffer });
  return groups;
}
