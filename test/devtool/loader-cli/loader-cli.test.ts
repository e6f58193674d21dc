/**
 * The `loader` CLI as an operator meets it: the built dist/loader.js in a real process.
 */
import assert from "node:assert/strict";
import { cliFails } from "../../helpers/expect-code.js";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { generateKeyPair } from "../../../loader/protocol/crypto/ed25519.js";
import { fingerprint } from "../../../loader/protocol/crypto/fingerprint.js";
import { encodePublicKey, formatPublicKeyLine, parseIdentity, parsePublicKey } from "../../../loader/protocol/crypto/keys.js";
import { HELP } from "../../../devtool/loader-cli/commands.js";
import { ISOLATE_LIMIT_BOUNDS } from "../../../loader/protocol/runtime-ipc.js";
import { parseTrustFile } from "../../../loader/protocol/trust-file.js";
import { runCli, snapshotDir, tempDir, type CliResult } from "../../helpers/processes.js";

const loader = (...args: string[]): CliResult => runCli("loader", args);

/** `loader init` in a fresh directory; returns the data dir. */
function initNode(name = "test-node"): string {
  const data = join(tempDir(), "node");
  const r = loader("init", "--data", data, "--name", name);
  assert.equal(r.status, 0, r.stderr);
  return data;
}

const assertFails = cliFails;

const trustEntries = (data: string) => parseTrustFile(readFileSync(join(data, "trust"), "utf8"), "trust");

describe("loader init", () => {
  test("creates node.key (0600), node.pub, trust, store and config.json, and prints the fingerprint", () => {
    const data = join(tempDir(), "node");
    const r = loader("init", "--data", data, "--name", "edge-1", "--cluster", "eu", "--listen", "0.0.0.0:9000");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(statSync(data).mode & 0o777, 0o700);
    assert.equal(statSync(join(data, "node.key")).mode & 0o777, 0o600);
    const identity = parseIdentity(readFileSync(join(data, "node.key"), "utf8"), "node.key");
    const pubText = readFileSync(join(data, "node.pub"), "utf8");
    assert.equal(pubText.split("\n").length, 2, "node.pub is one line");
    assert.deepEqual(Buffer.from(parsePublicKey(pubText, "node.pub")), Buffer.from(identity.publicKey));
    assert.deepEqual(trustEntries(data), []);
    assert.ok(statSync(join(data, "store", "bundles")).isDirectory());
    assert.deepEqual(JSON.parse(readFileSync(join(data, "config.json"), "utf8")), { name: "edge-1", cluster: "eu", listen: "0.0.0.0:9000", mode: "dev" });
    assert.ok(r.stdout.includes(`fingerprint: ${fingerprint(identity.publicKey)}`), r.stdout);
    assert.ok(r.stdout.includes(`public key:  ${formatPublicKeyLine(identity.publicKey)}`), r.stdout);
  });

  test("defaults to name node-1, cluster default, 127.0.0.1:7420, dev mode", () => {
    const data = join(tempDir(), "node");
    assert.equal(loader("init", "--data", data).status, 0);
    assert.deepEqual(JSON.parse(readFileSync(join(data, "config.json"), "utf8")), { name: "node-1", cluster: "default", listen: "127.0.0.1:7420", mode: "dev" });
  });

  test("refuses to overwrite an existing node with NODE_EXISTS, changing nothing", () => {
    const data = initNode();
    const before = snapshotDir(data);
    assertFails(loader("init", "--data", data), 2, "NODE_EXISTS", data);
    assert.deepEqual(snapshotDir(data), before);
  });

  test("refuses a non-empty directory that holds no node with NODE_EXISTS", () => {
    const data = tempDir();
    writeFileSync(join(data, "notes.txt"), "mine");
    assertFails(loader("init", "--data", data), 2, "NODE_EXISTS", "not empty");
    assert.deepEqual(Object.keys(snapshotDir(data)), ["notes.txt"]);
  });

  test("refuses a bad --name or --listen with USAGE, creating nothing", () => {
    const data = join(tempDir(), "node");
    assertFails(loader("init", "--data", data, "--name", "my node"), 2, "USAGE", "--name");
    assertFails(loader("init", "--data", data, "--listen", "localhost"), 2, "USAGE", "--listen");
    assert.equal(existsSync(data), false);
  });

  test("requires --data", () => {
    assertFails(loader("init"), 2, "USAGE", "--data is required");
  });
});

