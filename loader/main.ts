/** The `loader` CLI: one entry, one function per command, exit codes from the error table. */
import { setFlagsFromString } from "node:v8";
import { FixpointError } from "./errors.js";
import { reportError, onOutputClosed } from "./cli/output.js";
import { closest, shapeError } from "./cli/args.js";
import { HELP, authorize, init, keys, revoke, start } from "./cli/commands.js";
import { VERSION } from "./version.js";

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

// The loader runs for months and keeps little: V8 would still double its young generation
// (up to 16 MiB per semispace) whenever enough objects survive a scavenge, which a stream of
// pushes keeps doing, and RSS grew 25 KiB per push until it did (bench/RESULTS.md, issue 10).
// Kept at its first size here, in the loader's own process only: the runtime's isolates, in
// their own process, keep V8's defaults.
setFlagsFromString("--semi-space-growth-factor=1");

// A node serves on without its log reader.
onOutputClosed(() => {});
process.exitCode = await main(process.argv.slice(2));
