/**
 * How long-running commands (push --watch, dev, logs --follow) end: the first Ctrl-C or
 * SIGTERM starts an orderly shutdown; a second one, or a shutdown that takes longer than
 * `withinMs`, ends the process at once — a command must never need `kill -9`.
 */

let closeOutput: () => void = () => {};
const outputClosed = new Promise<void>((resolve) => (closeOutput = resolve));

/** Told (by main.ts) when the command's output has no reader any more. */
export function outputHasClosed(): void {
  closeOutput();
}

/** Resolves with the signal that asked the command to stop ("EPIPE": its output was closed). */
export function stopSignal(): Promise<"SIGINT" | "SIGTERM" | "EPIPE"> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
    void outputClosed.then(() => resolve("EPIPE"));
  });
}

/**
 * A second Ctrl-C or SIGTERM. Not a closed output, which comes along with the first Ctrl-C in
 * a pipeline, nor that Ctrl-C itself arriving just after it: a signal within SAME_CTRL_C_MS
 * of the stop is the same keypress.
 */
function insisted(): Promise<void> {
  const since = Date.now();
  return new Promise((resolve) => {
    const on = () => {
      if (Date.now() - since < SAME_CTRL_C_MS) return;
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
      resolve();
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
}

const SAME_CTRL_C_MS = 300;

/** Runs `cleanup`; if it is not done within `withinMs` or the user insists, calls `force` and exits. */
export async function shutdown(cleanup: () => Promise<void>, force: () => void = () => {}, withinMs = 8000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    cleanup().then(
      () => "done" as const,
      () => "done" as const,
    ),
    new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), withinMs))),
    insisted().then(() => "insisted" as const),
  ]);
  clearTimeout(timer);
  if (outcome === "done") return;
  process.stderr.write(outcome === "late" ? `shutdown took over ${withinMs} ms; stopping now\n` : "stopping now\n");
  force();
  process.exit(130);
}
