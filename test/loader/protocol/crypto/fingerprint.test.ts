import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { fingerprint } from "../../../../loader/protocol/crypto/fingerprint.js";

describe("fingerprint", () => {
  test('is "SHA256:" and the unpadded base64 of the key\'s SHA-256', () => {
    assert.equal(fingerprint(new Uint8Array(32)), "SHA256:Zmh6rfhivXdsj8GLjp+OIAiXFIVu4jOzkCpZHQ1fKSU");
    // The RFC 8032 §7.1 test 1 public key.
    const rfc = new Uint8Array(Buffer.from("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "hex"));
    assert.equal(fingerprint(rfc), "SHA256:If4x36FUomFia/hUBG/SJxt77UtqvkWqWId+9H+XIbk");
  });

  test("has no base64 padding and a fixed length", () => {
    for (let i = 0; i < 20; i++) {
      const text = fingerprint(new Uint8Array(randomBytes(32)));
      assert.match(text, /^SHA256:[A-Za-z0-9+/]{43}$/);
    }
  });

  test("differs when one bit of the key differs", () => {
    const key = new Uint8Array(32);
    const other = new Uint8Array(32);
    other[31] = 1;
    assert.notEqual(fingerprint(key), fingerprint(other));
  });
});
