import { createHash } from "node:crypto";

/**
 * SSH-style fingerprint of a public key: "SHA256:" + unpadded base64 of its SHA-256. Shown on
 * first contact and on a key mismatch so a human can compare it out of band.
 */
export function fingerprint(publicKey: Uint8Array): string {
  return "SHA256:" + createHash("sha256").update(publicKey).digest("base64").replace(/=+$/, "");
}
