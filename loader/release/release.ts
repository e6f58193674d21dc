/**
 * Checks a release as a node receives it (its format is loader/protocol/release-manifest.ts):
 * canonical bytes, signature, signer's role, cluster, and each bundle it carries.
 */
import { FixpointError } from "../protocol/errors.js";
import type { WireBundle } from "../protocol/messages.js";
import { checkSigner, type RolesOfSigner } from "../bundle/verify.js";
import { decodeManifest, payloadMismatch, type Manifest } from "../protocol/bundle-manifest.js";
import { decodeReleaseManifest, type ReleaseManifest, type WireRelease } from "../protocol/release-manifest.js";

/**
 * Checks a release end to end: canonical manifest, signature by its signer, signer trusted
 * with the `release` role, made for this node's cluster. Numbers are the caller's business
 * (they depend on what the node holds).
 */
export function verifyRelease(release: WireRelease, rolesOfSigner: RolesOfSigner, cluster: string): ReleaseManifest {
  const manifest = decodeReleaseManifest(release.manifest);
  checkSigner(release, manifest.signer, rolesOfSigner, "release", { kind: "release", name: `release ${manifest.number}`, advice: "sign releases with a key authorized with --roles release" });
  if (manifest.cluster !== cluster) {
    throw new FixpointError("RELEASE_WRONG_CLUSTER", `release ${manifest.number} is for cluster "${manifest.cluster}"; this node is in cluster "${cluster}"`);
  }
  return manifest;
}

/**
 * Checks a bundle carried by a release: its code hashes to the digest the release names for
 * its module (the release's signature covers that digest), and its manifest describes it.
 */
export function verifyReleaseBundle(bundle: WireBundle, release: ReleaseManifest): Manifest {
  let manifest: Manifest;
  try {
    manifest = decodeManifest(bundle.manifest);
  } catch (err) {
    throw new FixpointError("RELEASE_BUNDLE_INVALID", `a bundle of release ${release.number} is malformed: ${(err as Error).message}`);
  }
  const entry = release.modules.find((m) => m.name === manifest.name);
  if (entry === undefined || entry.digest !== manifest.digest) {
    throw new FixpointError("RELEASE_BUNDLE_INVALID", `bundle ${manifest.name} ${manifest.digest.slice(0, 12)} is not part of release ${release.number}`);
  }
  // The manifest's digest is the release's (checked above), so this checks the code against it.
  const altered = payloadMismatch(bundle, manifest);
  if (altered !== null) throw new FixpointError("RELEASE_BUNDLE_INVALID", `bundle ${manifest.name}: its ${altered} does not match the digest release ${release.number} vouches for; it was altered`);
  return manifest;
}
