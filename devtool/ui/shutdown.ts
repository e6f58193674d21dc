/**
 * How long-running commands (push --watch, dev, logs --follow) end: the first Ctrl-C or
 * SIGTERM starts an orderly shutdown; a second one, or a shutdown that takes longer than
 * `withinMs`, ends the process at once — a command must never need `kill -9`.
 */

/** Resolves with the signal that asked the command to stop. */
export function stopSignal(): Promise<"SIGINT" | "SIGTERM"> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
}

/** Runs `cleanup`; if it is not done within `withinMs` or the user insists, calls `force` and exits. */
export async function shutdown(cleanup: () => Promise<void>, force: () => void = () => {}, withinMs = 8000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    cleanup().then(
      () => "done" as const,
      () => "done" as const,
    ),
    new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), withinMs))),
    stopSignal().then(() => "insisted" as const),
  ]);
  clearTimeout(timer);
  if (outcome === "done") return;
  process.stderr.write(outcome === "late" ? `shutdown took over ${withinMs} ms; stopping now\n` : "stopping now\n");
  force();
  process.exit(130);
}
