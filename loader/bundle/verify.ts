/**
 * Verifying a bundle end to end, independent of the channel it came by: canonical manifest,
 * signature by its signer, signer trusted for the role, payloads matching their digests.
 * Run on receipt and again whenever a bundle is read back from disk.
 */
import { FixpointError } from "../protocol/errors.js";
import { PUBLIC_KEY_BYTES, verifyDetached } from "../protocol/crypto/ed25519.js";
import { decodeBase64Exact } from "../protocol/crypto/keys.js";
import { fingerprint } from "../protocol/crypto/fingerprint.js";
import type { Role, WireBundle } from "../protocol/messages.js";
import { decodeManifest, payloadMismatch, type Manifest } from "../protocol/bundle-manifest.js";

export interface VerifiedBundle {
  manifest: Manifest;
  bundle: WireBundle;
}

/**
 * @param rolesOfSigner the signer's roles on this node, or null if unknown.
 * @param role the role the signer needs (`dev` for a hot push).
 */
export function verifyBundle(bundle: WireBundle, rolesOfSigner: (key: Uint8Array) => readonly Role[] | null, role: Role): VerifiedBundle {
  const manifest = decodeManifest(bundle.manifest);
  const signer = decodeBase64Exact(manifest.signer, PUBLIC_KEY_BYTES)!;
  if (!verifyDetached(bundle.manifest, bundle.signature, signer)) {
    throw new FixpointError("BUNDLE_SIGNATURE_INVALID", `bundle ${manifest.name}: the signature does not verify against signer ${fingerprint(signer)}; the bundle was altered or signed with another key`);
  }
  const roles = rolesOfSigner(signer);
  if (roles === null || !roles.includes(role)) {
    throw new FixpointError(
      "BUNDLE_SIGNER_UNTRUSTED",
      `bundle ${manifest.name} is signed by ${fingerprint(signer)}, which ${roles === null ? "this node does not trust" : `lacks the ${role} role here`}; authorize that key with --roles ${role}`,
    );
  }
  const altered = payloadMismatch(bundle, manifest);
  if (altered !== null) throw new FixpointError("BUNDLE_DIGEST_MISMATCH", `bundle ${manifest.name}: the ${altered} does not match the manifest's digest ${manifest.digest.slice(0, 12)}; it was altered after signing`);
  return { manifest, bundle };
}
