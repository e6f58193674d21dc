/**
 * Non-interactive REPL: `devtool repl --eval CODE` and piped input. Each input is evaluated on
 * the node in order; results other than `undefined` go to stdout, throws and errors to
 * stderr, console output where it belongs as it arrives. The exit status says whether anything
 * failed: a coded error's own status, or EVAL_THREW (1) when code threw.
 */
import { FixpointError, toFixpointError } from "../../loader/index.js";
import { styleFor } from "../ui/output.js";
import type { ReplClient } from "./client.js";
import { runDotCommand } from "./dot-commands.js";
import type { Group } from "./input.js";
import { renderError, renderResult } from "./render.js";

export async function runBatch(client: ReplClient, groups: Group[]): Promise<number> {
  const out = styleFor(process.stdout);
  const err = styleFor(process.stderr);
  let threw = 0;
  let inputs = 0;
  let failure: FixpointError | null = null;
  for (const group of groups) {
    try {
      if (group.kind === "command") {
        const outcome = await runDotCommand(group.line, client, out);
        if (outcome.kind === "exit") break;
        if (outcome.kind === "print") process.stdout.write(outcome.text + "\n");
        continue;
      }
      inputs++;
      const result = await client.evaluate(group.source, false);
      if (result.threw) {
        threw++;
        process.stderr.write(renderResult(err, group.source, result) + "\n");
      } else if (result.text !== "undefined") {
        process.stdout.write(result.text + "\n");
      }
    } catch (e) {
      const error = toFixpointError(e);
      process.stderr.write(renderError(err, error) + "\n");
      // A node that cannot be reached or trusted will not be for the next input either.
      if (error.exitStatus === 3) return error.exitStatus;
      failure ??= error;
    }
  }
  if (failure !== null) return failure.exitStatus;
  if (threw > 0) {
    const summary = new FixpointError("EVAL_THREW", `${threw} of ${inputs} input${inputs === 1 ? "" : "s"} threw`);
    process.stderr.write(renderError(err, summary) + "\n");
    return summary.exitStatus;
  }
  return 0;
}
