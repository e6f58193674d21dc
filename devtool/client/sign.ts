/**
 * Signing what a node verifies: bundles (loader/bundle/verify.ts) and releases
 * (loader/release/release.ts). Only the devtool and its users sign; a node never does.
 */
import { signDetached, type KeyPair } from "../../loader/protocol/crypto/ed25519.js";
import { encodePublicKey } from "../../loader/protocol/crypto/keys.js";
import { decodeReleaseManifest, encodeReleaseManifest, type ReleaseManifest, type WireRelease } from "../../loader/protocol/release-manifest.js";
import type { WireBundle } from "../../loader/protocol/messages.js";
import { encodeManifest, sha256Hex, type Manifest } from "../../loader/protocol/bundle-manifest.js";

export function signBundle(name: string, code: Uint8Array, sourceMap: Uint8Array, signer: KeyPair, builtAt = new Date()): { manifest: Manifest; bundle: WireBundle } {
  const manifest: Manifest = {
    name,
    digest: sha256Hex(code),
    size: code.length,
    sourceMapDigest: sha256Hex(sourceMap),
    sourceMapSize: sourceMap.length,
    builtAt: builtAt.toISOString(),
    signer: encodePublicKey(signer.publicKey),
  };
  const bytes = encodeManifest(manifest);
  return { manifest, bundle: { manifest: bytes, signature: signDetached(bytes, signer), code, sourceMap } };
}

/** Signs a release of `modules` (name → digest) for `cluster`. */
export function signRelease(
  fields: { cluster: string; number: number; modules: { name: string; digest: string }[]; notes?: string; createdAt?: Date },
  signer: KeyPair,
): { manifest: ReleaseManifest; release: WireRelease } {
  const manifest: ReleaseManifest = {
    cluster: fields.cluster,
    number: fields.number,
    modules: [...fields.modules].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((m) => ({ name: m.name, digest: m.digest })),
    notes: fields.notes ?? "",
    createdAt: (fields.createdAt ?? new Date()).toISOString(),
    signer: encodePublicKey(signer.publicKey),
  };
  const bytes = encodeReleaseManifest(manifest);
  decodeReleaseManifest(bytes); // what we sign must be what a node accepts
  return { manifest, release: { manifest: bytes, signature: signDetached(bytes, signer) } };
}
