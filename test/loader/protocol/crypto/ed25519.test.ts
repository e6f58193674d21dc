import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import nacl from "tweetnacl";
import {
  PUBLIC_KEY_BYTES,
  SECRET_KEY_BYTES,
  SIGNATURE_BYTES,
  generateKeyPair,
  keyPairFromSecretKey,
  keyPairFromSeed,
  signDetached,
  verifyDetached,
} from "../../../../loader/protocol/crypto/ed25519.js";

const hex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "hex"));
const same = (a: Uint8Array, b: Uint8Array): void => assert.deepEqual(Buffer.from(a), Buffer.from(b));

/** A copy of `bytes` with bit 0 of byte `index` flipped. */
function flipped(bytes: Uint8Array, index: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[index] = copy[index]! ^ 0x01;
  return copy;
}

// A fixed seed plus a few random ones, so a failure names a reproducible case first.
const SEEDS: Uint8Array[] = [new Uint8Array(32).fill(7), ...Array.from({ length: 6 }, () => new Uint8Array(randomBytes(32)))];
const MESSAGES: Uint8Array[] = [new Uint8Array(0), new Uint8Array(Buffer.from("fixpoint")), new Uint8Array(randomBytes(1000))];

describe("ed25519 interop with tweetnacl", () => {
  test("derives the same public and NaCl secret key from a seed as nacl.sign.keyPair.fromSeed", () => {
    for (const seed of SEEDS) {
      const ours = keyPairFromSeed(seed);
      const theirs = nacl.sign.keyPair.fromSeed(seed);
      same(ours.publicKey, theirs.publicKey);
      same(ours.secretKey, theirs.secretKey);
    }
  });

  test("verifies a signature made by nacl.sign.detached", () => {
    for (const seed of SEEDS) {
      const theirs = nacl.sign.keyPair.fromSeed(seed);
      for (const message of MESSAGES) {
        const signature = nacl.sign.detached(message, theirs.secretKey);
        assert.equal(verifyDetached(message, signature, theirs.publicKey), true);
      }
    }
  });

  test("makes signatures that nacl.sign.detached.verify accepts", () => {
    for (const seed of SEEDS) {
      const ours = keyPairFromSeed(seed);
      for (const message of MESSAGES) {
        const signature = signDetached(message, ours);
        assert.equal(signature.length, SIGNATURE_BYTES);
        assert.equal(nacl.sign.detached.verify(message, signature, ours.publicKey), true);
      }
    }
  });

  test("makes byte-identical signatures to tweetnacl (Ed25519 is deterministic)", () => {
    for (const seed of SEEDS) {
      const ours = keyPairFromSeed(seed);
      const theirs = nacl.sign.keyPair.fromSeed(seed);
      for (const message of MESSAGES) same(signDetached(message, ours), nacl.sign.detached(message, theirs.secretKey));
    }
  });

  test("rejects a tampered message or signature, as tweetnacl does", () => {
    const pair = keyPairFromSeed(SEEDS[0]!);
    const message = new Uint8Array(Buffer.from("release 42 for cluster prod"));
    const signature = signDetached(message, pair);
    for (let i = 0; i < message.length; i++) {
      const bad = flipped(message, i);
      assert.equal(verifyDetached(bad, signature, pair.publicKey), false, `message byte ${i}`);
      assert.equal(nacl.sign.detached.verify(bad, signature, pair.publicKey), false, `message byte ${i} (tweetnacl)`);
    }
    for (let i = 0; i < SIGNATURE_BYTES; i++) {
      const bad = flipped(signature, i);
      assert.equal(verifyDetached(message, bad, pair.publicKey), false, `signature byte ${i}`);
      assert.equal(nacl.sign.detached.verify(message, bad, pair.publicKey), false, `signature byte ${i} (tweetnacl)`);
    }
  });

  test("accepts the secret key tweetnacl generates, and tweetnacl accepts the one generateKeyPair makes", () => {
    const theirs = nacl.sign.keyPair();
    same(keyPairFromSecretKey(theirs.secretKey).publicKey, theirs.publicKey);

    const ours = generateKeyPair();
    const rebuilt = nacl.sign.keyPair.fromSecretKey(ours.secretKey);
    same(rebuilt.publicKey, ours.publicKey);
    same(nacl.sign.keyPair.fromSeed(ours.secretKey.subarray(0, 32)).publicKey, ours.publicKey);
  });

  test("rejects a signature whose S is not reduced mod L, which tweetnacl accepts (malleability)", () => {
    // Native Ed25519 (OpenSSL) enforces S < L as RFC 8032 §5.1.7 requires; tweetnacl does not.
    // Adding L to S gives a second valid-looking signature for the same message; refusing it
    // keeps one signature per (key, message), which is the stricter and the safer side to differ on.
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const pair = keyPairFromSeed(SEEDS[0]!);
    const message = new Uint8Array(Buffer.from("fixpoint"));
    const signature = signDetached(message, pair);
    let s = 0n;
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]!);
    const malleable = new Uint8Array(signature);
    let t = s + L;
    for (let i = 32; i < 64; i++) {
      malleable[i] = Number(t & 0xffn);
      t >>= 8n;
    }
    assert.equal(t, 0n, "S + L still fits in 32 bytes for this signature");
    assert.equal(nacl.sign.detached.verify(message, malleable, pair.publicKey), true);
    assert.equal(verifyDetached(message, malleable, pair.publicKey), false);
  });
});

