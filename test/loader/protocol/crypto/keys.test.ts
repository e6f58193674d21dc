import assert from "node:assert/strict";
import { throwsCode } from "../../../helpers/expect-code.js";
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { keyPairFromSeed } from "../../../../loader/protocol/crypto/ed25519.js";
import { fingerprint } from "../../../../loader/protocol/crypto/fingerprint.js";
import {
  decodeBase64Exact,
  encodePublicKey,
  formatIdentity,
  formatPublicKeyLine,
  parseIdentity,
  parsePublicKey,
  readIdentityFile,
  restrictToOwner,
} from "../../../../loader/protocol/crypto/keys.js";
import { FixpointError } from "../../../../loader/protocol/errors.js";


const pair = keyPairFromSeed(new Uint8Array(32).fill(3));
const other = keyPairFromSeed(new Uint8Array(32).fill(4));
const b64 = encodePublicKey(pair.publicKey);
const same = (a: Uint8Array, b: Uint8Array): void => assert.deepEqual(Buffer.from(a), Buffer.from(b));

describe("parsePublicKey", () => {
  test("accepts bare base64", () => {
    same(parsePublicKey(b64, "--key"), pair.publicKey);
  });

  test('accepts "ed25519 BASE64", with or without a comment, and surrounding whitespace', () => {
    same(parsePublicKey(`ed25519 ${b64}`, "--key"), pair.publicKey);
    same(parsePublicKey(`ed25519 ${b64} alice@laptop`, "--key"), pair.publicKey);
    same(parsePublicKey(`  ed25519\t${b64}   ci deploy key \n`, "--key"), pair.publicKey);
  });

  test("rejects bare base64 followed by more words, which is ambiguous", () => {
    throwsCode(() => parsePublicKey(`${b64} junk`, "--key"), "IDENTITY_INVALID", "--key");
  });

  test("reads back what formatPublicKeyLine writes", () => {
    assert.equal(formatPublicKeyLine(pair.publicKey), `ed25519 ${b64}`);
    assert.equal(formatPublicKeyLine(pair.publicKey, ""), `ed25519 ${b64}`);
    assert.equal(formatPublicKeyLine(pair.publicKey, "alice"), `ed25519 ${b64} alice`);
    same(parsePublicKey(formatPublicKeyLine(pair.publicKey, "alice"), "FILE.pub"), pair.publicKey);
  });

  test("rejects a key of the wrong length with IDENTITY_INVALID", () => {
    for (const length of [0, 1, 31, 33, 64]) {
      const text = Buffer.alloc(length, 1).toString("base64");
      throwsCode(() => parsePublicKey(`ed25519 ${text}`, "trust line 3"), "IDENTITY_INVALID", "trust line 3");
    }
  });

  test("rejects non-canonical base64 (unpadded, non-zero padding bits, URL-safe alphabet, inner whitespace)", () => {
    const unpadded = b64.replace(/=+$/, "");
    assert.notEqual(unpadded, b64);
    throwsCode(() => parsePublicKey(unpadded, "--key"), "IDENTITY_INVALID");
    // 32 bytes leave 2 spare bits in the last character; setting them decodes to the same bytes.
    const last = b64.at(-2)!;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const sloppy = `${b64.slice(0, -2)}${alphabet[alphabet.indexOf(last) ^ 1]}=`;
    same(new Uint8Array(Buffer.from(sloppy, "base64")), pair.publicKey);
    throwsCode(() => parsePublicKey(sloppy, "--key"), "IDENTITY_INVALID");
    const urlSafe = Buffer.from(new Uint8Array(32).fill(0xfb)).toString("base64url") + "=";
    throwsCode(() => parsePublicKey(urlSafe, "--key"), "IDENTITY_INVALID");
    throwsCode(() => parsePublicKey(`${b64.slice(0, 20)} ${b64.slice(20)}`, "--key"), "IDENTITY_INVALID");
  });

  test("rejects garbage, an empty string, a bare prefix and other key types with IDENTITY_INVALID", () => {
    for (const text of ["", "   ", "ed25519", "ed25519 ", "hello world", "ssh-ed25519 " + b64, "ssh-rsa AAAAB3NzaC1yc2E", "ed25519 !!!!", "ed25519 " + b64 + "=="]) {
      throwsCode(() => parsePublicKey(text, "--key"), "IDENTITY_INVALID", "--key");
    }
  });
});

