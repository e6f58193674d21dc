/**
 * `devtool repl` in a real terminal: tmux runs it on a pseudo-terminal against a real node, the
 * test types with send-keys and reads the screen with capture-pane. Covers what only a terminal
 * shows: multi-line continuation, Tab completion asked of the node, Ctrl-C (abandon the input,
 * stop waiting for an evaluation), Ctrl-D, colours, `.use`, and history across two sessions.
 * tmux runs on a server socket of this test's own (test/helpers/terminal.ts), killed at the end.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatIdentity } from "../../loader/index.js";
import { signedModule } from "../helpers/modules.js";
import { ROOT, startNode, tempDir, type NodeProcess } from "../helpers/processes.js";
import { NO_TMUX, Terminal } from "../helpers/terminal.js";

const term = new Terminal();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Types `text` literally, then presses Enter. */
async function typeLine(session: string, text: string): Promise<void> {
  term.type(session, text);
  term.keys(session, "Enter");
  await sleep(150);
}

describe("devtool repl in a terminal", { skip: NO_TMUX }, () => {
  let node: NodeProcess;
  let home: string;
  let command: string;

  before(async () => {
    node = await startNode({ args: ["--module-cpu-ms", "1500"] });
    const conn = await node.connect();
    const { bundle } = await signedModule("counter", `import { defineModule } from "fixpoint";\nexport default defineModule({ state: { hits: 5 }, functions: { hit: (ctx) => ++ctx.state.hits } });\n`, node.dev);
    await conn.request("push", { bundle });
    conn.close();
    home = tempDir("fixpoint-repl-tty-");
    writeFileSync(join(home, "id_ed25519"), formatIdentity(node.dev), { mode: 0o600 });
    // The exit status stays on the screen after the REPL ends, for the Ctrl-D test.
    const repl = `'${process.execPath}' '${join(ROOT, "dist/devtool.js")}' repl --node 127.0.0.1:${node.port} --identity '${join(home, "id_ed25519")}' --accept-new`;
    command = `env -u NO_COLOR FIXPOINT_HOME='${home}' TERM=xterm-256color sh -c "${repl}; echo REPL-EXITED-\\$?; sleep 60"`;
  });
  after(async () => {
    term.close();
    assert.equal(await node.stop(), 0);
  });

  const open = async (name: string) => {
    term.open(name, command);
    await term.waitFor(name, /127\.0\.0\.1:\d+>$/m);
  };

  test("multi-line input continues until complete; results are coloured on a terminal", async () => {
    await open("one");
    await typeLine("one", "function twice(x) {");
    await term.waitFor("one", /^\.\.\.$/m);
    await typeLine("one", "  return x * 2");
    await typeLine("one", "}");
    await typeLine("one", "twice(21)");
    await term.waitFor("one", /^42$/m);
    assert.match(term.screen("one", true), /\x1b\[33m42/, "a number in yellow, as node's REPL shows it");
  });

  test("Tab completes a property of a value on the node", async () => {
    await typeLine("one", "const pets = { kitten: 1, puppy: 2 }");
    term.type("one", "pets.ki");
    term.keys("one", "Tab");
    await term.waitFor("one", /> pets\.kitten$/m);
    term.keys("one", "Enter");
    await term.waitFor("one", /^1$/m);
  });

  test("Ctrl-C abandons unfinished input, then interrupts a running evaluation", async () => {
    await typeLine("one", "abandoned(");
    await term.waitFor("one", /^\.\.\.$/m);
    term.keys("one", "C-c");
    await sleep(200);
    await typeLine("one", "'fresh ' + 'input'");
    await term.waitFor("one", /^'fresh input'$/m);
    await typeLine("one", "for (;;) {}");
    await sleep(300);
    term.keys("one", "C-c");
    await term.waitFor("one", /\(interrupted: stopped waiting/);
    // The node's CPU limit ends the loop; the session then answers again, variables kept.
    await typeLine("one", "pets.puppy");
    await term.waitFor("one", /^2$/m, 15_000);
  });

  test(".use switches into a module, where its state is in scope", async () => {
    await typeLine("one", ".use counter");
    await term.waitFor("one", /127\.0\.0\.1:\d+:counter>$/m);
    await typeLine("one", "hit() + state.hits");
    await term.waitFor("one", /^12$/m);
    await typeLine("one", ".use");
    await typeLine("one", "'back in scratch'");
    await term.waitFor("one", /^'back in scratch'$/m);
  });

  test("Ctrl-D leaves with status 0", async () => {
    term.keys("one", "C-d");
    await term.waitFor("one", /REPL-EXITED-0/);
  });

  test("history is kept per node across sessions", async () => {
    const files = join(home, "repl_history");
    const file = join(files, `127.0.0.1_${node.port}`);
    assert.match(readFileSync(file, "utf8"), /^'back in scratch'$/m);
    await open("two");
    term.keys("two", "Up");
    await term.waitFor("two", /> 'back in scratch'$/m);
    term.keys("two", "Enter");
    await term.waitFor("two", /> 'back in scratch'\n'back in scratch'$/m);
    term.keys("two", "C-d");
    await term.waitFor("two", /REPL-EXITED-0/);
  });
});
