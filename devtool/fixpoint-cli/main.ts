/**
 * The `fixpoint` CLI: one unambiguous name for both tools (issue 14). `loader` and `devtool`
 * are generic enough to collide with other packages' bins in node_modules/.bin, and `npx
 * devtool` in a folder without this package may find something else; `npx fixpoint …` cannot.
 *
 *   fixpoint loader COMMAND …   the loader's CLI (init, authorize, keys, revoke, start)
 *   fixpoint COMMAND …          a devtool command (dev, push, call, status, logs, …)
 *
 * It hands over to the built CLI beside it (dist/loader.js or dist/devtool.js) in this same
 * process, with the arguments that CLI expects, so the two keep one entry each.
 */
import { VERSION } from "../../loader/protocol/version.js";

const DEVTOOL_COMMANDS = ["dev", "keygen", "status", "push", "logs", "call", "repl", "release", "upgrade", "rollback", "mode"] as const;

export const HELP = `Usage: fixpoint loader <command> [options]    the node's side (\`loader\`)
       fixpoint <command> [options]           the developer's side (\`devtool\`)

The same two tools as the \`loader\` and \`devtool\` commands, under one name no other package
uses: \`npx fixpoint dev\` is \`npx devtool dev\`, \`npx fixpoint loader start\` is \`npx loader start\`.
Their messages name them as \`loader\` and \`devtool\`.

Loader commands (fixpoint loader …):
  init, authorize, keys, revoke, start

Devtool commands (fixpoint …):
  ${DEVTOOL_COMMANDS.join(", ")}

Run \`fixpoint loader --help\`, \`fixpoint --help\` or \`fixpoint <command> --help\` for more.
Exit status: 0 ok, 1 the operation failed, 2 usage or config error, 3 a node unreachable or untrusted.
`;

/** Which built CLI runs `argv`, and with which arguments; null: this CLI answers itself. */
export function dispatch(argv: readonly string[]): { cli: "loader" | "devtool"; args: string[] } | null {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help" || first === "--version") return null;
  if (first === "loader") return { cli: "loader", args: rest };
  // `fixpoint devtool push` reads naturally too.
  if (first === "devtool") return { cli: "devtool", args: rest };
  return { cli: "devtool", args: [...argv] };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const target = dispatch(argv);
  if (target === null) {
    if (argv[0] === "--version") process.stdout.write(`${VERSION}\n`);
    else process.stdout.write(HELP);
    process.exitCode = argv[0] === undefined ? 2 : 0;
    return;
  }
  // The sibling file in dist/, imported at run time (not bundled in): each CLI's main runs on import.
  process.argv = [process.argv[0]!, process.argv[1]!, ...target.args];
  const file = new URL(`./${target.cli}.js`, import.meta.url).href;
  await import(file);
}

await main();
