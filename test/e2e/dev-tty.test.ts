/**
 * `devtool dev` in a real terminal (tmux on a pseudo-terminal): what a newcomer sees after
 * `npm start` — coloured progress on a terminal and none through a pipe, the URL, a save
 * showing up as a new live version, Ctrl-C ending it with status 0.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, tempDir } from "../helpers/processes.js";
import { NO_TMUX, Terminal } from "../helpers/terminal.js";

const ESC = "\x1b[";

function exampleApp(): string {
  const app = join(tempDir("fixpoint-dev-tty-"), "app");
  cpSync(join(ROOT, "examples"), app, { recursive: true, filter: (src) => !src.includes(".fixpoint") });
  return app;
}

function devCommand(app: string, pipe: boolean): string {
  const dev = `'${process.execPath}' '${join(ROOT, "dist/devtool.js")}' dev '${app}' --http 127.0.0.1:0`;
  // The exit status stays on the screen after dev ends (through a pipe: dev's own, on stderr,
  // not cat's). Ctrl-C reaches the shells too (the whole foreground group): their traps keep
  // them alive to print the status.
  const run = pipe ? `{ trap : INT; ${dev}; echo DEV-EXITED-\\$? >&2; } | cat` : `${dev}; echo DEV-EXITED-\\$?`;
  return `env -u NO_COLOR FIXPOINT_HOME='${tempDir()}' TERM=xterm-256color sh -c "trap : INT; ${run}; sleep 60"`;
}

describe("devtool dev in a terminal", { skip: NO_TMUX }, () => {
  const term = new Terminal();
  after(() => term.close());

  test("colours its progress, shows the URL, reports a save as a new live version, and ends on Ctrl-C with status 0", { timeout: 60_000 }, async () => {
    const app = exampleApp();
    term.open("dev", devCommand(app, false));
    await term.waitFor("dev", /http:\/\/127\.0\.0\.1:\d+\//);
    const coloured = term.screen("dev", true);
    assert.ok(coloured.includes(`${ESC}32m✓`), `the ✓ lines are green on a terminal:\n${JSON.stringify(coloured)}`);
    const source = join(app, "index.ts");
    writeFileSync(source, readFileSync(source, "utf8").replace('const VERSION = "1";', 'const VERSION = "2";'));
    await term.waitFor("dev", /✓ local index v2 [0-9a-f]{12} live \d+ ms after save/);
    term.keys("dev", "C-c");
    await term.waitFor("dev", /DEV-EXITED-0/);
  });

  test("through a pipe, the same output has no colour codes", { timeout: 60_000 }, async () => {
    term.open("piped", devCommand(exampleApp(), true));
    await term.waitFor("piped", /http:\/\/127\.0\.0\.1:\d+\//);
    const text = term.screen("piped", true);
    assert.match(text, /✓ local index v1/);
    assert.ok(!text.includes(`${ESC}3`), `no colour codes through a pipe:\n${JSON.stringify(text)}`);
    // Ctrl-C ends cat as well: dev must stop in order, not crash writing to the closed pipe.
    term.keys("piped", "C-c");
    const end = await term.waitFor("piped", /DEV-EXITED-\d+/);
    assert.match(end, /DEV-EXITED-0/);
    assert.doesNotMatch(end, /EPIPE|Error/);
  });
});
