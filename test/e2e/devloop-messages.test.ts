/**
 * What the devtool says, against a real node (issue 12.11): each thing once, in agreement with
 * fixpoint.json, and nothing misleading — the first push timed without a "save", a file saved
 * back to good content said to be fixed, a pin under another address named.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatIdentity, formatPublicKeyLine } from "../../loader/index.js";
import { resolveTargets } from "../../devtool/nodes/targets.js";
import { runCli, spawnCli, startNode, tempDir, type NodeProcess } from "../helpers/processes.js";

const good = `import { defineModule } from "fixpoint";\nexport default defineModule({ version: "1", state: {} });\n`;

describe("the devtool's messages", () => {
  let node: NodeProcess;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    node = await startNode();
    dir = tempDir("fixpoint-messages-");
    const identity = join(dir, "id_ed25519");
    writeFileSync(identity, formatIdentity(node.dev), { mode: 0o600 });
    env = { FIXPOINT_HOME: join(dir, "home"), FIXPOINT_IDENTITY: identity };
  });
  after(() => node.stop());

  test("status --accept-new names the address once; a pin under 127.0.0.1 is named when the node is reached as localhost", () => {
    const first = runCli("devtool", ["status", "--node", `127.0.0.1:${node.port}`, "--accept-new"], { cwd: dir, env });
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, new RegExp(`^pinned 127\\.0\\.0\\.1:${node.port} with key SHA256:\\S+ in \\S+known_nodes\\n`));
    const other = runCli("devtool", ["status", "--node", `localhost:${node.port}`], { cwd: dir, env });
    assert.equal(other.status, 3, other.stderr);
    assert.match(other.stderr, new RegExp(`NODE_KEY_UNPINNED: node localhost:${node.port} is not pinned under that address, but its key SHA256:\\S+ is pinned for 127\\.0\\.0\\.1:${node.port}`));
    assert.match(other.stderr, new RegExp(`Use --node 127\\.0\\.0\\.1:${node.port}, or rerun with --accept-new`));
  });

  test("status says when the node's cluster is not the one fixpoint.json names", () => {
    const project = tempDir("fixpoint-cluster-");
    writeFileSync(join(project, "fixpoint.json"), JSON.stringify({ cluster: "example", nodes: [{ name: "n1", address: `127.0.0.1:${node.port}`, key: formatPublicKeyLine(node.nodeKey) }] }));
    const r = runCli("devtool", ["status"], { cwd: project, env });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^test-node 127\.0\.0\.1:\d+ cluster default \(\S+fixpoint\.json says cluster example\)$/m);
  });

  test("--node HOST without a port means the default port 7420", () => {
    assert.deepEqual(resolveTargets("127.0.0.1", null)[0]?.address, { host: "127.0.0.1", port: 7420 });
    assert.deepEqual(resolveTargets("node1.example.com", null)[0]?.address, { host: "node1.example.com", port: 7420 });
    assert.equal(resolveTargets("[::1]", null)[0]?.address.port, 7420);
  });

  test("push --watch times the first push without a save, and says a file saved back to good content is fixed", { timeout: 60_000 }, async () => {
    const file = join(dir, "fixme.ts");
    writeFileSync(file, good);
    const watch = spawnCli("devtool", ["push", "--watch", "fixme.ts", "--node", `127.0.0.1:${node.port}`], { cwd: dir, env });
    try {
      await watch.waitFor(/watching 1 module/);
      assert.match(watch.output().stdout, /fixme +[0-9a-f]{12} +live v1 .*\d+\.\d ms\n/);
      assert.doesNotMatch(watch.output().stdout, /from save/);
      writeFileSync(file, good.replace("state: {}", "state: {},,"));
      await watch.waitFor(/build failed fixme: nothing pushed/);
      writeFileSync(file, good);
      await watch.waitFor(/fixed fixme: builds again, and what runs is this same code/);
    } finally {
      assert.equal(await watch.stop(), 0);
    }
  });
});

describe("module types beside the dev loop (issue 12.8)", () => {
  let node: NodeProcess;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    node = await startNode();
    dir = tempDir("fixpoint-types-");
    const identity = join(dir, "id_ed25519");
    writeFileSync(identity, formatIdentity(node.dev), { mode: 0o600 });
    env = { FIXPOINT_HOME: join(dir, "home"), FIXPOINT_IDENTITY: identity };
  });
  after(() => node.stop());

  test("a numeric version fails the load with a clear error, and the module is not live", () => {
    writeFileSync(join(dir, "numbered.ts"), `import { defineModule } from "fixpoint";\nexport default defineModule({ version: 1 as unknown as string, state: {} });\n`);
    const r = runCli("devtool", ["push", "numbered.ts", "--node", `127.0.0.1:${node.port}`, "--accept-new"], { cwd: dir, env });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /MODULE_LOAD_FAILED: .*defineModule: "version" must be a string such as "2", got the number 1; write version: "1"/);
  });

  test("push --watch reports a type error from tsc beside the push, which goes live anyway, and says when it is gone", { timeout: 90_000 }, async () => {
    const file = join(dir, "typed.ts");
    const source = (value: string) => `import { defineModule } from "fixpoint";\nconst limit: number = ${value};\nexport default defineModule({ version: "1", state: { limit } });\n`;
    writeFileSync(file, source(`"ten"`));
    const watch = spawnCli("devtool", ["push", "--watch", "typed.ts", "--node", `127.0.0.1:${node.port}`], { cwd: dir, env });
    try {
      await watch.waitFor(/typed +[0-9a-f]{12} +live v1/);
      await watch.waitFor(/types 1 type error \(tsc, beside the dev loop; what was pushed runs anyway\):\n +typed\.ts\(2,7\): error TS2322: Type 'string' is not assignable to type 'number'/, 60_000);
      writeFileSync(file, source("10"));
      await watch.waitFor(/types no type errors now/, 60_000);
    } finally {
      assert.equal(await watch.stop(), 0);
    }
  });
});
