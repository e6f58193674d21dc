/**
 * The `devtool` CLI: one entry; each command's module is loaded only when it runs (so
 * `devtool status` never loads esbuild), a usage error prints the command's help.
 */
import { VERSION } from "../loader/index.js";
import { closest, shapeError } from "./ui/args.js";
import { reportError, onOutputClosed } from "./ui/output.js";
import { outputHasClosed } from "./ui/shutdown.js";

interface Command {
  HELP: string;
  run(args: string[]): Promise<number>;
}

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  dev: { summary: "the dev loop: local node (or fixpoint.json's), push on save, logs", load: () => import("./commands/dev.js") },
  keygen: { summary: "create your Ed25519 identity", load: () => import("./commands/keygen.js") },
  status: { summary: "show nodes: mode, uptime, modules, memory", load: () => import("./commands/status.js") },
  push: { summary: "build, sign and send modules to nodes", load: () => import("./commands/push.js") },
  logs: { summary: "show or follow nodes' logs: module console output and node events", load: () => import("./commands/logs.js") },
  call: { summary: "call a module's function on nodes: MODULE FUNCTION [ARG...]", load: () => import("./commands/call.js") },
  repl: { summary: "a REPL into a node, or into one of its modules; code runs on the node", load: () => import("./commands/repl.js") },
  release: { summary: "create, list or show the project's signed releases (production)", load: () => import("./commands/release.js") },
  upgrade: { summary: "roll a release out to nodes in production, node at a time", load: () => import("./commands/upgrade.js") },
  rollback: { summary: "return nodes to a release they hold: --to N", load: () => import("./commands/rollback.js") },
  mode: { summary: "switch nodes between dev and production (admin)", load: () => import("./commands/mode.js") },
};

const HELP = `Usage: devtool <command> [options]

The developer's side of Fixpoint: build, sign and push modules to nodes over an
authenticated, encrypted channel; in production, make signed releases and roll them out.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)}  ${c.summary}`)
  .join("\n")}

Run \`devtool <command> --help\` for a command's options.
Exit status: 0 ok, 1 the operation failed, 2 usage or config error, 3 a node unreachable or untrusted.
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(HELP);
    return name === undefined ? 2 : 0;
  }
  if (name === "--version") {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (entry === undefined) {
    const near = closest(name, Object.keys(COMMANDS));
    return reportError(shapeError(`unknown command "${name}"${near === undefined ? "" : `; did you mean ${near}?`}`), HELP);
  }
  const command = await entry.load();
  try {
    return await command.run(rest);
  } catch (err) {
    return reportError(err, command.HELP);
  }
}

// Exit explicitly: a long-running command (dev, push --watch, logs --follow) has finished its
// orderly shutdown by now, and a handle some library keeps (esbuild's service) must not keep
// the process alive after it. stdout and stderr are synchronous on Linux pipes and files.
onOutputClosed(outputHasClosed);
process.exit(await main(process.argv.slice(2)));
