/** Terminal output for both CLIs: colour only on a TTY (and never with NO_COLOR), errors with their code. */
import { FixpointError, toFixpointError } from "../../loader/protocol/errors.js";
import { isShapeError } from "./args.js";

export interface Style {
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

export function styleFor(stream: NodeJS.WriteStream): Style {
  const on = stream.isTTY === true && process.env["NO_COLOR"] === undefined && process.env["TERM"] !== "dumb";
  const wrap = (open: number, close: number) => (text: string) => (on ? `\x1b[${open}m${text}\x1b[${close}m` : text);
  return { red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), dim: wrap(2, 22), bold: wrap(1, 22) };
}

/**
 * Prints an error as "error CODE: message" (plus help for usage errors) and returns the exit
 * status. Anything not a FixpointError is a bug: its stack is printed.
 */
export function reportError(err: unknown, help: string | undefined): number {
  const style = styleFor(process.stderr);
  const error = toFixpointError(err);
  // A message that already names its file (a build error's code frame) needs no suffix.
  const where = error.location === undefined || error.message.includes(error.location.file) ? "" : ` (${error.location.file}${error.location.line === undefined ? "" : `:${error.location.line}`})`;
  process.stderr.write(`${style.red("error")} ${style.bold(error.code)}: ${error.message}${where}\n`);
  // The help follows an error in the command line's shape; any other usage error says what to do itself.
  if (error.code === "USAGE" && help !== undefined && isShapeError(err)) process.stderr.write(`\n${help}`);
  if (!(err instanceof FixpointError)) process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  return error.exitStatus;
}

/**
 * When a reader goes away (`devtool logs --follow | head`, Ctrl-C reaching the rest of a
 * pipeline), writing to it fails with EPIPE: that must not crash the process. `then` runs
 * once, at the first failed write on stdout or stderr (a devtool command stops; a node keeps
 * serving without its log); later writes fail quietly.
 */
export function onOutputClosed(then: () => void): void {
  let told = false;
  for (const stream of [process.stdout, process.stderr]) {
    // EPIPE first; after it, writes to the destroyed stream fail with ERR_STREAM_DESTROYED.
    stream.on("error", () => {
      if (told) return;
      told = true;
      then();
    });
  }
}
