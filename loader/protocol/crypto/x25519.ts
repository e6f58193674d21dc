/** Ephemeral X25519 for the handshake, native, with raw 32-byte public keys on the wire. */
import { createPrivateKey, createPublicKey, diffieHellman, randomBytes, type KeyObject } from "node:crypto";

export const X25519_PUBLIC_KEY_BYTES = 32;

export interface EphemeralKey {
  readonly publicKey: Uint8Array;
  readonly privateKeyObject: KeyObject;
}

// PKCS#8 DER prefix that wraps 32 random bytes as an X25519 private key (OID 1.3.101.110).
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

// Public keys go in and out as JWK rather than SPKI DER: the same 32 bytes, but OpenSSL 3's DER
// encoder and decoder cost ~100 µs each here against ~10 µs for JWK (profiled with
// bench/channel.ts). The private key is 32 random bytes imported as PKCS#8, not made by
// generateKeyPairSync: on Node 20 the key-generation job, collected by a GC that runs inside the
// JWK export of its own key, takes the key's lock that the export holds, and the loader's main
// thread waits on itself for ever (seen in CI: nodes that stopped answering handshakes; gdb put
// ~KeyGenJob under ExportJWKEdKey). The import costs about 0.7 ms more per handshake side.
export function generateEphemeral(): EphemeralKey {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, randomBytes(32)]), format: "der", type: "pkcs8" });
  const raw = Buffer.from(createPublicKey(privateKey).export({ format: "jwk" }).x ?? "", "base64url");
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
