/** The `loader` CLI: one entry, one function per command, exit codes from the error table. */
import { reportError, onOutputClosed } from "../ui/output.js";
import { closest, shapeError } from "../ui/args.js";
import { HELP, authorize, init, keys, revoke, start } from "./commands.js";
import { VERSION } from "../../loader/protocol/version.js";

const COMMANDS = { init, authorize, keys, revoke, start } as const;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(HELP.main);
    return command === undefined ? 2 : 0;
  }
  if (command === "--version") {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command as keyof typeof COMMANDS] : undefined;
  if (run === undefined) {
    const near = closest(command, Object.keys(COMMANDS));
    return reportError(shapeError(`unknown command "${command}"${near === undefined ? "" : `; did you mean ${near}?`}`), HELP.main);
  }
  try {
    return await run(rest);
  } catch (err) {
    return reportError(err, HELP[command as keyof typeof COMMANDS]);
  }
}

// Not `v8.setFlagsFromString("--semi-space-growth-factor=1")` (it cut the loader's RSS growth
// over thousands of pushes): V8 flags changed after start are undefined behaviour, and with it
// loaders deadlocked under load (every thread in a futex wait, the channel no longer accepting).
// A node serves on without its log reader.
onOutputClosed(() => {});
process.exitCode = await main(process.argv.slice(2));
