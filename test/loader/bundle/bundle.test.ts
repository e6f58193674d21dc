import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { keyPairFromSeed, signDetached, type KeyPair } from "../../../loader/protocol/crypto/ed25519.js";
import { encodePublicKey } from "../../../loader/protocol/crypto/keys.js";
import { FixpointError, type ErrorCode } from "../../../loader/protocol/errors.js";
import { decodeManifest, encodeManifest, MANIFEST_PREFIX, sha256Hex, type Manifest } from "../../../loader/protocol/bundle-manifest.js";
import { signBundle } from "../../../devtool/client/sign.js";
import { verifyBundle } from "../../../loader/bundle/verify.js";
import type { Role, WireBundle } from "../../../loader/protocol/messages.js";

const dev = keyPairFromSeed(new Uint8Array(32).fill(1));
const other = keyPairFromSeed(new Uint8Array(32).fill(2));
const code = Buffer.from('var __fixpoint_module = (() => { return { hello: () => "hi" }; })();\n');
const sourceMap = Buffer.from('{"version":3,"sources":["hello.ts"],"mappings":"AAAA"}');
const builtAt = new Date("2025-01-02T03:04:05.678Z");

/** The node's trust: `dev` has the dev role, `other` only observe. */
function trust(key: Uint8Array): readonly Role[] | null {
  if (Buffer.from(key).equals(Buffer.from(dev.publicKey))) return ["dev", "observe"];
  if (Buffer.from(key).equals(Buffer.from(other.publicKey))) return ["observe"];
  return null;
}

function signed(name = "hello", signer: KeyPair = dev): WireBundle {
  return signBundle(name, code, sourceMap, signer, builtAt).bundle;
}

