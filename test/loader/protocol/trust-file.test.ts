import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { keyPairFromSeed } from "../../../loader/protocol/crypto/ed25519.js";
import { encodePublicKey } from "../../../loader/protocol/crypto/keys.js";
import { FixpointError } from "../../../loader/protocol/errors.js";
import { formatTrustEntry, parseTrustFile, rolesOf, withoutKey, TRUST_FILE_HEADER, type TrustEntry } from "../../../loader/protocol/trust-file.js";
import { ROLES } from "../../../loader/protocol/messages.js";

const alice = keyPairFromSeed(new Uint8Array(32).fill(1)).publicKey;
const bob = keyPairFromSeed(new Uint8Array(32).fill(2)).publicKey;
const carol = keyPairFromSeed(new Uint8Array(32).fill(3)).publicKey;
const A = encodePublicKey(alice);
const B = encodePublicKey(bob);
const FILE = "/data/trust";

/** Parses `text` expecting TRUST_FILE_INVALID at `line`, with a message mentioning each of `mentions`. */
function rejectsAtLine(text: string, line: number, ...mentions: string[]): void {
  assert.throws(
    () => parseTrustFile(text, FILE),
    (err: unknown) => {
      assert.ok(err instanceof FixpointError, `expected a FixpointError, got ${String(err)}`);
      assert.equal(err.code, "TRUST_FILE_INVALID", err.message);
      assert.deepEqual(err.location, { file: FILE, line });
      assert.ok(err.message.includes(`${FILE}:${line}`), `"${err.message}" should name ${FILE}:${line}`);
      for (const m of mentions) assert.ok(err.message.includes(m), `"${err.message}" should mention "${m}"`);
      return true;
    },
  );
}

const valid = [`roles=dev,observe ed25519 ${A} alice@laptop`];

describe("parseTrustFile", () => {
  test("parses keys with their roles and comments, skipping comments and blank lines", () => {
    const text = `${TRUST_FILE_HEADER}\n   \n# bob is read-only\nroles=dev,observe ed25519 ${A} alice@laptop  at home\n\troles=observe   ed25519 ${B}\r\n`;
    const entries = parseTrustFile(text, FILE);
    assert.equal(entries.length, 2);
    assert.deepEqual(Buffer.from(entries[0]!.publicKey), Buffer.from(alice));
    assert.deepEqual(entries[0]!.roles, ["dev", "observe"]);
    assert.equal(entries[0]!.comment, "alice@laptop at home");
    assert.deepEqual(Buffer.from(entries[1]!.publicKey), Buffer.from(bob));
    assert.deepEqual(entries[1]!.roles, ["observe"]);
    assert.equal(entries[1]!.comment, "");
  });

  test("an empty file and the header alone trust nobody", () => {
    assert.deepEqual(parseTrustFile("", FILE), []);
    assert.deepEqual(parseTrustFile(TRUST_FILE_HEADER, FILE), []);
  });

  test("a role listed twice counts once", () => {
    assert.deepEqual(parseTrustFile(`roles=dev,dev,observe ed25519 ${A}`, FILE)[0]!.roles, ["dev", "observe"]);
  });

  test("formatTrustEntry writes a line that parses back to the same entry", () => {
    const entry = { publicKey: alice, roles: ["release" as const, "admin" as const], comment: "ci signer" };
    const [parsed] = parseTrustFile(formatTrustEntry(entry), FILE);
    assert.deepEqual({ ...parsed!, publicKey: Buffer.from(parsed!.publicKey) }, { ...entry, publicKey: Buffer.from(alice) });
    assert.equal(formatTrustEntry({ ...entry, comment: "" }), `roles=release,admin ed25519 ${A}`);
  });

  test("rejects a line without roles=, naming the line", () => {
    rejectsAtLine(`# header\n\ned25519 ${A} alice`, 3, "roles=");
  });

  test("rejects a line with an unknown role, naming the line and the role", () => {
    rejectsAtLine([...valid, `roles=dev,root ed25519 ${B}`].join("\n"), 2, 'unknown role "root"');
  });

  test("rejects a line with an empty role list", () => {
    rejectsAtLine(`roles= ed25519 ${B}`, 1, "unknown role");
  });

  test("rejects a line with the wrong key type, naming the line", () => {
    rejectsAtLine([...valid, `roles=observe ssh-rsa ${B}`].join("\n"), 2, '"ssh-rsa"');
  });

  test("rejects a line with no key", () => {
    rejectsAtLine("roles=observe ed25519", 1, "base64");
    rejectsAtLine("roles=observe", 1, "ed25519");
  });

  test("rejects a key that is not base64, naming the line", () => {
    rejectsAtLine([...valid, "", `roles=observe ed25519 ${B.slice(0, -2)}!!`].join("\n"), 3, "base64");
  });

  test("rejects a key of the wrong length, naming the line", () => {
    const short = Buffer.alloc(31, 7).toString("base64");
    const long = Buffer.alloc(33, 7).toString("base64");
    rejectsAtLine(`roles=observe ed25519 ${short}`, 1, "32 bytes");
    rejectsAtLine(`roles=observe ed25519 ${long}`, 1, "32 bytes");
  });

  test("rejects a key listed twice, naming both lines", () => {
    rejectsAtLine([...valid, `roles=observe ed25519 ${B}`, `roles=release ed25519 ${A} again`].join("\n"), 3, "line 1");
  });
});

