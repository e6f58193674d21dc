/** How the REPL shows what came back: results, throws with their position, coded errors, console output. */
import type { FixpointError, ResultOf } from "../../loader/index.js";
import type { Style } from "../ui/output.js";

/** Whether `stream` gets colours: a terminal, without NO_COLOR, not TERM=dumb (as styleFor decides). */
export function colorsOn(stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && process.env["NO_COLOR"] === undefined && process.env["TERM"] !== "dumb";
}

/**
 * An evaluation's outcome as lines to print. A syntax error shows the input line with a caret
 * under the column, as node's REPL does; a throw is "Uncaught …".
 */
export function renderResult(style: Style, source: string, result: ResultOf<"eval">): string {
  if (!result.threw) return result.text;
  let where = "";
  if (result.location !== undefined) {
    const line = source.split("\n")[result.location.line - 1];
    if (line !== undefined) where = `${line}\n${" ".repeat(Math.max(0, result.location.column - 1))}^\n`;
  }
  return `${where}${style.red("Uncaught")} ${result.text}`;
}

export function renderError(style: Style, error: FixpointError): string {
  return `${style.red("error")} ${style.bold(error.code)}: ${error.message}`;
}

/** Console output of the node's code: warnings and errors marked on a terminal, the rest as printed. */
export function renderOutput(style: Style, level: string, text: string): string {
  return level === "error" ? style.red(text) : level === "warn" ? style.yellow(text) : text;
}
