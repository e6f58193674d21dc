/**
 * The `devtool` CLI as a developer meets it: the built dist/devtool.js in a real process,
 * talking to real nodes (dist/loader.js) over loopback. FIXPOINT_HOME always points at a
 * temporary directory, so no test reads or writes the real ~/.fixpoint.
 */
import assert from "node:assert/strict";
import { cliFails } from "../helpers/expect-code.js";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { generateKeyPair, type KeyPair } from "../../loader/protocol/crypto/ed25519.js";
import { fingerprint } from "../../loader/protocol/crypto/fingerprint.js";
import { encodePublicKey, formatIdentity, formatPublicKeyLine, parseIdentity, parsePublicKey } from "../../loader/protocol/crypto/keys.js";
import { HELP as KEYGEN_HELP } from "../../devtool/commands/keygen.js";
import { HELP as PUSH_HELP } from "../../devtool/commands/push.js";
import { HELP as STATUS_HELP } from "../../devtool/commands/status.js";
import { flushedSnapshot, runCli, snapshotDir, startNode, tempDir, type CliResult, type NodeProcess } from "../helpers/processes.js";

const HELP = { keygen: KEYGEN_HELP, status: STATUS_HELP, push: PUSH_HELP } as const;
/** A directory with no fixpoint.json in or above it. */
const nowhere = tempDir();

