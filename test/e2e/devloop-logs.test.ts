/**
 * `devtool logs` as a log reader uses it (issue 12.2, 12.11): following a node across its
 * restart as `pm2 logs` does, filtering by module and level, and without the noise of every
 * devtool command's connection.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { formatIdentity, formatPublicKeyLine, generateKeyPair } from "../../loader/index.js";
import { runCli, spawnCli, startNode, tempDir } from "../helpers/processes.js";

const talker = (name: string) => `import { defineModule } from "fixpoint";
export default defineModule({
  version: "1",
  state: {},
  functions: {
    say: (ctx, what: string) => { console.log("${name} says", what); },
    warn: (ctx, what: string) => { console.warn("${name} warns", what); },
  },
});
`;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

test("logs --follow says when its node goes away, reconnects when it is back, and shows what it logs after the restart", { timeout: 90_000 }, async () => {
  const port = await freePort();
  const dev = generateKeyPair();
  const listen = ["--listen", `127.0.0.1:${port}`];
  let node = await startNode({ dev, args: listen });
  const dir = tempDir("fixpoint-logs-");
  const home = join(dir, "home");
  mkdirSync(home);
  writeFileSync(join(home, "id_ed25519"), formatIdentity(dev), { mode: 0o600 });
  writeFileSync(join(dir, "fixpoint.json"), JSON.stringify({ modules: ["alpha.ts", "beta.ts"], nodes: [{ name: "n1", address: `127.0.0.1:${port}`, key: formatPublicKeyLine(node.nodeKey) }] }));
  writeFileSync(join(dir, "alpha.ts"), talker("alpha"));
  writeFileSync(join(dir, "beta.ts"), talker("beta"));
  const env = { FIXPOINT_HOME: home, FIXPOINT_IDENTITY: "" };
  const follow = spawnCli("devtool", ["logs", "--follow", "--lines", "0"], { cwd: dir, env });
  try {
    assert.equal(runCli("devtool", ["push"], { cwd: dir, env }).status, 0);
    assert.equal(runCli("devtool", ["call", "alpha", "say", '"before"'], { cwd: dir, env }).status, 0);
    await follow.waitFor(/n1 info +\[alpha\] alpha says before/);

    assert.equal(await node.stop(), 0);
    await follow.waitFor(/logs n1: connection lost \(SHUTTING_DOWN: [^)]*\); reconnecting when the node is back/);
    assert.equal(follow.child.exitCode, null, "still following while the node is down");
    node = await startNode({ dev, dataDir: node.dataDir, args: listen });
    await follow.waitFor(/logs n1: reconnected/);
    // The lines the node logged while it came back, missed while disconnected, are shown.
    await follow.waitFor(/n1 info +node\.started/);
    assert.equal(runCli("devtool", ["call", "alpha", "say", '"after"'], { cwd: dir, env }).status, 0);
    await follow.waitFor(/n1 info +\[alpha\] alpha says after/);
    assert.equal((follow.output().stdout.match(/alpha says before/g) ?? []).length, 1, "nothing shown twice");
    assert.doesNotMatch(follow.output().stdout, /connection\.(opened|closed)/, "the commands' own connections are not shown");
    assert.equal(await follow.stop(), 0);

    assert.equal(runCli("devtool", ["call", "beta", "say", '"hello"'], { cwd: dir, env }).status, 0);
    assert.equal(runCli("devtool", ["call", "beta", "warn", '"careful"'], { cwd: dir, env }).status, 0);
    const onlyBeta = runCli("devtool", ["logs", "--module", "beta"], { cwd: dir, env });
    assert.equal(onlyBeta.status, 0, onlyBeta.stderr);
    assert.match(onlyBeta.stdout, /\[beta\] beta says hello/);
    assert.doesNotMatch(onlyBeta.stdout, /alpha|node\.started/);
    const warnings = runCli("devtool", ["logs", "--level", "warn"], { cwd: dir, env });
    assert.equal(warnings.status, 0, warnings.stderr);
    assert.match(warnings.stdout, /warn +\[beta\] beta warns careful/);
    assert.doesNotMatch(warnings.stdout, / info /);
    const bad = runCli("devtool", ["logs", "--level", "loud"], { cwd: dir, env });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--level must be one of debug, info, warn, error, got "loud"/);
  } finally {
    await follow.stop();
    await node.stop();
  }
});

test("devtool dev against the nodes of fixpoint.json shows their modules' console output as it shows a local node's", { timeout: 90_000 }, async () => {
  const dev = generateKeyPair();
  const node = await startNode({ dev });
  const dir = tempDir("fixpoint-dev-remote-");
  const home = join(dir, "home");
  mkdirSync(home);
  writeFileSync(join(home, "id_ed25519"), formatIdentity(dev), { mode: 0o600 });
  writeFileSync(join(dir, "fixpoint.json"), JSON.stringify({ modules: ["alpha.ts"], nodes: [{ name: "n1", address: `127.0.0.1:${node.port}`, key: formatPublicKeyLine(node.nodeKey) }] }));
  writeFileSync(join(dir, "alpha.ts"), talker("alpha"));
  const env = { FIXPOINT_HOME: home, FIXPOINT_IDENTITY: "" };
  const loop = spawnCli("devtool", ["dev", dir], { cwd: dir, env });
  try {
    await loop.waitFor(/✓ n1 alpha/);
    assert.equal(runCli("devtool", ["call", "alpha", "say", '"hello"'], { cwd: dir, env }).status, 0);
    // The node publishes { time, level, event, fields }; read as a JSON log line, it showed "[undefined] undefined".
    await loop.waitFor(/n1 info +\[alpha\] alpha says hello/);
    assert.doesNotMatch(loop.output().stdout, /undefined|\[object Object\]/);
  } finally {
    await loop.stop();
    await node.stop();
  }
});
