import { FixpointError } from "../../loader/index.js";
import { parseCommandLine, requireOption } from "../ui/args.js";
import { deadlineFrom } from "./common.js";
import { ROLLING_CONNECTION_HELP, ROLLING_OPTIONS, rollingContext, runRolling } from "./rolling.js";

export const HELP = `Usage: devtool rollback --to N [--nodes A,B,…] [options]

Returns nodes in production mode to release N, one that each of them holds (a release it ran
or had staged), by the same guarded restart as an upgrade, node at a time: the node drains,
saves its state, restarts on release N, hands the state to its code (through each module's
migrate hook), checks health, and commits — or comes back on the release it ran. The first
failure stops the rollback; nodes after it are untouched.

Unlike \`devtool upgrade\`, a rollback does not wait for the other nodes to be healthy first:
it is the way out of a bad release. A release numbered below a node's highest is refused
except by this command (a replay of an old release is not a rollback).

Options:
  --to N                 the release to return to
${ROLLING_CONNECTION_HELP}`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { ...ROLLING_OPTIONS, to: { type: "string" } }, 0);
  if (parsed.values["help"] === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const to = requireOption(parsed, "to");
  if (!/^[1-9]\d{0,14}$/.test(to)) throw new FixpointError("USAGE", `--to must be a release number (a positive integer), got "${to}"`);
  const deadlineMs = deadlineFrom(parsed);
  return runRolling(rollingContext(parsed), { number: Number(to), rollback: true, maxUnavailable: 1, deadlineMs });
}
