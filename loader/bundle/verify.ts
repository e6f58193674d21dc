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

/** A signer's roles on this node, or null if it does not know the key. */
export type RolesOfSigner = (key: Uint8Array) => readonly Role[] | null;

const SIGNER_CODES = {
  bundle: { invalid: "BUNDLE_SIGNATURE_INVALID", untrusted: "BUNDLE_SIGNER_UNTRUSTED" },
  release: { invalid: "RELEASE_SIGNATURE_INVALID", untrusted: "RELEASE_SIGNER_UNTRUSTED" },
} as const;

/**
 * The one check of a signed manifest (a bundle's or a release's): its signature verifies against
 * the signer it names, and this node trusts that signer with `role`. Throws the kind's
 * SIGNATURE_INVALID or SIGNER_UNTRUSTED, naming the signer by fingerprint.
 */
export function checkSigner(signed: { manifest: Uint8Array; signature: Uint8Array }, signerText: string, rolesOfSigner: RolesOfSigner, role: Role, what: { kind: keyof typeof SIGNER_CODES; name: string; advice: string }): void {
  const signer = decodeBase64Exact(signerText, PUBLIC_KEY_BYTES)!;
  if (!verifyDetached(signed.manifest, signed.signature, signer)) {
    throw new FixpointError(SIGNER_CODES[what.kind].invalid, `${what.name}: the signature does not verify against signer ${fingerprint(signer)}; the ${what.kind} was altered or signed with another key`);
  }
  const roles = rolesOfSigner(signer);
  if (roles === null || !roles.includes(role)) {
    throw new FixpointError(SIGNER_CODES[what.kind].untrusted, `${what.name} is signed by ${fingerprint(signer)}, which ${roles === null ? "this node does not trust" : `lacks the ${role} role here`}; ${what.advice}`);
  }
}

/**
 * @param rolesOfSigner the signer's roles on this node, or null if unknown.
 * @param role the role the signer needs (`dev` for a hot push).
 */
export function verifyBundle(bundle: WireBundle, rolesOfSigner: RolesOfSigner, role: Role): VerifiedBundle {
  const manifest = decodeManifest(bundle.manifest);
  checkSigner(bundle, manifest.signer, rolesOfSigner, role, { kind: "bundle", name: `bundle ${manifest.name}`, advice: `authorize that key with --roles ${role}` });
  const altered = payloadMismatch(bundle, manifest);
  if (altered !== null) throw new FixpointError("BUNDLE_DIGEST_MISMATCH", `bundle ${manifest.name}: the ${altered} does not match the manifest's digest ${manifest.digest.slice(0, 12)}; it was altered after signing`);
  return { manifest, bundle };
}
