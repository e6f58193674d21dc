/**
 * The remote REPL (issue 6) against real loader processes: `eval` and `complete` over the real
 * channel, and `devtool repl` non-interactively (--eval, piped input). Bad input in every form
 * gets a coded answer or a thrown outcome, and the session and the node go on.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, renameSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { encodeCbor, formatIdentity, formatPublicKeyLine, generateKeyPair, hasCode, type KeyPair } from "../../loader/index.js";
import { type ClientConnection } from "../../devtool/client/index.js";
import { signedModule } from "../helpers/modules.js";
import { runCli, startNode, tempDir, type NodeProcess } from "../helpers/processes.js";
import { rawSession } from "../helpers/raw-client.js";
import { writeFileSync } from "node:fs";

const COUNTER = `import { defineModule } from "fixpoint";
export default defineModule({
  version: "c1",
  state: { hits: 0 },
  functions: {
    hit: (ctx) => ++ctx.state.hits,
    hits: (ctx) => ctx.state.hits,
    fail: () => {
      throw new Error("fail on purpose");
    },
  },
});
`;

/** Files for running the devtool as `key`, pinned to `node`. */
function devtoolHome(node: NodeProcess, key: KeyPair): { env: NodeJS.ProcessEnv; args: string[] } {
  const home = tempDir("fixpoint-repl-home-");
  const identity = join(home, "id_ed25519");
  writeFileSync(identity, formatIdentity(key), { mode: 0o600 });
  return { env: { FIXPOINT_HOME: home }, args: ["--node", `127.0.0.1:${node.port}`, "--identity", identity, "--accept-new"] };
}

async function evaluate(conn: ClientConnection, source: string, module?: string) {
  return conn.request("eval", { source, ...(module === undefined ? {} : { module }) }, { timeoutMs: 30_000 });
}

async function assertServes(node: NodeProcess): Promise<void> {
  const conn = await node.connect();
  try {
    assert.equal((await evaluate(conn, "6 * 7")).text, "42");
  } finally {
    conn.close();
  }
  assert.ok(node.alive(), "the node process is still running");
}

