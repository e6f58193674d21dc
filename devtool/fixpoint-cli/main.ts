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
import { HELP, dispatch } from "./dispatch.js";

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
