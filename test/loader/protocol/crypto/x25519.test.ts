import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import nacl from "tweetnacl";
import { X25519_PUBLIC_KEY_BYTES, generateEphemeral, sharedSecret, type EphemeralKey } from "../../../../loader/protocol/crypto/x25519.js";

// PKCS#8 prefix for a raw 32-byte X25519 private key (OID 1.3.101.110).
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

/** An EphemeralKey from a known private scalar, so results can be compared with tweetnacl. */
function ephemeralFrom(secret: Uint8Array): EphemeralKey {
  const privateKeyObject = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secret]), format: "der", type: "pkcs8" });
  const spki = createPublicKey(privateKeyObject).export({ format: "der", type: "spki" });
  return { publicKey: new Uint8Array(spki.subarray(spki.length - 32)), privateKeyObject };
}

describe("x25519", () => {
  test("gives both sides the same 32-byte shared secret", () => {
    const a = generateEphemeral();
    const b = generateEphemeral();
    assert.equal(a.publicKey.length, X25519_PUBLIC_KEY_BYTES);
    const ab = sharedSecret(a, b.publicKey);
    assert.equal(ab.length, 32);
    assert.deepEqual(ab, sharedSecret(b, a.publicKey));
  });

  test("generates a fresh key each time", () => {
    assert.notDeepEqual(Buffer.from(generateEphemeral().publicKey), Buffer.from(generateEphemeral().publicKey));
  });

  test("gives different secrets with different peers", () => {
    const a = generateEphemeral();
    assert.notDeepEqual(sharedSecret(a, generateEphemeral().publicKey), sharedSecret(a, generateEphemeral().publicKey));
  });

  test("agrees with tweetnacl's scalarMult on public keys and shared secrets", () => {
    for (let i = 0; i < 8; i++) {
      const secretA = new Uint8Array(randomBytes(32));
      const secretB = new Uint8Array(randomBytes(32));
      const a = ephemeralFrom(secretA);
      assert.deepEqual(Buffer.from(a.publicKey), Buffer.from(nacl.scalarMult.base(secretA)));
      const publicB = nacl.scalarMult.base(secretB);
      assert.deepEqual(sharedSecret(a, publicB), Buffer.from(nacl.scalarMult(secretA, publicB)));
    }
  });

  test("matches RFC 7748 §6.1", () => {
    const alice = ephemeralFrom(new Uint8Array(Buffer.from("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", "hex")));
    const bob = ephemeralFrom(new Uint8Array(Buffer.from("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", "hex")));
    assert.equal(Buffer.from(alice.publicKey).toString("hex"), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    assert.equal(Buffer.from(bob.publicKey).toString("hex"), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    const k = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    assert.equal(sharedSecret(alice, bob.publicKey).toString("hex"), k);
    assert.equal(sharedSecret(bob, alice.publicKey).toString("hex"), k);
  });

  test("rejects a peer key that is not 32 bytes", () => {
    const a = generateEphemeral();
    for (const length of [0, 31, 33]) assert.throws(() => sharedSecret(a, new Uint8Array(length)), RangeError);
  });

  test("rejects a low-order peer key, whose shared secret would be all zeros (RFC 7748 §6.1)", () => {
    const a = generateEphemeral();
    const zero = new Uint8Array(32);
    const one = new Uint8Array(32);
    one[0] = 1;
    // 2^255 - 19 - 1 encodes the point of order 2 (x = p - 1).
    const orderTwo = new Uint8Array(32).fill(0xff);
    orderTwo[0] = 0xec;
    orderTwo[31] = 0x7f;
    for (const key of [zero, one, orderTwo]) assert.throws(() => sharedSecret(a, key));
  });
});
