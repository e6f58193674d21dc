import { FixpointError, MODES, type Mode } from "../../loader/index.js";
import { parseCommandLine, shapeError } from "../ui/args.js";
import { styleFor } from "../ui/output.js";
import { CONNECTION_HELP, CONNECTION_OPTIONS, contextFrom, exitStatusOf, fanOut, printFailures } from "./common.js";

export const HELP = `Usage: devtool mode [--node NAME|HOST:PORT] dev|production [options]

Switches nodes between dev and production mode, over the channel (admin keys only). The node
keeps its mode in its data directory, so it comes back in it after a restart.

  dev          hot pushes from dev keys (\`devtool push\`, \`devtool dev\`), calls and REPL
  production   code changes only by signed release, applied by a guarded restart
               (\`devtool release create\`, \`devtool upgrade\`); calls and REPL for admin
               keys only, every REPL evaluation audited

Prints each node's previous mode and the new one. With no --node, switches every node in
fixpoint.json at once.

Options:
${CONNECTION_HELP}`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, CONNECTION_OPTIONS, 1);
  if (parsed.values["help"] === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const wanted = parsed.positionals[0];
  if (wanted === undefined) throw shapeError("`mode` needs the mode to switch to: dev or production");
  if (!(MODES as readonly string[]).includes(wanted)) throw new FixpointError("USAGE", `mode must be ${MODES.join(" or ")}, got "${wanted}"`);
  const mode = wanted as Mode;
  const ctx = contextFrom(parsed);
  const outcomes = await fanOut(ctx, (conn) => conn.request("mode", { mode }, { timeoutMs: 10_000 }));
  const out = styleFor(process.stdout);
  const paint = (m: Mode) => (m === "production" ? out.yellow(m) : out.green(m));
  for (const { target, value } of outcomes) {
    if (value === undefined) continue;
    process.stdout.write(`${target.label}  ${paint(value.previous)} → ${paint(value.mode)}${value.previous === value.mode ? out.dim(" (unchanged)") : ""}\n`);
  }
  printFailures(outcomes);
  return exitStatusOf(outcomes);
}
