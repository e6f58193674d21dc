/**
 * Ephemeral keys under garbage-collection pressure (a node that stopped answering handshakes in
 * CI on Node 20): made with generateKeyPairSync and exported as JWK, a loop with frequent GCs
 * deadlocks within seconds there (the key-generation job, collected during the export of its own
 * key, waits on the lock the export holds). generateEphemeral must run on through the same loop.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../../../helpers/processes.js";

const LOOP = `
import { generateEphemeral } from ${JSON.stringify(join(ROOT, "loader/protocol/crypto/x25519.ts"))};
const end = Date.now() + 3000;
let n = 0;
const junk = [];
while (Date.now() < end) {
  generateEphemeral();
  junk.push(new Array(50).fill(n++));
  if (junk.length > 200) junk.length = 0;
}
console.log("made", n);
`;

test("generateEphemeral runs on through a loop with a GC every few allocations (no deadlock)", { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, ["--max-semi-space-size=1", "--import", "tsx", "--input-type=module", "-e", LOOP], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c) => (out += c));
  child.stderr.on("data", (c) => (out += c));
  const code = await new Promise<number | string>((resolve) => {
    const timer = setTimeout(() => (child.kill("SIGKILL"), resolve("hung")), 30_000);
    child.on("exit", (c) => (clearTimeout(timer), resolve(c ?? "signal")));
  });
  assert.equal(code, 0, `the loop ${code === "hung" ? "hung (deadlock)" : `exited ${code}`}: ${out}`);
  assert.match(out, /made \d+/);
});
