/** Ephemeral X25519 for the handshake, native, with raw 32-byte public keys on the wire. */
import { createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from "node:crypto";

export const X25519_PUBLIC_KEY_BYTES = 32;

export interface EphemeralKey {
  readonly publicKey: Uint8Array;
  readonly privateKeyObject: KeyObject;
}

// Raw keys go in and out as JWK rather than SPKI DER: the same 32 bytes, but OpenSSL 3's DER
// encoder and decoder cost ~100 µs each here against ~10 µs for JWK, twice per handshake side
// (profiled with bench/channel.ts).
export function generateEphemeral(): EphemeralKey {
  const { publicKey, privateKey } = generateKeyPairSync("x25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x ?? "", "base64url");
  if (raw.length !== X25519_PUBLIC_KEY_BYTES) throw new RangeError("X25519 key export gave an unexpected length");
  return { publicKey: new Uint8Array(raw), privateKeyObject: privateKey };
}

/**
 * The shared secret with a peer's raw public key. Throws on a malformed key and on the
 * all-zero output of a low-order point (RFC 7748 §6.1 says to check for it).
 */
export function sharedSecret(own: EphemeralKey, peerPublicKey: Uint8Array): Buffer {
  if (peerPublicKey.length !== X25519_PUBLIC_KEY_BYTES) throw new RangeError("an X25519 public key is 32 bytes");
  const peer = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.from(peerPublicKey).toString("base64url") }, format: "jwk" });
  const secret = diffieHellman({ privateKey: own.privateKeyObject, publicKey: peer });
  if (secret.every((b) => b === 0)) throw new RangeError("the peer's X25519 key is a low-order point");
  return secret;
}