describe("rolesOf", () => {
  const entries = parseTrustFile([...valid, `roles=observe ed25519 ${B}`].join("\n"), FILE);

  test("gives the roles of a listed key", () => {
    assert.deepEqual(rolesOf(entries, alice), ["dev", "observe"]);
    assert.deepEqual(rolesOf(entries, new Uint8Array(bob)), ["observe"]);
  });

  test("gives null for a key that is not listed", () => {
    assert.equal(rolesOf(entries, carol), null);
    assert.equal(rolesOf([], alice), null);
  });
});

/** Seeded; FUZZ_RUNS raises the budget. */
const fuzz = { seed: 2222, numRuns: Number(process.env["FUZZ_RUNS"] ?? 300) };
const entry: fc.Arbitrary<TrustEntry> = fc.record({
  publicKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  roles: fc.uniqueArray(fc.constantFrom(...ROLES), { minLength: 1, maxLength: 4 }),
  comment: fc.array(fc.stringMatching(/^[^\s#]{1,12}$/), { maxLength: 3 }).map((words) => words.join(" ")),
});

describe("the trust file under fuzzing (seeded)", () => {
  test("any text either parses or is TRUST_FILE_INVALID naming a line, never anything else", () => {
    const line = fc.oneof(
      fc.string({ maxLength: 80 }),
      entry.map(formatTrustEntry),
      fc.tuple(entry.map(formatTrustEntry), fc.nat(), fc.string({ maxLength: 3 })).map(([l, at, junk]) => l.slice(0, at % (l.length + 1)) + junk + l.slice(at % (l.length + 1))),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), (lines) => {
        try {
          parseTrustFile(lines.join("\n"), FILE);
        } catch (err) {
          assert.ok(err instanceof FixpointError && err.code === "TRUST_FILE_INVALID", String(err));
          assert.ok(err.location?.line !== undefined && err.location.line >= 1 && err.location.line <= Math.max(1, lines.length));
        }
      }),
      fuzz,
    );
  });

  test("what formatTrustEntry writes parses back to the same entries, and withoutKey removes exactly one", () => {
    fc.assert(
      fc.property(fc.uniqueArray(entry, { minLength: 1, maxLength: 6, selector: (e) => Buffer.from(e.publicKey).toString("hex") }), fc.nat(), (entries, pick) => {
        const text = TRUST_FILE_HEADER + entries.map(formatTrustEntry).join("\n") + "\n";
        const parsed = parseTrustFile(text, FILE);
        assert.deepEqual(parsed.map((e) => [Buffer.from(e.publicKey).toString("hex"), e.roles, e.comment]), entries.map((e) => [Buffer.from(e.publicKey).toString("hex"), e.roles, e.comment]));
        const gone = entries[pick % entries.length]!;
        const rest = parseTrustFile(withoutKey(text, gone.publicKey), FILE);
        assert.equal(rest.length, entries.length - 1);
        assert.equal(rolesOf(rest, gone.publicKey), null);
        assert.ok(withoutKey(text, gone.publicKey).startsWith(TRUST_FILE_HEADER), "comments are kept");
      }),
      fuzz,
    );
  });
});