function verifyFails(bundle: WireBundle, code: ErrorCode, mentions?: RegExp, rolesOf = trust): void {
  assert.throws(
    () => verifyBundle(bundle, rolesOf, "dev"),
    (err: unknown) => {
      assert.ok(err instanceof FixpointError, `expected a FixpointError, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      if (mentions !== undefined) assert.match(err.message, mentions);
      return true;
    },
  );
}

/** Manifest bytes that are not canonical, signed by `dev` so that only their form is wrong. */
function withManifestText(json: string): WireBundle {
  const manifest = Buffer.from(MANIFEST_PREFIX + json, "utf8");
  return { manifest, signature: signDetached(manifest, dev), code, sourceMap };
}

const flip = (bytes: Uint8Array, at: number): Uint8Array => {
  const copy = Uint8Array.from(bytes);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
};

describe("signBundle and verifyBundle", () => {
  test("a bundle signed by a key with the dev role verifies, and its manifest describes the payloads", () => {
    const { manifest, bundle } = signBundle("hello", code, sourceMap, dev, builtAt);
    assert.deepEqual(manifest, {
      name: "hello",
      digest: sha256Hex(code),
      size: code.length,
      sourceMapDigest: sha256Hex(sourceMap),
      sourceMapSize: sourceMap.length,
      builtAt: "2025-01-02T03:04:05.678Z",
      signer: encodePublicKey(dev.publicKey),
    });
    const verified = verifyBundle(bundle, trust, "dev");
    assert.deepEqual(verified.manifest, manifest);
    assert.equal(verified.bundle, bundle);
  });

  test("the manifest bytes are the format header and JSON with the keys in the documented order", () => {
    const { manifest, bundle } = signBundle("hello", code, sourceMap, dev, builtAt);
    const text = Buffer.from(bundle.manifest).toString("utf8");
    assert.ok(text.startsWith("fixpoint-bundle/1\n"));
    assert.deepEqual(Object.keys(JSON.parse(text.slice(MANIFEST_PREFIX.length)) as object), ["name", "digest", "size", "sourceMapDigest", "sourceMapSize", "builtAt", "signer"]);
    assert.deepEqual(decodeManifest(bundle.manifest), manifest);
    assert.deepEqual(encodeManifest(manifest), Buffer.from(bundle.manifest));
  });

  test("an empty module and an empty source map verify", () => {
    const { bundle } = signBundle("empty", new Uint8Array(0), new Uint8Array(0), dev, builtAt);
    assert.equal(verifyBundle(bundle, trust, "dev").manifest.size, 0);
  });

  test("rejects tampered code with BUNDLE_DIGEST_MISMATCH", () => {
    const bundle = signed();
    verifyFails({ ...bundle, code: flip(bundle.code, 10) }, "BUNDLE_DIGEST_MISMATCH", /code does not match/);
  });

  test("rejects code with a byte appended with BUNDLE_DIGEST_MISMATCH", () => {
    const bundle = signed();
    verifyFails({ ...bundle, code: Buffer.concat([bundle.code, Buffer.from(";")]) }, "BUNDLE_DIGEST_MISMATCH");
  });

  test("rejects a tampered source map with BUNDLE_DIGEST_MISMATCH", () => {
    const bundle = signed();
    verifyFails({ ...bundle, sourceMap: flip(bundle.sourceMap, 3) }, "BUNDLE_DIGEST_MISMATCH", /source map/);
  });

  test("rejects tampered manifest bytes that still parse with BUNDLE_SIGNATURE_INVALID", () => {
    const bundle = signed();
    // Change the build time's last digit: still canonical, no longer what was signed.
    const text = Buffer.from(bundle.manifest).toString("utf8").replace("05.678Z", "05.679Z");
    verifyFails({ ...bundle, manifest: Buffer.from(text) }, "BUNDLE_SIGNATURE_INVALID", /altered or signed with another key/);
  });

  test("rejects a manifest whose digest was swapped for another payload's with BUNDLE_SIGNATURE_INVALID", () => {
    const bundle = signed();
    const evil = Buffer.from("globalThis.steal();");
    const text = Buffer.from(bundle.manifest).toString("utf8").replace(sha256Hex(code), sha256Hex(evil)).replace(`"size":${code.length}`, `"size":${evil.length}`);
    verifyFails({ ...bundle, manifest: Buffer.from(text), code: evil }, "BUNDLE_SIGNATURE_INVALID");
  });

  test("rejects tampered manifest bytes that no longer parse with BUNDLE_INVALID", () => {
    const bundle = signed();
    verifyFails({ ...bundle, manifest: flip(bundle.manifest, 0) }, "BUNDLE_INVALID", /format header/);
    verifyFails({ ...bundle, manifest: bundle.manifest.subarray(0, bundle.manifest.length - 1) }, "BUNDLE_INVALID", /not JSON/);
  });

  test("rejects a bundle signed by another key than its manifest names with BUNDLE_SIGNATURE_INVALID", () => {
    const bundle = signed();
    verifyFails({ ...bundle, signature: signDetached(bundle.manifest, other) }, "BUNDLE_SIGNATURE_INVALID");
  });

  test("rejects a flipped signature bit with BUNDLE_SIGNATURE_INVALID", () => {
    const bundle = signed();
    verifyFails({ ...bundle, signature: flip(bundle.signature, 63) }, "BUNDLE_SIGNATURE_INVALID");
  });

  test("rejects a bundle signed by a key the node does not trust with BUNDLE_SIGNER_UNTRUSTED", () => {
    const stranger = keyPairFromSeed(new Uint8Array(32).fill(9));
    verifyFails(signed("hello", stranger), "BUNDLE_SIGNER_UNTRUSTED", /does not trust/);
  });

  test("rejects a bundle signed by a trusted key without the needed role with BUNDLE_SIGNER_UNTRUSTED", () => {
    verifyFails(signed("hello", other), "BUNDLE_SIGNER_UNTRUSTED", /lacks the dev role/);
  });

  test("checks the signer's trust before the payloads, so an untrusted signer is named even for altered code", () => {
    const bundle = signed("hello", other);
    verifyFails({ ...bundle, code: flip(bundle.code, 0) }, "BUNDLE_SIGNER_UNTRUSTED");
  });
});

describe("decodeManifest refuses non-canonical manifests", () => {
  const manifest: Manifest = signBundle("hello", code, sourceMap, dev, builtAt).manifest;
  const canonical = JSON.stringify(manifest);

  test("rejects reordered keys with BUNDLE_INVALID", () => {
    const { name, ...rest } = manifest;
    verifyFails(withManifestText(JSON.stringify({ ...rest, name })), "BUNDLE_INVALID", /in that order/);
  });

  test("rejects an extra key with BUNDLE_INVALID", () => {
    verifyFails(withManifestText(JSON.stringify({ ...manifest, entry: "main" })), "BUNDLE_INVALID", /keys must be exactly/);
  });

  test("rejects a missing key with BUNDLE_INVALID", () => {
    const { sourceMapSize: _dropped, ...rest } = manifest;
    verifyFails(withManifestText(JSON.stringify(rest)), "BUNDLE_INVALID", /keys must be exactly/);
  });

  test("rejects whitespace in the JSON with BUNDLE_INVALID", () => {
    verifyFails(withManifestText(JSON.stringify(manifest, null, 1)), "BUNDLE_INVALID", /canonical/);
    verifyFails(withManifestText(canonical + "\n"), "BUNDLE_INVALID", /canonical/);
    verifyFails(withManifestText(canonical.replace('"name":', '"name": ')), "BUNDLE_INVALID", /canonical/);
  });

  test("rejects a key repeated in the JSON with BUNDLE_INVALID", () => {
    verifyFails(withManifestText(canonical.replace('"name":"hello"', '"name":"evil","name":"hello"')), "BUNDLE_INVALID");
  });

  test("rejects an escaped character where a plain one is canonical with BUNDLE_INVALID", () => {
    verifyFails(withManifestText(canonical.replace('"hello"', '"hell\\u006f"')), "BUNDLE_INVALID", /canonical/);
  });

  test("rejects a manifest that is JSON but not an object with BUNDLE_INVALID", () => {
    verifyFails(withManifestText("[]"), "BUNDLE_INVALID", /not an object/);
  });

  for (const [what, patch, why] of [
    ["a digest in uppercase hex", { digest: sha256Hex(code).toUpperCase() }, /digest/],
    ["a negative size", { size: -1 }, /size/],
    ["a fractional source map size", { sourceMapSize: 1.5 }, /sourceMapSize/],
    ["a build time that is not UTC ISO-8601", { builtAt: "2025-01-02 03:04:05" }, /builtAt/],
    ["a signer that is not a 32-byte key", { signer: Buffer.alloc(31).toString("base64") }, /signer/],
  ] as const) {
    test(`rejects ${what} with BUNDLE_INVALID`, () => {
      verifyFails(withManifestText(JSON.stringify({ ...manifest, ...patch })), "BUNDLE_INVALID", why);
    });
  }

  for (const name of ["Hello", "1st", "-x", "hello_world", "a".repeat(64), "", "../x"]) {
    test(`rejects the invalid module name ${JSON.stringify(name.length > 20 ? `${name.slice(0, 5)}…(${name.length})` : name)} with BUNDLE_INVALID`, () => {
      verifyFails(signed(name), "BUNDLE_INVALID", /name must match/);
    });
  }

  test("accepts the longest valid module name", () => {
    assert.equal(verifyBundle(signed("a" + "-9".repeat(31)), trust, "dev").manifest.name.length, 63);
  });
});