describe("the REPL on a node in dev mode", () => {
  let node: NodeProcess;
  let conn: ClientConnection;

  before(async () => {
    node = await startNode({ args: ["--module-cpu-ms", "300", "--module-memory-mb", "64", "--module-async-ms", "3000"] });
    conn = await node.connect();
    const { bundle } = await signedModule("counter", COUNTER, node.dev);
    await conn.request("push", { bundle });
  });
  after(async () => {
    conn.close();
    assert.equal(await node.stop(), 0);
  });

  test("evaluates on the node, keeps let/const between inputs, awaits at top level and keeps _", async () => {
    assert.deepEqual(await evaluate(conn, "let base = 40"), { threw: false, text: "undefined" });
    assert.equal((await evaluate(conn, "const more = await Promise.resolve(2); base + more")).text, "42");
    assert.equal((await evaluate(conn, "more")).text, "2", "a const declared with top-level await persists");
    assert.equal((await evaluate(conn, "_ * 10")).text, "20");
    assert.equal((await evaluate(conn, "{ a: 1, b: 'two' }")).text, "{ a: 1, b: 'two' }", "braces alone are an object, as in node");
  });

  test("two sessions do not see each other's scratch variables", async () => {
    await evaluate(conn, "var mine = 'first session'");
    const other = await node.connect();
    try {
      const seen = await evaluate(other, "typeof mine");
      assert.equal(seen.text, "'undefined'");
      assert.equal((await evaluate(conn, "mine")).text, "'first session'");
    } finally {
      other.close();
    }
  });

  test("values that cannot be copied come back as descriptions: a function, a cycle, a huge array", async () => {
    assert.equal((await evaluate(conn, "(function named() {})")).text, "[Function: named]");
    assert.equal((await evaluate(conn, "const loop = { name: 'x' }; loop.self = loop; loop")).text, "{ name: 'x', self: [Circular] }");
    const huge = await evaluate(conn, "new Array(5_000_000).fill(1)");
    assert.match(huge.text, /\.\.\. 4999900 more items/);
    assert.ok(huge.text.length < 2000, "bounded output");
    assert.match((await evaluate(conn, "new Map([[1, Symbol('s')]])")).text, /^Map\(1\) \{ 1 => Symbol\(s\) \}$/);
  });

  test("a syntax error comes back with its position, and the session goes on", async () => {
    const result = await evaluate(conn, "let broken = ;");
    assert.equal(result.threw, true);
    assert.match(result.text, /^SyntaxError: Unexpected token ';'/);
    assert.deepEqual(result.location, { line: 1, column: 14 });
    assert.equal((await evaluate(conn, "base")).text, "40", "earlier variables are still there");
  });

  test("a throw is an outcome with its stack; in a module the stack points at its TypeScript", async () => {
    const thrown = await evaluate(conn, "throw new RangeError('out of range')");
    assert.equal(thrown.threw, true);
    assert.match(thrown.text, /^RangeError: out of range\n\s+at REPL\d+:1:7/);
    const rejected = await evaluate(conn, "await Promise.reject(new TypeError('nope'))");
    assert.equal(rejected.threw, true);
    assert.match(rejected.text, /^TypeError: nope/);
    const inModule = await evaluate(conn, "fail()", "counter");
    assert.equal(inModule.threw, true);
    assert.match(inModule.text, /Error: fail on purpose\n\s+at fail \(.*counter\.ts:9:\d+\)/);
  });

  test("console output arrives before the result, in order", async () => {
    const seen: string[] = [];
    const listen = await node.connect();
    try {
      listen.onEvent((topic, data) => topic === "repl" && seen.push(String((data as { text: string }).text)));
      const result = await evaluate(listen, "console.log('one'); console.warn('two', { n: 2 }); 'three'");
      seen.push(result.text);
      assert.deepEqual(seen, ["one", "two { n: 2 }", "'three'"]);
    } finally {
      listen.close();
    }
  });

  test("inside a module: its state is readable and writable, its functions callable", async () => {
    assert.equal((await evaluate(conn, "hit(); hit(); state.hits", "counter")).text, "2");
    assert.equal((await evaluate(conn, "state.hits = 40; hit()", "counter")).text, "41");
    assert.equal((await conn.request("call", { module: "counter", fn: "hits", args: [] })).value, 41, "the module sees the change");
    assert.equal((await evaluate(conn, "await call('counter', 'hits')")).text, "41", "the scratch context calls modules");
  });

  test("an endless loop is MODULE_TIMEOUT, and the scratch session and a module both go on", async () => {
    await evaluate(conn, "let kept = 'still here'");
    await assert.rejects(evaluate(conn, "for (;;) {}"), (err) => hasCode(err, "MODULE_TIMEOUT"));
    assert.equal((await evaluate(conn, "kept")).text, "'still here'");
    await assert.rejects(evaluate(conn, "while (true) state.hits++", "counter"), (err) => hasCode(err, "MODULE_TIMEOUT"));
    assert.match((await evaluate(conn, "typeof state.hits", "counter")).text, /'number'/, "the module's isolate survived");
    await assert.rejects(evaluate(conn, "await new Promise(() => {})"), (err) => hasCode(err, "MODULE_TIMEOUT"));
  });

  test("runaway allocation in a scratch session is MODULE_MEMORY_LIMIT; the next input gets a fresh context and the node serves on", async () => {
    // A node of its own with a CPU limit far above what filling 64 MB takes: on a loaded machine
    // the shared node's 300 ms could stop the loop before the memory limit does.
    const own = await startNode({ args: ["--module-cpu-ms", "10000", "--module-memory-mb", "64"] });
    try {
      const session = await own.connect();
      try {
        await evaluate(session, "let before = 1");
        await assert.rejects(evaluate(session, "const kept = []; for (;;) kept.push(new Array(1 << 20).fill(kept.length))"), (err) => hasCode(err, "MODULE_MEMORY_LIMIT"));
        assert.equal((await evaluate(session, "typeof before")).text, "'undefined'", "a fresh scratch context");
        assert.equal((await evaluate(session, "1 + 1")).text, "2");
      } finally {
        session.close();
      }
      await assertServes(own);
    } finally {
      assert.equal(await own.stop(), 0);
    }
  });

  test("completion lists globals, the session's own names and an object's properties", async () => {
    await evaluate(conn, "const completeMe = { alpha: 1, alps: 2, beta: 3 }");
    assert.deepEqual(await conn.request("complete", { source: "completeMe.al" }), { candidates: ["alpha", "alps"], prefix: "al" });
    const globals = await conn.request("complete", { source: "x = complete" });
    assert.ok(globals.candidates.includes("completeMe"), JSON.stringify(globals));
    assert.ok((await conn.request("complete", { source: "Ma" })).candidates.includes("Math"));
    assert.deepEqual((await conn.request("complete", { source: "sta", module: "counter" })).candidates, ["state"]);
  });

  test("a connection dropped mid-evaluation has its scratch isolate disposed, stopping the code", async () => {
    const dropper = await node.connect();
    await evaluate(dropper, "1");
    const from = node.logs.length;
    const pending = evaluate(dropper, "for (;;) {}").catch(() => "closed");
    await new Promise((r) => setTimeout(r, 100));
    dropper.close();
    assert.equal(await pending, "closed");
    const deadline = Date.now() + 10_000;
    let closed: Record<string, unknown> | undefined;
    while ((closed = node.logs.slice(from).find((l) => l["event"] === "repl.closed")) === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(closed?.["scratchDisposed"], true, "the node dropped the session's scratch isolate");
    await assertServes(node);
  });

  test("a module that is not running is MODULE_NOT_FOUND", async () => {
    await assert.rejects(evaluate(conn, "1", "nope"), (err) => hasCode(err, "MODULE_NOT_FOUND"));
  });

  test("garbage and wrong-shaped eval and complete messages close the connection with MESSAGE_INVALID", async () => {
    const bad = [
      { type: "eval", id: 1 },
      { type: "eval", id: 1, source: 42 },
      { type: "eval", id: 1, source: "1", extra: true },
      { type: "eval", id: 1, source: "1", module: "../etc" },
      { type: "eval", id: 1, source: "1", colors: "yes" },
      { type: "eval", id: 1, source: "x".repeat(256 * 1024 + 1) },
      { type: "complete", id: 1, source: "x".repeat(4097) },
      { type: "complete", id: 1 },
    ];
    for (const value of bad) {
      const s = await rawSession(node.port, node.dev);
      s.raw.write(s.seal(encodeCbor(value)));
      assert.equal(await s.goodbyeCode(), "MESSAGE_INVALID", JSON.stringify(value).slice(0, 80));
    }
    await assertServes(node);
  });

  test("devtool repl --eval prints the result and exits 0; a throw exits 1 with EVAL_THREW", () => {
    const { env, args } = devtoolHome(node, node.dev);
    const ok = runCli("devtool", ["repl", ...args, "--eval", "console.log('printed'); [1, 2].map((n) => n * 21)"], { env });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, "printed\n[ 21, 42 ]\n");
    const threw = runCli("devtool", ["repl", ...args, "--eval", "null.x"], { env });
    assert.equal(threw.status, 1);
    assert.match(threw.stderr, /Uncaught TypeError: Cannot read properties of null/);
    assert.match(threw.stderr, /error EVAL_THREW: 1 of 1 input threw/);
    const timeout = runCli("devtool", ["repl", ...args, "--eval", "for (;;) {}"], { env });
    assert.equal(timeout.status, 1);
    assert.match(timeout.stderr, /error MODULE_TIMEOUT: /);
  });

  test("devtool repl reads piped input as statement groups, with dot-commands, and runs in a module with --module", () => {
    const { env, args } = devtoolHome(node, node.dev);
    const input = ["let n = 2", "function double(x) {", "  return x * n", "}", "double(21)", "let oops = ;", "`multi", "line`", ".use counter", "typeof state", ""].join("\n");
    const piped = runCli("devtool", ["repl", ...args], { env, input });
    assert.equal(piped.status, 1, "the syntax error counts as a throw");
    assert.equal(piped.stdout, "42\n'multi\\nline'\n'object'\n");
    assert.match(piped.stderr, /let oops = ;\n {11}\^\nUncaught SyntaxError: Unexpected token ';'/);
    const inModule = runCli("devtool", ["repl", ...args, "--module", "counter", "--eval", "state.hits >= 0"], { env });
    assert.equal(inModule.stdout, "true\n", inModule.stderr);
    assert.equal(inModule.status, 0);
  });

  test("piped .clear gives the session a fresh scratch context on the node", () => {
    const { env, args } = devtoolHome(node, node.dev);
    const piped = runCli("devtool", ["repl", ...args], { env, input: "let kept = 1\ntypeof kept\n.clear\ntypeof kept\n" });
    assert.equal(piped.status, 0, piped.stderr);
    assert.equal(piped.stdout, "'number'\n'undefined'\n");
  });

  test("devtool repl refuses bad flags with USAGE (exit 2) before connecting", () => {
    const { env, args } = devtoolHome(node, node.dev);
    for (const bad of [["--bogus"], ["--module", "Not_A_Name"], ["--eval", "  "], ["extra"]]) {
      const r = runCli("devtool", ["repl", ...args, ...bad], { env });
      assert.equal(r.status, 2, `${bad.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /error USAGE: /);
    }
    const help = runCli("devtool", ["repl", "--help"]);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: devtool repl/);
  });

  test("a key without the dev role gets FORBIDDEN, and nothing runs", async () => {
    const observer = generateKeyPair();
    const auth = runCli("loader", ["authorize", "--data", node.dataDir, "--key", formatPublicKeyLine(observer.publicKey), "--roles", "observe"]);
    assert.equal(auth.status, 0, auth.stderr);
    // A connection of its own: the runCli calls before this one blocked the event loop past the heartbeat.
    const conn = await node.connect();
    const before = (await conn.request("call", { module: "counter", fn: "hits", args: [] })).value;
    const watcher = await node.connect(observer);
    try {
      await assert.rejects(evaluate(watcher, "state.hits = -1", "counter"), (err) => hasCode(err, "FORBIDDEN"));
      await assert.rejects(watcher.request("complete", { source: "Ma" }), (err) => hasCode(err, "FORBIDDEN"));
    } finally {
      watcher.close();
    }
    assert.equal((await conn.request("call", { module: "counter", fn: "hits", args: [] })).value, before, "the refused evaluation changed nothing");
    conn.close();
    const { env, args } = devtoolHome(node, observer);
    const cli = runCli("devtool", ["repl", ...args, "--eval", "1"], { env });
    assert.equal(cli.status, 1);
    assert.match(cli.stderr, /error FORBIDDEN: eval in dev mode needs one of the roles dev/);
  });
});

describe("the REPL on a node in production mode", () => {
  let node: NodeProcess;

  before(async () => {
    node = await startNode({ roles: ["admin"], args: ["--mode", "production", "--module-cpu-ms", "2000"] });
  });
  after(async () => {
    assert.equal(await node.stop(), 0);
  });

  const auditLines = () => (existsSync(join(node.dataDir, "audit.log")) ? readFileSync(join(node.dataDir, "audit.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>) : []);

  test("an admin's evaluation is in the audit log before it runs, then its outcome", async () => {
    const conn = await node.connect();
    try {
      assert.equal((await evaluate(conn, "20 + 22")).text, "42");
      const [entry, outcome] = auditLines().slice(-2);
      assert.equal(entry?.["event"], "repl.eval");
      assert.equal(entry?.["source"], "20 + 22");
      assert.equal(entry?.["module"], null);
      assert.match(String(entry?.["key"]), /^SHA256:/);
      assert.deepEqual([outcome?.["event"], outcome?.["id"], outcome?.["outcome"], outcome?.["text"]], ["repl.outcome", entry?.["id"], "ok", "42"]);
      // While the code still runs, its entry is already on disk (and its outcome is not).
      const running = evaluate(conn, "const until = Date.now() + 700; while (Date.now() < until) {} 'done'");
      await new Promise((r) => setTimeout(r, 300));
      const during = auditLines();
      assert.equal(during.at(-1)?.["source"], "const until = Date.now() + 700; while (Date.now() < until) {} 'done'");
      assert.equal((await running).text, "'done'");
      assert.equal(auditLines().at(-1)?.["outcome"], "ok");
      await assert.rejects(evaluate(conn, "1", "missing"), (err) => hasCode(err, "MODULE_NOT_FOUND"));
      assert.deepEqual([auditLines().at(-1)?.["outcome"], auditLines().at(-1)?.["code"]], ["error", "MODULE_NOT_FOUND"]);
    } finally {
      conn.close();
    }
  });

  test("an audit log that cannot be written is AUDIT_LOG_FAILED, and the evaluation does not run", async () => {
    const file = join(node.dataDir, "audit.log");
    const conn = await node.connect();
    try {
      await evaluate(conn, "var ran = false");
      renameSync(file, `${file}.saved`);
      // A directory where the log should be: the append fails, as on a full or read-only disk (root ignores modes).
      mkdirSync(file);
      await assert.rejects(evaluate(conn, "ran = true"), (err) => hasCode(err, "AUDIT_LOG_FAILED"));
      rmdirSync(file);
      renameSync(`${file}.saved`, file);
      assert.equal((await evaluate(conn, "ran")).text, "false");
    } finally {
      conn.close();
    }
  });

  test("a dev key is FORBIDDEN in production, and nothing is run or audited", async () => {
    const dev = generateKeyPair();
    assert.equal(runCli("loader", ["authorize", "--data", node.dataDir, "--key", formatPublicKeyLine(dev.publicKey), "--roles", "dev"]).status, 0);
    const before = auditLines().length;
    const conn = await node.connect(dev);
    try {
      await assert.rejects(evaluate(conn, "globalThis.ran = true"), (err) => hasCode(err, "FORBIDDEN"));
    } finally {
      conn.close();
    }
    assert.equal(auditLines().length, before);
  });
});
