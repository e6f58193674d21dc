import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { AEAD_KEY_BYTES, AEAD_TAG_BYTES, Opener, Sealer } from "../../../../loader/protocol/crypto/aead.js";

const AAD = Buffer.from([0, 0, 0, 21]);

/** A sealed frame as it travels: ciphertext ‖ tag. */
function sealed(sealer: Sealer, plaintext: Uint8Array, aad: Uint8Array = AAD): Buffer {
  return Buffer.concat(sealer.seal(plaintext, aad));
}

function pair(): { sealer: Sealer; opener: Opener } {
  const key = randomBytes(AEAD_KEY_BYTES);
  return { sealer: new Sealer(key), opener: new Opener(key) };
}

describe("aead", () => {
  test("opens what it sealed, frame after frame, in order", () => {
    const { sealer, opener } = pair();
    const messages = [Buffer.from("first"), Buffer.alloc(0), randomBytes(70_000), Buffer.from("last")];
    for (const message of messages) {
      const frame = sealed(sealer, message);
      assert.equal(frame.length, message.length + AEAD_TAG_BYTES);
      assert.deepEqual(opener.open(frame, AAD), message);
    }
    assert.equal(sealer.frames, messages.length);
    assert.equal(opener.frames, messages.length);
  });

  test("returns ciphertext and a 16-byte tag separately, and does not leak the plaintext", () => {
    const { sealer } = pair();
    const plaintext = Buffer.from("a secret that must not appear on the wire");
    const [ciphertext, tag] = sealer.seal(plaintext, AAD);
    assert.equal(ciphertext.length, plaintext.length);
    assert.equal(tag.length, AEAD_TAG_BYTES);
    assert.notDeepEqual(ciphertext, plaintext);
  });

  test("seals the same plaintext differently each time (the counter changes the nonce)", () => {
    const { sealer } = pair();
    const plaintext = Buffer.from("heartbeat");
    assert.notDeepEqual(sealed(sealer, plaintext), sealed(sealer, plaintext));
  });

  test("rejects a tampered ciphertext", () => {
    const plaintext = Buffer.from("push bundle");
    for (let i = 0; i < plaintext.length; i++) {
      const { sealer, opener } = pair();
      const frame = sealed(sealer, plaintext);
      frame[i] = frame[i]! ^ 0x80;
      assert.equal(opener.open(frame, AAD), null, `byte ${i}`);
    }
  });

  test("rejects a tampered tag", () => {
    for (let i = 0; i < AEAD_TAG_BYTES; i++) {
      const { sealer, opener } = pair();
      const frame = sealed(sealer, Buffer.from("push bundle"));
      frame[frame.length - AEAD_TAG_BYTES + i] = frame[frame.length - AEAD_TAG_BYTES + i]! ^ 0x01;
      assert.equal(opener.open(frame, AAD), null, `tag byte ${i}`);
    }
  });

  test("rejects tampered associated data (the frame header)", () => {
    const { sealer, opener } = pair();
    const frame = sealed(sealer, Buffer.from("push bundle"), Buffer.from([0, 0, 0, 27]));
    assert.equal(opener.open(frame, Buffer.from([0, 0, 1, 27])), null);
  });

  test("rejects a replayed frame (the same sealed bytes opened twice)", () => {
    const { sealer, opener } = pair();
    const frame = sealed(sealer, Buffer.from("call transfer(100)"));
    assert.notEqual(opener.open(frame, AAD), null);
    assert.equal(opener.open(frame, AAD), null);
  });

  test("rejects a reordered pair of frames", () => {
    const { sealer, opener } = pair();
    const first = sealed(sealer, Buffer.from("first"));
    const second = sealed(sealer, Buffer.from("second"));
    assert.equal(opener.open(second, AAD), null);
    assert.equal(opener.open(first, AAD), null);
  });

  test("rejects a frame after a skipped one (a dropped frame)", () => {
    const { sealer, opener } = pair();
    sealed(sealer, Buffer.from("dropped on the way"));
    const second = sealed(sealer, Buffer.from("second"));
    assert.equal(opener.open(second, AAD), null);
  });

  test("rejects a frame sealed under another key (the other direction's)", () => {
    const a = pair();
    const b = pair();
    assert.equal(b.opener.open(sealed(a.sealer, Buffer.from("hello")), AAD), null);
  });

  test("rejects a frame shorter than the tag", () => {
    const { opener } = pair();
    assert.equal(opener.open(Buffer.alloc(AEAD_TAG_BYTES - 1), AAD), null);
    assert.equal(opener.open(Buffer.alloc(0), AAD), null);
  });

  test("rejects a frame with its first or last byte cut off", () => {
    for (const cut of [(f: Buffer) => f.subarray(1), (f: Buffer) => f.subarray(0, f.length - 1)]) {
      const { sealer, opener } = pair();
      assert.equal(opener.open(cut(sealed(sealer, Buffer.from("hello"))), AAD), null);
    }
  });

  test("refuses a key that is not 32 bytes", () => {
    for (const length of [0, 16, 31, 33]) {
      assert.throws(() => new Sealer(new Uint8Array(length)), RangeError);
      assert.throws(() => new Opener(new Uint8Array(length)), RangeError);
    }
  });
});
