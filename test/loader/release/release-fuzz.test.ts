/**
 * Seeded fuzzing of the release manifest (loader/release/release.ts decodeReleaseManifest, and
 * verifyRelease around it; issue 13): garbage, valid manifests with bytes flipped, cut or
 * inserted, valid manifest objects with a field replaced, removed or added at any depth (module
 * entries included), and signed releases with the manifest or signature damaged.
 * decodeReleaseManifest throws RELEASE_INVALID or returns a manifest whose canonical bytes are
 * exactly its input, with 1 to MAX_RELEASE_MODULES modules sorted by name, each once.
 * FUZZ_RUNS raises the budget (`npm run fuzz`).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { keyPairFromSeed } from "../../../loader/protocol/crypto/ed25519.js";
import { decodeBase64Exact, encodePublicKey } from "../../../loader/protocol/crypto/keys.js";
import { DIGEST, MODULE_NAME, type Role } from "../../../loader/protocol/messages.js";
import {
  MAX_RELEASE_MODULES,
  MAX_RELEASE_NOTES,
  RELEASE_PREFIX,
  decodeReleaseManifest,
  encodeReleaseManifest,
  type ReleaseManifest,
  type WireRelease,
} from "../../../loader/protocol/release-manifest.js";
import { verifyRelease } from "../../../loader/release/release.js";
import { signRelease } from "../../../devtool/client/sign.js";
import { codedOrValid, fuzzParameters, garbage, hostileJson, mutate, mutated, mutatedTree, mutation, utcTime } from "../../helpers/fuzz.js";

const fuzz = fuzzParameters(6161);

const modules = fc
  .uniqueArray(fc.record({ name: fc.stringMatching(MODULE_NAME), digest: fc.stringMatching(DIGEST) }), { minLength: 1, maxLength: 6, selector: (m) => m.name })
  .map((list) => list.sort((a, b) => (a.name < b.name ? -1 : 1)));

const validRelease: fc.Arbitrary<ReleaseManifest> = fc.record({
  cluster: fc.stringMatching(/^[A-Za-z0-9._-]{1,63}$/),
  number: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constant(Number.MAX_SAFE_INTEGER)),
  modules,
  notes: fc.oneof(fc.fullUnicodeString({ maxLength: 40 }), fc.constant("n".repeat(MAX_RELEASE_NOTES))),
  createdAt: utcTime,
  signer: fc.uint8Array({ minLength: 32, maxLength: 32 }).map(encodePublicKey),
});

function revalidate(manifest: ReleaseManifest, input: Uint8Array): void {
  assert.ok(encodeReleaseManifest(manifest).equals(Buffer.from(input)), "the input is the manifest's canonical encoding");
  assert.deepEqual(decodeReleaseManifest(encodeReleaseManifest(manifest)), manifest);
  assert.ok(Number.isSafeInteger(manifest.number) && manifest.number >= 1);
  assert.ok(manifest.modules.length >= 1 && manifest.modules.length <= MAX_RELEASE_MODULES);
  manifest.modules.forEach((m, i) => {
    assert.match(m.name, MODULE_NAME);
    assert.match(m.digest, DIGEST);
    if (i > 0) assert.ok(manifest.modules[i - 1]!.name < m.name, "sorted by name, each once");
  });
  assert.ok(manifest.notes.length <= MAX_RELEASE_NOTES);
  assert.notEqual(decodeBase64Exact(manifest.signer, 32), null);
  const time = new Date(manifest.createdAt);
  assert.ok(!Number.isNaN(time.getTime()), `createdAt ${manifest.createdAt} is not a time`);
  assert.equal(time.toISOString().replace(".000Z", "Z"), manifest.createdAt.replace(".000Z", "Z"), `createdAt ${manifest.createdAt} is not the time it names`);
}

function decodesOrRejects(bytes: Uint8Array): void {
  codedOrValid(() => decodeReleaseManifest(bytes), ["RELEASE_INVALID"], (m) => revalidate(m, bytes), JSON.stringify(Buffer.from(bytes).toString("latin1").slice(0, 400)));
}

describe("the release manifest under fuzzing (seeded)", () => {
  test("every generated valid manifest decodes to itself", () => {
    fc.assert(
      fc.property(validRelease, (m) => {
        assert.deepEqual(decodeReleaseManifest(encodeReleaseManifest(m)), m);
      }),
      fuzz,
    );
  });

  test("refuses a createdAt that matches the pattern but names no real time", () => {
    const base: ReleaseManifest = { cluster: "c", number: 1, modules: [{ name: "a", digest: "0".repeat(64) }], notes: "", createdAt: "2024-02-29T00:00:00.000Z", signer: encodePublicKey(new Uint8Array(32)) };
    assert.equal(decodeReleaseManifest(encodeReleaseManifest(base)).createdAt, base.createdAt);
    for (const createdAt of ["2024-13-01T00:00:00Z", "2023-02-29T00:00:00.000Z", "2024-01-01T24:00:00Z"]) {
      assert.throws(() => decodeReleaseManifest(encodeReleaseManifest({ ...base, createdAt })), (err: { code?: string }) => err.code === "RELEASE_INVALID", createdAt);
    }
  });

  test("garbage, with and without the format header, is RELEASE_INVALID", () => {
    fc.assert(fc.property(fc.oneof(garbage, garbage.map((b) => Buffer.concat([Buffer.from(RELEASE_PREFIX), b]))), decodesOrRejects), fuzz);
  });

  test("valid manifests with bytes flipped, overwritten, inserted, deleted or cut", () => {
    fc.assert(fc.property(mutated(validRelease.map(encodeReleaseManifest)), decodesOrRejects), fuzzParameters(6162, 1000));
  });

  test("valid manifest objects with a field replaced, removed or added at any depth", () => {
    const replacement = fc.oneof(
      hostileJson,
      modules.map((m) => [...m, ...m]),
      fc.constant(Array.from({ length: MAX_RELEASE_MODULES + 1 }, (_, i) => ({ name: `m${String(i).padStart(3, "0")}`, digest: "0".repeat(64) }))),
      fc.constantFrom("2024-13-01T00:00:00Z", "A".repeat(64), "a".repeat(63), "n".repeat(MAX_RELEASE_NOTES + 1), 0, 1.5, -1, 2 ** 53, { name: "a" }, { digest: "0".repeat(64), name: "a" }),
    );
    fc.assert(
      fc.property(mutatedTree(validRelease, replacement), (value) => decodesOrRejects(Buffer.from(RELEASE_PREFIX + JSON.stringify(value)))),
      fuzzParameters(6163, 1000),
    );
  });

  test("a signed release with its manifest or signature damaged is refused with a release code, or verifies as signed", () => {
    const pair = keyPairFromSeed(new Uint8Array(32).fill(9));
    const signed = fc.tuple(modules, fc.integer({ min: 1, max: 99 })).map(([m, number]) => signRelease({ cluster: "prod", number, modules: m, createdAt: new Date(1_700_000_000_000) }, pair).release);
    fc.assert(
      fc.property(signed, fc.constantFrom<keyof WireRelease>("manifest", "signature"), mutation, fc.constantFrom<Role | null>("release", "dev", null), fc.constantFrom("prod", "other"), (release, which, m, role, cluster) => {
        const damaged: WireRelease = { ...release, [which]: mutate(release[which], m) };
        const rolesOf = (key: Uint8Array) => (Buffer.from(key).equals(Buffer.from(pair.publicKey)) && role !== null ? [role] : null);
        codedOrValid(
          () => verifyRelease(damaged, rolesOf, cluster),
          ["RELEASE_INVALID", "RELEASE_SIGNATURE_INVALID", "RELEASE_SIGNER_UNTRUSTED", "RELEASE_WRONG_CLUSTER"],
          (manifest) => {
            assert.ok(Buffer.from(damaged.manifest).equals(Buffer.from(release.manifest)) && Buffer.from(damaged.signature).equals(Buffer.from(release.signature)), "an altered release verified");
            revalidate(manifest, damaged.manifest);
          },
        );
      }),
      fuzzParameters(6164, 300),
    );
  });
});
