/**
 * `devtool repl` in a real terminal: tmux runs it on a pseudo-terminal against a real node, the
 * test types with send-keys and reads the screen with capture-pane. Covers what only a terminal
 * shows: multi-line continuation, Tab completion asked of the node, Ctrl-C (abandon the input,
 * stop waiting for an evaluation), Ctrl-D, colours, `.use`, history across two sessions, and
 * what node:repl brings (issue 12): `.editor`, `.save`/`.load`, Ctrl-R, `.break`, `.clear`, and
 * a session that goes on after its node restarts.
 * tmux runs on a server socket of this test's own (test/helpers/terminal.ts), killed at the end.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { formatIdentity } from "../../loader/index.js";
import { signedModule } from "../helpers/modules.js";
import { ROOT, startNode, tempDir, type NodeProcess } from "../helpers/processes.js";
import { NO_TMUX, Terminal } from "../helpers/terminal.js";

/**
 * The prompt of a continued line: "..." up to Node 22, "|" from Node 24 on, whose REPL edits
 * multi-line input as one block.
 */
const CONTINUED = /^(\.\.\.|\|) ?$/m;

const term = new Terminal();
after(() => term.close());

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
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
    assert.equal(await node.stop(), 0);
  });

  const open = async (name: string) => {
    term.open(name, command);
    await term.waitFor(name, /127\.0\.0\.1:\d+>$/m);
  };

  test("multi-line input continues until complete; results are coloured on a terminal", async () => {
    await open("one");
    await typeLine("one", "function twice(x) {");
    await term.waitFor("one", CONTINUED);
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
    await term.waitFor("one", CONTINUED);
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

  test(".editor takes a multi-line function whole, evaluated on Ctrl-D", async () => {
    await open("editor");
    await typeLine("editor", ".editor");
    await term.waitFor("editor", /Entering editor mode \(Ctrl\+D to finish, Ctrl\+C to cancel\)/);
    // In editor mode a line that would be complete on its own is not sent yet.
    await typeLine("editor", "function triple(x) {");
    await typeLine("editor", "return x * 3");
    await typeLine("editor", "}");
    await typeLine("editor", "triple(14)");
    term.keys("editor", "C-d");
    await term.waitFor("editor", /^42$/m);
    await typeLine("editor", "triple(5)");
    await term.waitFor("editor", /^15$/m);
  });

  test(".break abandons multi-line input, and the next input runs alone", async () => {
    await typeLine("editor", "const never = [");
    await term.waitFor("editor", CONTINUED);
    await typeLine("editor", "1, 2,");
    await typeLine("editor", ".break");
    await typeLine("editor", "typeof never");
    await term.waitFor("editor", /^'undefined'$/m);
  });

  test(".save writes the session's inputs to a file, and .load runs a file on the node", async () => {
    const saved = join(home, "session.js");
    await typeLine("editor", "let kept = 20 + 1");
    await typeLine("editor", `.save ${saved}`);
    await term.waitFor("editor", new RegExp(`Session saved to: ${saved}`));
    assert.match(readFileSync(saved, "utf8"), /^let kept = 20 \+ 1$/m);
    const script = join(home, "script.js");
    writeFileSync(script, "function double(x) {\n  return x * 2\n}\nconst loaded = double(kept)\n");
    await typeLine("editor", `.load ${script}`);
    await typeLine("editor", "loaded + 1000");
    await term.waitFor("editor", /^1042$/m);
  });

  test(".clear starts a fresh scratch context on the node", async () => {
    await typeLine("editor", "typeof kept");
    await term.waitFor("editor", /^'number'$/m);
    await typeLine("editor", ".clear");
    await term.waitFor("editor", /^Clearing context\.\.\.$/m);
    await typeLine("editor", "typeof kept + '!'");
    await term.waitFor("editor", /^'undefined!'$/m);
    assert.doesNotMatch(term.screen("editor"), /connection lost|reconnected/, "a fresh context on purpose is not a lost connection");
  });

  test(".help lists node's commands beside the REPL's own, and says what .clear means here", async () => {
    await typeLine("editor", ".help");
    const screen = await term.waitFor("editor", /Press Ctrl\+C to abort/);
    for (const command of ["break", "clear", "editor", "exit", "help", "load", "modules", "save", "use"]) assert.match(screen, new RegExp(`^\\.${command} `, "m"));
    assert.match(screen, /^\.clear +Break, and start a fresh scratch context on the node/m);
  });

  test("Ctrl-R finds an earlier line", async () => {
    await typeLine("editor", "'needle ' + 'in history'");
    await typeLine("editor", "'something else'");
    term.keys("editor", "C-r");
    term.type("editor", "needle");
    await term.waitFor("editor", /bck-i-search: needle/);
    term.keys("editor", "Enter");
    await term.waitFor("editor", /^'needle in history'(.|\n)*^'needle in history'$/m);
    term.keys("editor", "C-d");
    await term.waitFor("editor", /REPL-EXITED-0/);
  });

});

describe("devtool repl in a terminal across a restart of its node", { skip: NO_TMUX }, () => {
  test("says the connection was lost, and the next input reconnects to the restarted node", { timeout: 90_000 }, async () => {
    const port = await freePort();
    const listen = ["--listen", `127.0.0.1:${port}`];
    let node = await startNode({ args: listen });
    const home = tempDir("fixpoint-repl-restart-");
    writeFileSync(join(home, "id_ed25519"), formatIdentity(node.dev), { mode: 0o600 });
    const repl = `'${process.execPath}' '${join(ROOT, "dist/devtool.js")}' repl --node 127.0.0.1:${port} --identity '${join(home, "id_ed25519")}' --accept-new`;
    term.open("restart", `env FIXPOINT_HOME='${home}' TERM=xterm-256color sh -c "${repl}; echo REPL-EXITED-\\$?; sleep 60"`);
    try {
      await term.waitFor("restart", /127\.0\.0\.1:\d+>$/m);
      await typeLine("restart", "let before = 1");
      assert.equal(await node.stop(), 0);
      await term.waitFor("restart", /\(connection lost: [^)]*; the next input reconnects\)/);
      node = await startNode({ dev: node.dev, dataDir: node.dataDir, args: listen });
      await typeLine("restart", "typeof before");
      await term.waitFor("restart", /\(reconnected: the scratch variables of the lost connection are gone\)\n'undefined'$/m);
      await typeLine("restart", "6 * 7");
      await term.waitFor("restart", /^42$/m);
      term.keys("restart", "C-d");
      await term.waitFor("restart", /REPL-EXITED-0/);
    } finally {
      await node.stop();
    }
  });
});