describe("ed25519", () => {
  test("matches RFC 8032 §7.1 test 1 (empty message)", () => {
    const pair = keyPairFromSeed(hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
    same(pair.publicKey, hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"));
    const signature = signDetached(new Uint8Array(0), pair);
    same(
      signature,
      hex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
      ),
    );
    assert.equal(verifyDetached(new Uint8Array(0), signature, pair.publicKey), true);
  });

  test("generates key pairs in NaCl format: 32-byte public key, secret key = seed ‖ public key", () => {
    const pair = generateKeyPair();
    assert.equal(pair.publicKey.length, PUBLIC_KEY_BYTES);
    assert.equal(pair.secretKey.length, SECRET_KEY_BYTES);
    same(pair.secretKey.subarray(32), pair.publicKey);
    same(keyPairFromSeed(pair.secretKey.subarray(0, 32)).publicKey, pair.publicKey);
    assert.notDeepEqual(Buffer.from(generateKeyPair().publicKey), Buffer.from(pair.publicKey));
  });

  test("rejects a seed or secret key of the wrong length", () => {
    for (const length of [0, 31, 33, 64]) assert.throws(() => keyPairFromSeed(new Uint8Array(length)), RangeError);
    for (const length of [0, 32, 63, 65]) assert.throws(() => keyPairFromSecretKey(new Uint8Array(length)), RangeError);
  });

  test("rejects a secret key whose public half does not match its seed", () => {
    const pair = keyPairFromSeed(SEEDS[0]!);
    const bad = new Uint8Array(pair.secretKey);
    bad.set(keyPairFromSeed(SEEDS[1]!).publicKey, 32);
    assert.throws(() => keyPairFromSecretKey(bad), /does not match/);
  });

  test("does not verify a signature under another key", () => {
    const alice = keyPairFromSeed(SEEDS[0]!);
    const bob = keyPairFromSeed(SEEDS[1]!);
    const message = new Uint8Array(Buffer.from("hello"));
    assert.equal(verifyDetached(message, signDetached(message, alice), bob.publicKey), false);
  });

  test("returns false, never throws, for a signature or key of the wrong length or a key not on the curve", () => {
    const pair = keyPairFromSeed(SEEDS[0]!);
    const message = new Uint8Array(Buffer.from("hello"));
    const signature = signDetached(message, pair);
    assert.equal(verifyDetached(message, signature.subarray(0, 63), pair.publicKey), false);
    assert.equal(verifyDetached(message, new Uint8Array(65), pair.publicKey), false);
    assert.equal(verifyDetached(message, signature, pair.publicKey.subarray(0, 31)), false);
    assert.equal(verifyDetached(message, signature, new Uint8Array(33)), false);
    assert.equal(verifyDetached(message, new Uint8Array(64), new Uint8Array(32)), false);
    // y = 2 has no x on edwards25519, so this encoding is not a point at all.
    const notAPoint = new Uint8Array(32);
    notAPoint[0] = 2;
    assert.equal(verifyDetached(message, signature, notAPoint), false);
    assert.equal(verifyDetached(message, signature, new Uint8Array(32).fill(0xff)), false);
  });

  test("keeps verifying correctly after its public key cache overflows", () => {
    const pair = keyPairFromSeed(SEEDS[0]!);
    const message = new Uint8Array(Buffer.from("hello"));
    const signature = signDetached(message, pair);
    assert.equal(verifyDetached(message, signature, pair.publicKey), true);
    // More distinct keys than the cache holds (1024), so it is cleared at least once.
    for (let i = 0; i < 1100; i++) verifyDetached(message, signature, new Uint8Array(randomBytes(32)));
    assert.equal(verifyDetached(message, signature, pair.publicKey), true);
    assert.equal(verifyDetached(message, signature, keyPairFromSeed(SEEDS[1]!).publicKey), false);
  });
});
