/** Making a bundle: the signing half of verify.ts, shared by the devtool and the tests. */
import { signDetached, type KeyPair } from "../crypto/ed25519.js";
import { encodePublicKey } from "../crypto/keys.js";
import type { WireBundle } from "../protocol/messages.js";
import { encodeManifest, sha256Hex, type Manifest } from "./manifest.js";

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
