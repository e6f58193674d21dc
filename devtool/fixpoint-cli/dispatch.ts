/** What `fixpoint` runs for its arguments, and its help: apart from main.ts, which runs on import. */
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
