/**
 * Seeded fuzzing of the bundle manifest (loader/protocol/bundle-manifest.ts decodeManifest, and
 * verifyBundle around it; issue 13): garbage, valid manifests with bytes flipped, cut or
 * inserted, valid manifest objects with a field replaced, removed or added, and signed bundles
 * with any part damaged. decodeManifest throws BUNDLE_INVALID or returns a manifest whose
 * canonical bytes are exactly its input and whose fields are what they say (a real UTC time, a
 * 32-byte key); verifyBundle throws one of its codes or returns what was signed.
 * FUZZ_RUNS raises the budget (`npm run fuzz`).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { MANIFEST_PREFIX, decodeManifest, encodeManifest, type Manifest } from "../../../loader/protocol/bundle-manifest.js";
import { signBundle } from "../../../devtool/client/sign.js";
import { verifyBundle } from "../../../loader/bundle/verify.js";
import { keyPairFromSeed } from "../../../loader/protocol/crypto/ed25519.js";
import { decodeBase64Exact, encodePublicKey } from "../../../loader/protocol/crypto/keys.js";
import { DIGEST, MODULE_NAME, type WireBundle } from "../../../loader/protocol/messages.js";
import { codedOrValid, fuzzParameters, garbage, hostileJson, mutate, mutated, mutatedTree, mutation, utcTime } from "../../helpers/fuzz.js";

const fuzz = fuzzParameters(5151);

const validManifest: fc.Arbitrary<Manifest> = fc.record({
  name: fc.stringMatching(MODULE_NAME),
  digest: fc.stringMatching(DIGEST),
  size: fc.oneof(fc.nat(), fc.maxSafeNat()),
  sourceMapDigest: fc.stringMatching(DIGEST),
  sourceMapSize: fc.nat(),
  builtAt: utcTime,
  signer: fc.uint8Array({ minLength: 32, maxLength: 32 }).map(encodePublicKey),
});

/** A decoded manifest is canonical, and each field is what it claims. */
function revalidate(manifest: Manifest, input: Uint8Array): void {
  assert.ok(encodeManifest(manifest).equals(Buffer.from(input)), "the input is the manifest's canonical encoding");
  assert.deepEqual(decodeManifest(encodeManifest(manifest)), manifest);
  assert.match(manifest.name, MODULE_NAME);
  assert.ok(Number.isSafeInteger(manifest.size) && manifest.size >= 0);
  assert.ok(Number.isSafeInteger(manifest.sourceMapSize) && manifest.sourceMapSize >= 0);
  assert.notEqual(decodeBase64Exact(manifest.signer, 32), null);
  const time = new Date(manifest.builtAt);
  assert.ok(!Number.isNaN(time.getTime()), `builtAt ${manifest.builtAt} is not a time`);
  assert.equal(time.toISOString().replace(".000Z", "Z"), manifest.builtAt.replace(".000Z", "Z"), `builtAt ${manifest.builtAt} is not the time it names`);
}

function decodesOrRejects(bytes: Uint8Array): void {
  codedOrValid(() => decodeManifest(bytes), ["BUNDLE_INVALID"], (m) => revalidate(m, bytes), JSON.stringify(Buffer.from(bytes).toString("latin1").slice(0, 400)));
}

describe("the bundle manifest under fuzzing (seeded)", () => {
  test("every generated valid manifest decodes to itself", () => {
    fc.assert(
      fc.property(validManifest, (m) => {
        assert.deepEqual(decodeManifest(encodeManifest(m)), m);
      }),
      fuzz,
    );
  });

  test("refuses a builtAt that matches the pattern but names no real time (found by this target)", () => {
    const base: Manifest = { name: "a", digest: "0".repeat(64), size: 1, sourceMapDigest: "1".repeat(64), sourceMapSize: 2, builtAt: "2024-02-29T12:00:00Z", signer: encodePublicKey(new Uint8Array(32)) };
    assert.equal(decodeManifest(encodeManifest(base)).builtAt, "2024-02-29T12:00:00Z");
    for (const builtAt of ["2024-13-01T00:00:00Z", "2023-02-29T12:00:00Z", "2024-04-31T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z", "2024-01-01T23:59:60.000Z"]) {
      assert.throws(() => decodeManifest(encodeManifest({ ...base, builtAt })), (err: { code?: string }) => err.code === "BUNDLE_INVALID", builtAt);
    }
  });

  test("garbage, with and without the format header, is BUNDLE_INVALID", () => {
    fc.assert(fc.property(fc.oneof(garbage, garbage.map((b) => Buffer.concat([Buffer.from(MANIFEST_PREFIX), b]))), decodesOrRejects), fuzz);
  });

  test("valid manifests with bytes flipped, overwritten, inserted, deleted or cut", () => {
    fc.assert(fc.property(mutated(validManifest.map(encodeManifest)), decodesOrRejects), fuzzParameters(5152, 1000));
  });

  test("valid manifest objects with a field replaced, removed or added", () => {
    const replacement = fc.oneof(
      hostileJson,
      fc.constantFrom("2024-13-01T00:00:00Z", "2024-02-30T12:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z", "2024-01-01T00:00:00.1234Z", "+002024-01-01T00:00:00Z"),
      fc.constantFrom("A".repeat(64), "a".repeat(63), "x", "Counter", "a_b", 1.5, -1, 2 ** 53, "AAAA", "A".repeat(43) + "="),
    );
    fc.assert(
      fc.property(mutatedTree(validManifest, replacement), (value) => decodesOrRejects(Buffer.from(MANIFEST_PREFIX + JSON.stringify(value)))),
      fuzzParameters(5153, 1000),
    );
  });

  test("a signed bundle with its manifest, signature, code or source map damaged is refused with a bundle code, or verifies as signed", () => {
    const pair = keyPairFromSeed(new Uint8Array(32).fill(7));
    const signed = fc
      .tuple(fc.stringMatching(MODULE_NAME), fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 100 }))
      .map(([name, code, map]) => signBundle(name, code, map, pair, new Date(1_700_000_000_000)).bundle);
    const part = fc.constantFrom<keyof WireBundle>("manifest", "signature", "code", "sourceMap");
    fc.assert(
      fc.property(signed, part, mutation, fc.constantFrom<"dev" | null>("dev", null), (bundle, which, m, role) => {
        const damaged: WireBundle = { ...bundle, [which]: mutate(bundle[which], m) };
        const trusted = (key: Uint8Array) => (Buffer.from(key).equals(Buffer.from(pair.publicKey)) && role !== null ? (["dev"] as const) : null);
        codedOrValid(
          () => verifyBundle(damaged, trusted, "dev"),
          ["BUNDLE_INVALID", "BUNDLE_SIGNATURE_INVALID", "BUNDLE_SIGNER_UNTRUSTED", "BUNDLE_DIGEST_MISMATCH"],
          (verified) => {
            // Only a change that changed nothing may verify.
            for (const key of ["manifest", "signature", "code", "sourceMap"] as const) assert.ok(Buffer.from(verified.bundle[key]).equals(Buffer.from(bundle[key])), `${key} was altered and still verified`);
            revalidate(verified.manifest, verified.bundle.manifest);
          },
        );
      }),
      fuzzParameters(5154, 300),
    );
  });
});
