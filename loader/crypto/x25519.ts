/** Ephemeral X25519 for the handshake, native, with raw 32-byte public keys on the wire. */
import { createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from "node:crypto";

export const X25519_PUBLIC_KEY_BYTES = 32;
const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");

export interface EphemeralKey {
  readonly publicKey: Uint8Array;
  readonly privateKeyObject: KeyObject;
}

export function generateEphemeral(): EphemeralKey {
  const { publicKey, privateKey } = generateKeyPairSync("x25519");
  const spki = publicKey.export({ format: "der", type: "spki" });
  return { publicKey: new Uint8Array(spki.subarray(spki.length - X25519_PUBLIC_KEY_BYTES)), privateKeyObject: privateKey };
}

/**
 * The shared secret with a peer's raw public key. Throws on a malformed key and on the
 * all-zero output of a low-order point (RFC 7748 §6.1 says to check for it).
 */
export function sharedSecret(own: EphemeralKey, peerPublicKey: Uint8Array): Buffer {
  if (peerPublicKey.length !== X25519_PUBLIC_KEY_BYTES) throw new RangeError("an X25519 public key is 32 bytes");
  const peer = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, peerPublicKey]), format: "der", type: "spki" });
  const secret = diffieHellman({ privateKey: own.privateKeyObject, publicKey: peer });
  if (secret.every((b) => b === 0)) throw new RangeError("the peer's X25519 key is a low-order point");
  return secret;
}