describe("loader authorize", () => {
  test("adds a key from a FILE.pub, keeping the file's comment", () => {
    const data = initNode();
    const key = generateKeyPair().publicKey;
    const pub = join(tempDir(), "id_ed25519.pub");
    writeFileSync(pub, formatPublicKeyLine(key, "alice@laptop") + "\n");
    const r = loader("authorize", "--data", data, "--key", pub, "--roles", "dev,observe");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Authorized ${fingerprint(key).replace(/[+/]/g, "\\$&")} with roles dev,observe`));
    const entries = trustEntries(data);
    assert.equal(entries.length, 1);
    assert.deepEqual(Buffer.from(entries[0]!.publicKey), Buffer.from(key));
    assert.deepEqual(entries[0]!.roles, ["dev", "observe"]);
    assert.equal(entries[0]!.comment, "alice@laptop");
  });

  test("adds a key given as a string, bare or as an ed25519 line, after the keys already there", () => {
    const data = initNode();
    const a = generateKeyPair().publicKey;
    const b = generateKeyPair().publicKey;
    assert.equal(loader("authorize", "--data", data, "--key", formatPublicKeyLine(a), "--roles", "observe", "--comment", "ci").status, 0);
    assert.equal(loader("authorize", "--data", data, "--key", encodePublicKey(b), "--roles", "release").status, 0);
    const entries = trustEntries(data);
    assert.deepEqual(
      entries.map((e) => [encodePublicKey(e.publicKey), e.roles, e.comment]),
      [
        [encodePublicKey(a), ["observe"], "ci"],
        [encodePublicKey(b), ["release"], ""],
      ],
    );
    assert.ok(readFileSync(join(data, "trust"), "utf8").startsWith("# Fixpoint trust file"), "keeps the header");
  });

  test("updates the roles of a key already listed, in place, keeping its comment", () => {
    const data = initNode();
    const a = generateKeyPair().publicKey;
    const b = generateKeyPair().publicKey;
    assert.equal(loader("authorize", "--data", data, "--key", formatPublicKeyLine(a), "--roles", "dev", "--comment", "alice@laptop").status, 0);
    assert.equal(loader("authorize", "--data", data, "--key", formatPublicKeyLine(b), "--roles", "observe").status, 0);
    const r = loader("authorize", "--data", data, "--key", encodePublicKey(a), "--roles", "observe");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Updated SHA256:/);
    assert.deepEqual(
      trustEntries(data).map((e) => [encodePublicKey(e.publicKey), e.roles, e.comment]),
      [
        [encodePublicKey(a), ["observe"], "alice@laptop"],
        [encodePublicKey(b), ["observe"], ""],
      ],
    );
  });

  test("refuses a malformed trust file, naming the line, and leaves it unchanged", () => {
    const data = initNode();
    const trust = join(data, "trust");
    const text = readFileSync(trust, "utf8") + `roles=observe ed25519 ${encodePublicKey(generateKeyPair().publicKey)}\nroles=dev ed25519 not-a-key\n`;
    writeFileSync(trust, text);
    const lines = text.split("\n").length - 1;
    const r = loader("authorize", "--data", data, "--key", formatPublicKeyLine(generateKeyPair().publicKey), "--roles", "dev");
    assertFails(r, 2, "TRUST_FILE_INVALID", `${trust}:${lines}`);
    assert.equal(readFileSync(trust, "utf8"), text);
  });

  test("refuses an unknown role with USAGE, leaving the trust file unchanged", () => {
    const data = initNode();
    const before = snapshotDir(data);
    assertFails(loader("authorize", "--data", data, "--key", formatPublicKeyLine(generateKeyPair().publicKey), "--roles", "dev,superuser"), 2, "USAGE", '"superuser"');
    assert.deepEqual(snapshotDir(data), before);
  });

  test("refuses a malformed key with IDENTITY_INVALID, and a private identity file given as --key", () => {
    const data = initNode();
    const before = snapshotDir(data);
    assertFails(loader("authorize", "--data", data, "--key", "ed25519 AAAA", "--roles", "dev"), 2, "IDENTITY_INVALID", "--key");
    assertFails(loader("authorize", "--data", data, "--key", join(data, "node.key"), "--roles", "dev"), 2, "IDENTITY_INVALID", "node.key");
    assert.deepEqual(snapshotDir(data), before);
  });

  test("refuses a directory that holds no node with NODE_NOT_INITIALIZED", () => {
    assertFails(loader("authorize", "--data", tempDir(), "--key", encodePublicKey(generateKeyPair().publicKey), "--roles", "dev"), 2, "NODE_NOT_INITIALIZED", "loader init");
  });
});

describe("loader start", () => {
  test("refuses a malformed trust file with TRUST_FILE_INVALID naming the line, before listening", () => {
    const data = initNode();
    const trust = join(data, "trust");
    writeFileSync(trust, readFileSync(trust, "utf8") + `\nroles=dev ed25519 ${encodePublicKey(generateKeyPair().publicKey)}\nroles=god ed25519 ${encodePublicKey(generateKeyPair().publicKey)}\n`);
    const lineNo = readFileSync(trust, "utf8").split("\n").findIndex((l) => l.startsWith("roles=god")) + 1;
    const r = loader("start", "--data", data, "--listen", "127.0.0.1:0");
    assertFails(r, 2, "TRUST_FILE_INVALID", `${trust}:${lineNo}`, '"god"');
    assert.doesNotMatch(r.stderr, /node\.started/);
  });

  test("refuses a config.json with an unknown key with CONFIG_INVALID naming the key", () => {
    const data = initNode();
    const config = join(data, "config.json");
    writeFileSync(config, JSON.stringify({ ...(JSON.parse(readFileSync(config, "utf8")) as object), port: 7420 }));
    const r = loader("start", "--data", data, "--listen", "127.0.0.1:0");
    assertFails(r, 2, "CONFIG_INVALID", config, 'unknown key "port"');
    assert.doesNotMatch(r.stderr, /node\.started/);
  });

  test("refuses a directory that holds no node with NODE_NOT_INITIALIZED", () => {
    assertFails(loader("start", "--data", tempDir(), "--listen", "127.0.0.1:0"), 2, "NODE_NOT_INITIALIZED");
  });

  test("refuses bad --mode, --log-format, --listen and limits with USAGE naming the flag", () => {
    const data = initNode();
    assertFails(loader("start", "--data", data, "--mode", "prod"), 2, "USAGE", "--mode");
    assertFails(loader("start", "--data", data, "--log-format", "xml"), 2, "USAGE", "--log-format");
    assertFails(loader("start", "--data", data, "--listen", "7420"), 2, "USAGE", "--listen");
    assertFails(loader("start", "--data", data, "--max-connections", "0"), 2, "USAGE", "--max-connections");
  });

  test("refuses module limits outside the bounds a module's own limits have, naming them", () => {
    const data = initNode();
    for (const [flag, key] of [["--module-memory-mb", "memoryMb"], ["--module-cpu-ms", "cpuMs"], ["--module-async-ms", "asyncMs"]] as const) {
      const [least, most] = ISOLATE_LIMIT_BOUNDS[key];
      for (const bad of [String(least - 1), String(most + 1), "ten"]) {
        const r = loader("start", "--data", data, "--listen", "127.0.0.1:0", flag, bad);
        assertFails(r, 2, "USAGE", `${flag} must be an integer from ${least} to ${most}, got "${bad}"`);
        assert.doesNotMatch(r.stderr, /node\.started/);
      }
    }
  });
});

describe("loader keys and loader revoke", () => {
  test("keys lists each trusted key with its fingerprint, roles and comment", () => {
    const data = initNode();
    assert.match(loader("keys", "--data", data).stdout, /^No keys in .*trust; add one with `loader authorize`/);
    const a = generateKeyPair().publicKey;
    const b = generateKeyPair().publicKey;
    assert.equal(loader("authorize", "--data", data, "--key", formatPublicKeyLine(a), "--roles", "dev,observe", "--comment", "alice@laptop").status, 0);
    assert.equal(loader("authorize", "--data", data, "--key", formatPublicKeyLine(b), "--roles", "observe").status, 0);
    const r = loader("keys", "--data", data);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, new RegExp(`^${fingerprint(a).replace(/[+/]/g, "\\$&")}\\s+dev,observe\\s+alice@laptop$`));
    assert.match(lines[1]!, new RegExp(`^${fingerprint(b).replace(/[+/]/g, "\\$&")}\\s+observe$`));
  });

  test("revoke removes a key given as a fingerprint, a key or a FILE.pub, keeping every other line", () => {
    const data = initNode();
    const [a, b, c] = [generateKeyPair().publicKey, generateKeyPair().publicKey, generateKeyPair().publicKey];
    for (const [key, comment] of [[a, "alice"], [b, "bob"], [c, "carol"]] as const) {
      assert.equal(loader("authorize", "--data", data, "--key", formatPublicKeyLine(key), "--roles", "dev", "--comment", comment).status, 0);
    }
    const trust = join(data, "trust");
    writeFileSync(trust, readFileSync(trust, "utf8") + "# a note kept by hand\n");
    const byFingerprint = loader("revoke", "--data", data, "--key", fingerprint(b));
    assert.equal(byFingerprint.status, 0, byFingerprint.stderr);
    assert.match(byFingerprint.stdout, /^Revoked SHA256:\S+ \(bob\), roles dev, in /);
    assert.equal(loader("revoke", "--data", data, "--key", encodePublicKey(a)).status, 0);
    const file = join(tempDir(), "carol.pub");
    writeFileSync(file, formatPublicKeyLine(c) + " carol\n");
    assert.equal(loader("revoke", "--data", data, "--key", file).status, 0);
    assert.deepEqual(trustEntries(data), []);
    const text = readFileSync(trust, "utf8");
    assert.ok(text.startsWith("# Fixpoint trust file") && text.includes("# a note kept by hand"), text);
  });

  test("revoke of a key the node does not hold is KEY_NOT_FOUND and changes nothing", () => {
    const data = initNode();
    const before = snapshotDir(data);
    assertFails(loader("revoke", "--data", data, "--key", fingerprint(generateKeyPair().publicKey)), 2, "KEY_NOT_FOUND", "loader keys");
    assertFails(loader("revoke", "--data", data, "--key", formatPublicKeyLine(generateKeyPair().publicKey)), 2, "KEY_NOT_FOUND");
    assertFails(loader("revoke", "--data", data), 2, "USAGE", "--key");
    assertFails(loader("keys", "--data", tempDir()), 2, "NODE_NOT_INITIALIZED", "loader init");
    assert.deepEqual(snapshotDir(data), before);
  });
});

describe("loader usage", () => {
  for (const command of ["init", "authorize", "keys", "revoke", "start"] as const) {
    test(`${command} refuses an unknown flag with USAGE naming it, then its help, on stderr`, () => {
      const r = loader(command, "--data", tempDir(), "--frobnicate");
      assertFails(r, 2, "USAGE", "--frobnicate");
      assert.ok(r.stderr.includes(HELP[command]), `stderr should hold the ${command} help:\n${r.stderr}`);
      assert.equal(r.stdout, "");
    });

    test(`${command} --help prints its usage and exits 0`, () => {
      const r = loader(command, "--help");
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, HELP[command]);
      assert.match(r.stdout, new RegExp(`^Usage: loader ${command} `));
    });
  }

  test("a stray positional argument is USAGE", () => {
    assertFails(loader("init", "extra"), 2, "USAGE", '"extra"');
  });

  test("--help alone prints the command list and exits 0; no command at all exits 2", () => {
    const help = loader("--help");
    assert.equal(help.status, 0);
    assert.equal(help.stdout, HELP.main);
    const none = loader();
    assert.equal(none.status, 2);
    assert.equal(none.stdout, HELP.main);
  });

  test("an unknown command is USAGE with the command list, exit 2", () => {
    const r = loader("deploy");
    assertFails(r, 2, "USAGE", '"deploy"');
    assert.ok(r.stderr.includes(HELP.main));
  });
});