describe("decodeBase64Exact", () => {
  test("decodes canonical base64 of exactly the given length and nothing else", () => {
    assert.deepEqual(decodeBase64Exact("AQID", 3), new Uint8Array([1, 2, 3]));
    assert.equal(decodeBase64Exact("AQID", 4), null);
    assert.equal(decodeBase64Exact("AQI=", 3), null);
    assert.equal(decodeBase64Exact("AQJ=", 2), null);
    assert.equal(decodeBase64Exact("", 0), null);
  });
});

describe("identity text", () => {
  test("round-trips through formatIdentity and parseIdentity", () => {
    const parsed = parseIdentity(formatIdentity(pair), "id");
    same(parsed.publicKey, pair.publicKey);
    same(parsed.secretKey, pair.secretKey);
  });

  test("shows the public key line and fingerprint in comments", () => {
    const text = formatIdentity(pair);
    assert.ok(text.includes(`# public key: ed25519 ${b64}\n`));
    assert.ok(text.includes(`# fingerprint: ${fingerprint(pair.publicKey)}\n`));
  });

  test("accepts CRLF line endings and indentation", () => {
    const text = formatIdentity(pair).replace(/\n/g, "\r\n").replace(/^fixpoint/m, "  fixpoint");
    same(parseIdentity(text, "id").publicKey, pair.publicKey);
  });

  test("rejects a file that is not an identity with IDENTITY_INVALID naming the file", () => {
    const line = formatIdentity(pair).split("\n").find((l) => l.startsWith("fixpoint-identity-v1"))!;
    const secret = line.split(" ")[1]!;
    const cases = [
      "",
      "# only comments\n",
      `ed25519 ${b64}\n`,
      `fixpoint-identity-v2 ${secret}\n`,
      `fixpoint-identity-v1\n`,
      `fixpoint-identity-v1 ${secret} trailing\n`,
      `${line}\n${line}\n`,
      `fixpoint-identity-v1 ${secret.slice(0, -4)}\n`,
      `fixpoint-identity-v1 ${b64}\n`,
    ];
    for (const text of cases) {
      assert.throws(
        () => parseIdentity(text, "/keys/alice"),
        (err: unknown) => err instanceof FixpointError && err.code === "IDENTITY_INVALID" && err.message.includes("/keys/alice") && err.location?.file === "/keys/alice",
        JSON.stringify(text),
      );
    }
  });

  test("rejects a secret key whose public half belongs to another seed", () => {
    const mixed = new Uint8Array(pair.secretKey);
    mixed.set(other.publicKey, 32);
    const text = `fixpoint-identity-v1 ${Buffer.from(mixed).toString("base64")}\n`;
    throwsCode(() => parseIdentity(text, "id"), "IDENTITY_INVALID", "does not match");
  });
});

describe("readIdentityFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "fixpoint-keys-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function write(name: string, mode: number): string {
    const file = join(dir, name);
    writeFileSync(file, formatIdentity(pair));
    chmodSync(file, mode); // explicit: the umask must not decide what the test checks
    return file;
  }

  test("reads an identity file of mode 0600", () => {
    same(readIdentityFile(write("private", 0o600)).publicKey, pair.publicKey);
  });

  test("reads an identity file of mode 0400", () => {
    same(readIdentityFile(write("read-only", 0o400)).publicKey, pair.publicKey);
  });

  test("refuses an identity file of mode 0644 (readable by others), saying how to fix it", () => {
    const file = write("world-readable", 0o644);
    throwsCode(() => readIdentityFile(file), "IDENTITY_INVALID", `chmod 600 ${file}`);
  });

  test("refuses an identity file readable or writable by its group", () => {
    throwsCode(() => readIdentityFile(write("group-readable", 0o640)), "IDENTITY_INVALID", "mode 640");
    throwsCode(() => readIdentityFile(write("group-writable", 0o620)), "IDENTITY_INVALID", "mode 620");
  });

  test("reports a missing file as IDENTITY_MISSING", () => {
    throwsCode(() => readIdentityFile(join(dir, "nope")), "IDENTITY_MISSING", "ENOENT");
  });

  test("restrictToOwner makes a file mode 0600, which readIdentityFile then accepts", () => {
    const file = write("loose", 0o666);
    restrictToOwner(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    same(readIdentityFile(file).publicKey, pair.publicKey);
  });
});
