/**
 * One direction of the channel's record layer: ChaCha20-Poly1305 (RFC 8439), native, with an
 * implicit 64-bit counter nonce as in TLS 1.3. The counter is never sent: each side counts the
 * frames it has sealed or opened, so a replayed, reordered, dropped or injected frame is opened
 * with the wrong nonce and fails authentication. That failure is final for the connection.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";

export const AEAD_KEY_BYTES = 32;
export const AEAD_TAG_BYTES = 16;
const NONCE_BYTES = 12;
// 2^53 frames cannot happen in practice; stopping there keeps the counter an exact JS number.
const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

abstract class Direction {
  protected counter = 0;
  // Reused: createCipheriv copies the IV, so one buffer per direction is enough.
  private readonly nonce = Buffer.alloc(NONCE_BYTES);
  protected readonly key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== AEAD_KEY_BYTES) throw new RangeError(`an AEAD key is ${AEAD_KEY_BYTES} bytes`);
    this.key = Buffer.from(key);
  }

  protected nextNonce(): Buffer {
    if (this.counter >= MAX_COUNTER) throw new RangeError("frame counter exhausted; reconnect");
    this.nonce.writeUIntBE(this.counter, NONCE_BYTES - 6, 6);
    this.counter++;
    return this.nonce;
  }

  /** Frames processed so far in this direction. */
  get frames(): number {
    return this.counter;
  }
}

/** Seals outgoing frames. */
export class Sealer extends Direction {
  /**
   * Returns ciphertext and tag as separate buffers so the caller can hand them to a socket's
   * writev without concatenating. `aad` is authenticated, not encrypted (the frame header).
   */
  seal(plaintext: Uint8Array, aad: Uint8Array): [Buffer, Buffer] {
    const cipher = createCipheriv("chacha20-poly1305", this.key, this.nextNonce(), { authTagLength: AEAD_TAG_BYTES });
    cipher.setAAD(aad, { plaintextLength: plaintext.length });
    const head = cipher.update(plaintext);
    cipher.final();
    return [head, cipher.getAuthTag()];
  }
}

/** Opens incoming frames; returns null when a frame does not authenticate. */
export class Opener extends Direction {
  open(sealed: Uint8Array, aad: Uint8Array): Buffer | null {
    if (sealed.length < AEAD_TAG_BYTES) return null;
    const split = sealed.length - AEAD_TAG_BYTES;
    const decipher = createDecipheriv("chacha20-poly1305", this.key, this.nextNonce(), { authTagLength: AEAD_TAG_BYTES });
    decipher.setAAD(aad, { plaintextLength: split });
    decipher.setAuthTag(sealed.subarray(split));
    const plain = decipher.update(sealed.subarray(0, split));
    try {
      decipher.final();
    } catch {
      return null;
    }
    return plain;
  }
}
