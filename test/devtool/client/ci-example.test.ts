/**
 * examples/ci/deploy.ts, the CI job of the README's "Drive nodes from your scripts", run as a
 * pipeline runs it against a real node: it exits 0 when the modules are pushed and serving,
 * and with the error's exit status when it cannot do its job.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatIdentity, formatPublicKeyLine, generateKeyPair, type KeyPair } from "../../../loader/index.js";
import { ROOT, startNode, tempDir, type CliResult, type NodeProcess } from "../../helpers/processes.js";

let node: NodeProcess;

before(async () => {
  node = await startNode();
});

after(async () => {
  await node.stop();
});

function identityFile(key: KeyPair): string {
  const file = join(tempDir(), "ci.key");
  writeFileSync(file, formatIdentity(key), { mode: 0o600 });
  return file;
}

/** Runs the example as CI would, without blocking the test's event loop (the node's log pipe keeps draining). */
function deploy(env: NodeJS.ProcessEnv): Promise<CliResult> {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "examples/ci/deploy.ts")], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve) => child.on("close", (status) => (clearTimeout(timer), resolve({ status, stdout, stderr }))));
}

test("pushes the example modules, passes its smoke test and status check, and exits 0", async () => {
  const r = await deploy({ FIXPOINT_NODE: `127.0.0.1:${node.port}`, FIXPOINT_NODE_KEY: formatPublicKeyLine(node.nodeKey), FIXPOINT_IDENTITY: identityFile(node.dev) });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^pushed greeter [0-9a-f]{12} live 1$/m);
  assert.match(r.stdout, /^pushed index [0-9a-f]{12} live 1$/m);
  assert.match(r.stdout, /^test-node: 2 of 2 module\(s\) serving$/m);
  // Run again: the same bytes change nothing, and the job still passes.
  const again = await deploy({ FIXPOINT_NODE: `127.0.0.1:${node.port}`, FIXPOINT_NODE_KEY: formatPublicKeyLine(node.nodeKey), FIXPOINT_IDENTITY: identityFile(node.dev) });
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /^pushed greeter [0-9a-f]{12} unchanged$/m);
});

test("exits 3 with NODE_KEY_MISMATCH when the node proves another key than the one pinned, and sends nothing", async () => {
  const r = await deploy({ FIXPOINT_NODE: `127.0.0.1:${node.port}`, FIXPOINT_NODE_KEY: formatPublicKeyLine(generateKeyPair().publicKey), FIXPOINT_IDENTITY: identityFile(node.dev) });
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /^deploy failed: NODE_KEY_MISMATCH: /m);
  assert.doesNotMatch(r.stdout, /pushed/);
});

test("exits 3 with UNKNOWN_IDENTITY for a CI key the node does not trust", async () => {
  const r = await deploy({ FIXPOINT_NODE: `127.0.0.1:${node.port}`, FIXPOINT_NODE_KEY: formatPublicKeyLine(node.nodeKey), FIXPOINT_IDENTITY: identityFile(generateKeyPair()) });
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /^deploy failed: UNKNOWN_IDENTITY: /m);
});

test("exits 1 with FORBIDDEN for a CI key that may only observe", async () => {
  const observer = await startNode({ roles: ["observe"] });
  try {
    const r = await deploy({ FIXPOINT_NODE: `127.0.0.1:${observer.port}`, FIXPOINT_NODE_KEY: formatPublicKeyLine(observer.nodeKey), FIXPOINT_IDENTITY: identityFile(observer.dev) });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^deploy failed: FORBIDDEN: /m);
  } finally {
    await observer.stop();
  }
});