function devtool(args: string[], options: { home?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  return runCli("devtool", args, {
    cwd: options.cwd ?? nowhere,
    env: { FIXPOINT_HOME: options.home ?? tempDir(), FIXPOINT_IDENTITY: "", ...options.env },
  });
}

const assertFails = cliFails;

/** Writes `pair` as an identity file (mode 0600) and returns its path. */
function identityFile(pair: KeyPair): string {
  const file = join(tempDir(), "id_ed25519");
  writeFileSync(file, formatIdentity(pair), { mode: 0o600 });
  return file;
}

const addressOf = (node: NodeProcess) => `127.0.0.1:${node.port}`;

/** A project directory holding `fixpoint.json` with `config` (written as given). */
function project(config: unknown): string {
  const dir = tempDir("fixpoint-project-");
  writeFileSync(join(dir, "fixpoint.json"), typeof config === "string" ? config : JSON.stringify(config, null, 2));
  return dir;
}

const pinned = (node: NodeProcess, name = "node-a", key = node.nodeKey) => ({ name, address: addressOf(node), key: formatPublicKeyLine(key) });

describe("devtool keygen", () => {
  test("writes FILE (mode 0600) and FILE.pub (one line) and prints the public key and fingerprint", () => {
    const file = join(tempDir(), "keys", "me");
    const r = devtool(["keygen", "--out", file, "--comment", "me@test"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const pair = parseIdentity(readFileSync(file, "utf8"), file);
    const pub = readFileSync(`${file}.pub`, "utf8");
    assert.equal(pub, `${formatPublicKeyLine(pair.publicKey, "me@test")}\n`);
    assert.deepEqual(Buffer.from(parsePublicKey(pub, "pub")), Buffer.from(pair.publicKey));
    assert.ok(r.stdout.includes(`public key:  ${formatPublicKeyLine(pair.publicKey)}`), r.stdout);
    assert.ok(r.stdout.includes(`fingerprint: ${fingerprint(pair.publicKey)}`), r.stdout);
    assert.match(fingerprint(pair.publicKey), /^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  test("refuses to overwrite an identity without --force, and replaces it with --force", () => {
    const dir = tempDir();
    const file = join(dir, "me");
    assert.equal(devtool(["keygen", "--out", file]).status, 0);
    const old = readFileSync(file, "utf8");
    const before = snapshotDir(dir);
    assertFails(devtool(["keygen", "--out", file]), 2, "USAGE", file, "--force");
    assert.deepEqual(snapshotDir(dir), before);
    const r = devtool(["keygen", "--out", file, "--force"]);
    assert.equal(r.status, 0, r.stderr);
    const replaced = parseIdentity(readFileSync(file, "utf8"), file);
    assert.notEqual(readFileSync(file, "utf8"), old);
    assert.equal(readFileSync(`${file}.pub`, "utf8").split(" ")[1], encodePublicKey(replaced.publicKey));
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  test("writes to FIXPOINT_HOME/id_ed25519 by default, creating the directory private", () => {
    const home = join(tempDir(), "fixpoint-home");
    const r = devtool(["keygen"], { home });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(statSync(home).mode & 0o777, 0o700);
    assert.equal(statSync(join(home, "id_ed25519")).mode & 0o777, 0o600);
    assert.ok(existsSync(join(home, "id_ed25519.pub")));
    assert.ok(r.stdout.includes(join(home, "id_ed25519")), r.stdout);
  });

  test("writes to FIXPOINT_IDENTITY when it is set", () => {
    const home = tempDir();
    const file = join(tempDir(), "ci-key");
    const r = devtool(["keygen"], { home, env: { FIXPOINT_IDENTITY: file } });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(file) && existsSync(`${file}.pub`));
    assert.equal(existsSync(join(home, "id_ed25519")), false);
  });
});

describe("devtool usage", () => {
  for (const command of ["keygen", "status", "push"] as const) {
    test(`${command} refuses an unknown flag with USAGE naming it, then its help`, () => {
      const r = devtool([command, "--frobnicate"]);
      assertFails(r, 2, "USAGE", "--frobnicate");
      assert.ok(r.stderr.includes(HELP[command]), `stderr should hold the ${command} help:\n${r.stderr}`);
    });

    test(`${command} --help prints its usage and exits 0`, () => {
      const r = devtool([command, "--help"]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, HELP[command]);
      assert.match(r.stdout, new RegExp(`^Usage: devtool ${command}`));
    });
  }

  test("an unknown command is USAGE, exit 2; --help lists the commands", () => {
    assertFails(devtool(["deploy"]), 2, "USAGE", '"deploy"');
    const help = devtool(["--help"]);
    assert.equal(help.status, 0);
    for (const command of ["keygen", "status", "push"]) assert.match(help.stdout, new RegExp(`^  ${command} `, "m"));
  });

  test("status with no --node and no fixpoint.json is USAGE", () => {
    assertFails(devtool(["status"]), 2, "USAGE", "--node HOST:PORT");
  });

  test("a missing identity is IDENTITY_MISSING and one readable by others is IDENTITY_INVALID, before connecting", () => {
    const missing = join(tempDir(), "nope");
    assertFails(devtool(["status", "--node", "127.0.0.1:1", "--identity", missing]), 2, "IDENTITY_MISSING", missing, "devtool keygen");
    const open = identityFile(generateKeyPair());
    chmodSync(open, 0o644);
    assertFails(devtool(["status", "--node", "127.0.0.1:1", "--identity", open]), 2, "IDENTITY_INVALID", "chmod 600");
  });
});

describe("devtool reading fixpoint.json", () => {
  const key = formatPublicKeyLine(generateKeyPair().publicKey);
  const node = { name: "node-a", address: "127.0.0.1:7420", key };
  const cases: [string, unknown, string][] = [
    ["an unknown key at the top level", { nodes: [node], nodez: [] }, '"nodez"'],
    ["an unknown key in a node", { nodes: [{ ...node, port: 7420 }] }, '"nodes[0]": unknown key "port"'],
    ["a bad node address", { nodes: [{ ...node, address: "127.0.0.1" }] }, '"nodes[0]".address'],
    ["a bad node key", { nodes: [{ ...node, key: "ed25519 AAAA" }] }, '"nodes[0]".key'],
  ];
  for (const [what, config, mention] of cases) {
    test(`refuses ${what} with CONFIG_INVALID naming it`, () => {
      const dir = project(config);
      assertFails(devtool(["status"], { cwd: dir }), 2, "CONFIG_INVALID", join(dir, "fixpoint.json"), mention);
    });
  }
});

describe("devtool status", () => {
  let node: NodeProcess;
  let identity: string;
  before(async () => {
    node = await startNode();
    identity = identityFile(node.dev);
  });
  after(async () => {
    await node?.stop();
  });

  test("refuses a node whose key is not pinned with NODE_KEY_UNPINNED, showing its fingerprint and recording nothing", () => {
    const home = tempDir();
    const r = devtool(["status", "--node", addressOf(node), "--identity", identity], { home });
    assertFails(r, 3, "NODE_KEY_UNPINNED", fingerprint(node.nodeKey), "--accept-new");
    assert.equal(r.stdout, "");
    assert.deepEqual(snapshotDir(home), {});
  });

  test("--accept-new pins a new node in known_nodes and prints its fingerprint; later runs need no flag", () => {
    const home = tempDir();
    const first = devtool(["status", "--node", addressOf(node), "--identity", identity, "--accept-new"], { home });
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, /^pinned /m);
    assert.ok(first.stderr.includes(fingerprint(node.nodeKey)), first.stderr);
    const known = readFileSync(join(home, "known_nodes"), "utf8");
    assert.ok(known.split("\n").includes(`${addressOf(node)} ed25519 ${encodePublicKey(node.nodeKey)}`), known);
    assert.match(first.stdout, /^test-node /m);
    assert.ok(first.stdout.includes(fingerprint(node.nodeKey)), first.stdout);

    const again = devtool(["status", "--node", addressOf(node), "--identity", identity], { home });
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /pinned/);
    assert.equal(readFileSync(join(home, "known_nodes"), "utf8"), known);
  });

  test("talks to a node pinned in fixpoint.json, found from the working directory", () => {
    const home = tempDir();
    const r = devtool(["status", "--identity", identity], { home, cwd: project({ nodes: [pinned(node)] }) });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^test-node 127\.0\.0\.1:\d+ cluster default$/m);
    assert.match(r.stdout, /^  mode +dev$/m);
    assert.match(r.stdout, /^  modules +none$/m);
    assert.deepEqual(snapshotDir(home), {}, "nothing written to known_nodes");
  });

  test("refuses a node whose key differs from the pin in fixpoint.json with NODE_KEY_MISMATCH naming both fingerprints", () => {
    const other = generateKeyPair().publicKey;
    const r = devtool(["status", "--identity", identity, "--accept-new"], { cwd: project({ nodes: [pinned(node, "node-a", other)] }) });
    assertFails(r, 3, "NODE_KEY_MISMATCH", fingerprint(node.nodeKey), fingerprint(other), "fixpoint.json");
    assert.equal(r.stdout, "");
  });

  test("refuses a node whose key differs from the pin in known_nodes with NODE_KEY_MISMATCH naming both fingerprints", () => {
    const home = tempDir();
    const other = generateKeyPair().publicKey;
    writeFileSync(join(home, "known_nodes"), `${addressOf(node)} ed25519 ${encodePublicKey(other)}\n`);
    const before = snapshotDir(home);
    const r = devtool(["status", "--node", addressOf(node), "--identity", identity, "--accept-new"], { home });
    assertFails(r, 3, "NODE_KEY_MISMATCH", fingerprint(node.nodeKey), fingerprint(other), join(home, "known_nodes"));
    assert.deepEqual(snapshotDir(home), before, "--accept-new does not overwrite a pin");
  });

  test("--json prints one parseable object per node", () => {
    const r = devtool(["status", "--json", "--identity", identity], { cwd: project({ nodes: [pinned(node)] }) });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 1);
    const status = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(status["node"], "node-a");
    assert.equal(status["address"], addressOf(node));
    assert.equal(status["name"], "test-node");
    assert.equal(status["mode"], "dev");
    assert.equal(status["publicKey"], encodePublicKey(node.nodeKey));
    assert.equal(status["fingerprint"], fingerprint(node.nodeKey));
    assert.ok(Array.isArray(status["modules"]));
  });

  test("asks every node in fixpoint.json; with one down it prints the other and exits non-zero", async (t) => {
    const second = await startNode({ dev: node.dev });
    t.after(() => second.stop());
    const dir = project({ nodes: [pinned(node, "node-a"), pinned(second, "node-b")] });
    const both = devtool(["status", "--identity", identity], { cwd: dir });
    assert.equal(both.status, 0, both.stderr);
    assert.ok(both.stdout.includes(`${addressOf(node)} cluster`) && both.stdout.includes(`${addressOf(second)} cluster`), both.stdout);

    await second.stop();
    const one = devtool(["status", "--identity", identity], { cwd: dir });
    assert.notEqual(one.status, 0);
    assertFails(one, 3, "CONNECT_FAILED");
    assert.match(one.stderr, /^error node-b: CONNECT_FAILED: /m);
    assert.ok(one.stdout.includes(`${addressOf(node)} cluster`), one.stdout);
    assert.ok(!one.stdout.includes(addressOf(second)), one.stdout);

    const json = devtool(["status", "--json", "--identity", identity], { cwd: dir });
    const lines = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as { node: string; error?: { code: string } });
    assert.deepEqual(lines.map((l) => [l.node, l.error?.code]), [["node-a", undefined], ["node-b", "CONNECT_FAILED"]]);
  });
});

describe("devtool push", () => {
  let node: NodeProcess;
  let identity: string;
  let dir: string;
  before(async () => {
    node = await startNode();
    identity = identityFile(node.dev);
    dir = project({ modules: ["src/greeter.ts"], nodes: [pinned(node)] });
    mkdirSync(join(dir, "src"));
    writeFileSync(join(dir, "src", "util.ts"), 'export const greeting = (name: string): string => `hello, ${name}`;\n');
    writeFileSync(
      join(dir, "src", "greeter.ts"),
      'import { defineModule } from "fixpoint";\nimport { greeting } from "./util";\nexport default defineModule({ functions: { greet: (ctx, name: string) => greeting(name) } });\n',
    );
  });
  after(async () => {
    await node?.stop();
  });
  const storeOf = () => join(node.dataDir, "store");
  const push = (args: string[], id = identity) => devtool(["push", ...args, "--identity", id], { cwd: dir });

  test("builds, signs and stores a module; status lists its digest; the same file again is unchanged", async () => {
    const r = push(["src/greeter.ts"]);
    assert.equal(r.status, 0, r.stderr);
    const match = /^node-a +greeter +([0-9a-f]{12}) +live /m.exec(r.stdout);
    assert.ok(match !== null, r.stdout);
    const prefix = match[1]!;

    const status = devtool(["status", "--json", "--identity", identity], { cwd: dir });
    assert.equal(status.status, 0, status.stderr);
    const { modules } = JSON.parse(status.stdout) as { modules: { name: string; digest: string; size: number }[] };
    assert.equal(modules.length, 1);
    assert.equal(modules[0]!.name, "greeter");
    assert.ok(modules[0]!.digest.startsWith(prefix), `${modules[0]!.digest} should start with ${prefix}`);

    // No FILE: the modules listed in fixpoint.json. (The bundle and the table on disk follow a
    // push at the node's next snapshot: taken once it has.)
    const conn = await node.connect();
    await flushedSnapshot(node, conn);
    conn.close();
    assert.ok(existsSync(join(storeOf(), "bundles", `${modules[0]!.digest}.bundle`)));
    const before = snapshotDir(storeOf());
    const again = push([]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`^node-a +greeter +${prefix} +unchanged `, "m"));
    assert.deepEqual(snapshotDir(storeOf()), before);
  });

  test("pushing again repairs a module whose stored bundle was corrupted while the node was down", async (t) => {
    const moduleNames = (cwd: string): string[] => {
      const r = devtool(["status", "--json", "--identity", identity], { cwd });
      assert.equal(r.status, 0, r.stderr);
      return (JSON.parse(r.stdout) as { modules: { name: string }[] }).modules.map((m) => m.name);
    };
    const file = join(dir, "src", "greeter.ts");
    const first = await startNode({ dev: node.dev });
    t.after(() => first.stop());
    const push = devtool(["push", file, "--identity", identity], { cwd: project({ nodes: [pinned(first)] }) });
    assert.equal(push.status, 0, push.stderr);
    await first.stop();
    const bundles = join(first.dataDir, "store", "bundles");
    const [stored] = Object.keys(snapshotDir(bundles));
    assert.ok(stored !== undefined);
    writeFileSync(join(bundles, stored), "garbage");

    const restarted = await startNode({ dataDir: first.dataDir, dev: node.dev });
    t.after(() => restarted.stop());
    assert.equal((await restarted.waitForLog("store.corrupt"))["code"], "STORE_CORRUPT");
    const cwd = project({ nodes: [pinned(restarted)] });
    assert.deepEqual(moduleNames(cwd), [], "a corrupted bundle is not loaded");
    const again = devtool(["push", file, "--identity", identity], { cwd });
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(moduleNames(cwd), ["greeter"]);
    assert.notEqual(readFileSync(join(bundles, stored), "utf8"), "garbage");
  });

  test("a build error is BUILD_FAILED naming file:line, and nothing is pushed", () => {
    writeFileSync(join(dir, "src", "fresh.ts"), 'import { defineModule } from "fixpoint";\nexport default defineModule({});\n');
    writeFileSync(join(dir, "src", "broken.ts"), "export function broken() {\n  return 1;\n  const = 2;\n}\n");
    const before = snapshotDir(storeOf());
    const r = push(["src/fresh.ts", "src/broken.ts"]);
    assertFails(r, 1, "BUILD_FAILED", "src/broken.ts:3:");
    assert.deepEqual(snapshotDir(storeOf()), before);
    assert.match(r.stderr, /^ +const = 2;\n +\^/m, "shows the line with a caret");
  });

  test("a key with only the observe role can see status but gets FORBIDDEN on push", () => {
    const observer = generateKeyPair();
    const auth = runCli("loader", ["authorize", "--data", node.dataDir, "--key", formatPublicKeyLine(observer.publicKey), "--roles", "observe"]);
    assert.equal(auth.status, 0, auth.stderr);
    const id = identityFile(observer);
    assert.equal(devtool(["status", "--identity", id], { cwd: dir }).status, 0);
    const before = snapshotDir(storeOf());
    assertFails(push(["src/fresh.ts"], id), 1, "FORBIDDEN", "needs one of the roles dev");
    assert.deepEqual(snapshotDir(storeOf()), before);
  });

  test("a key the node does not trust gets UNKNOWN_IDENTITY", () => {
    const before = snapshotDir(storeOf());
    assertFails(push(["src/fresh.ts"], identityFile(generateKeyPair())), 3, "UNKNOWN_IDENTITY", "loader authorize");
    assert.deepEqual(snapshotDir(storeOf()), before);
  });
});
