/**
 * Issue 12.5: a call or an evaluation has a deadline the user sets with --deadline-ms; past it
 * the devtool stops waiting and exits 1 with REQUEST_TIMEOUT, whatever the node does with it.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatIdentity } from "../../loader/index.js";
import { runCli, startNode, tempDir, type NodeProcess } from "../helpers/processes.js";

describe("--deadline-ms", () => {
  let node: NodeProcess;
  let devtool: (args: string[]) => ReturnType<typeof runCli>;

  before(async () => {
    // The node would let the slow call wait 20 s: only the devtool's deadline ends it sooner.
    node = await startNode({ args: ["--module-async-ms", "20000"] });
    const dir = tempDir("fixpoint-deadline-");
    const identity = join(dir, "id_ed25519");
    writeFileSync(identity, formatIdentity(node.dev), { mode: 0o600 });
    writeFileSync(join(dir, "slow.ts"), `import { defineModule } from "fixpoint";
export default defineModule({ version: "1", state: {}, functions: { wait: (ctx, ms: number) => new Promise((r) => setTimeout(() => r(ms), ms)) } });
`);
    const env = { FIXPOINT_HOME: join(dir, "home"), FIXPOINT_IDENTITY: identity };
    devtool = (args) => runCli("devtool", [...args, "--node", `127.0.0.1:${node.port}`, "--accept-new"], { cwd: dir, env });
    const push = devtool(["push", "slow.ts"]);
    assert.equal(push.status, 0, push.stderr);
  });
  after(() => node.stop());

  test("a call past --deadline-ms exits 1 with REQUEST_TIMEOUT naming the flag, long before the node's limit", () => {
    const started = Date.now();
    const r = devtool(["call", "slow", "wait", "10000", "--deadline-ms", "500"]);
    assert.equal(r.status, 1, r.stderr);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.match(r.stderr, /REQUEST_TIMEOUT: slow\.wait got no answer within 500 ms \(--deadline-ms\)/);
  });

  test("a call that answers within its deadline prints its result", () => {
    const r = devtool(["call", "slow", "wait", "50", "--deadline-ms", "5000"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "50");
  });

  test("an evaluation past --deadline-ms exits 1 with REQUEST_TIMEOUT", () => {
    const started = Date.now();
    const r = devtool(["repl", "--eval", "await new Promise((r) => setTimeout(r, 10000))", "--deadline-ms", "500"]);
    assert.equal(r.status, 1, r.stderr);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.match(r.stderr, /REQUEST_TIMEOUT: the evaluation got no answer within 500 ms \(--deadline-ms\)/);
  });

  test("a bad --deadline-ms is USAGE, and the help says what each timeout covers", () => {
    const r = devtool(["call", "slow", "wait", "1", "--deadline-ms", "soon"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--deadline-ms must be a positive integer, got "soon"/);
    const help = runCli("devtool", ["call", "--help"]).stdout;
    assert.match(help, /--deadline-ms N +how long to wait for each answer once connected/);
    assert.match(help, /--timeout-ms N +deadline to connect and finish the handshake \(default 5000\); it\n +does not cover the answer/);
  });
});
