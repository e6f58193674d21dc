/**
 * One direction of the channel's record layer: ChaCha20-Poly1305 (RFC 8439), native, with an
 * implicit 64-bit counter nonce as in TLS 1.3. The counter is never sent: each side counts the
 * frames it has sealed or opened, so a replayed, reordered, dropped or injected frame is opened
 * with the wrong nonce and fails authentication. That failure is final for the connection.
 */
import { createCipheriv, createDecipheriv, type DecipherChaCha20Poly1305 } from "node:crypto";

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

  /**
   * Seals the concatenation of `parts` like `seal`, but hands the ciphertext to `out` in
   * pieces of at most `pieceBytes` as they are produced, then the tag: a large frame's first
   * piece can be on the wire (and being opened by the peer) before its last is sealed, and the
   * plaintext need not be contiguous. The bytes are those `seal` would produce.
   */
  sealInPieces(parts: readonly Uint8Array[], aad: Uint8Array, pieceBytes: number, out: (piece: Buffer) => void): void {
    let length = 0;
    for (const part of parts) length += part.length;
    const cipher = createCipheriv("chacha20-poly1305", this.key, this.nextNonce(), { authTagLength: AEAD_TAG_BYTES });
    cipher.setAAD(aad, { plaintextLength: length });
    for (const part of parts) {
      for (let offset = 0; offset < part.length; offset += pieceBytes) {
        const piece = cipher.update(part.subarray(offset, offset + pieceBytes));
        if (piece.length > 0) out(piece);
      }
    }
    cipher.final();
    out(cipher.getAuthTag());
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

  /**
   * Starts opening a frame whose sealed body (ciphertext ‖ tag, `sealedLength` bytes) arrives
   * in parts. This takes the frame's place in the counter now, so frames must be begun in
   * wire order like `open`. Nothing decrypted is released before the tag has verified.
   */
  begin(aad: Uint8Array, sealedLength: number): OpeningFrame {
    if (sealedLength < AEAD_TAG_BYTES) return new OpeningFrame(null, 0);
    const split = sealedLength - AEAD_TAG_BYTES;
    const decipher = createDecipheriv("chacha20-poly1305", this.key, this.nextNonce(), { authTagLength: AEAD_TAG_BYTES });
    decipher.setAAD(aad, { plaintextLength: split });
    return new OpeningFrame(decipher, split);
  }
}

/** One frame being opened part by part; see `Opener.begin`. */
export class OpeningFrame {
  // The plaintext is written into one buffer as it is decrypted, rather than kept in pieces and
  // concatenated at the end: that doubled the fresh memory a 10 MB frame touches and put a 10 MB
  // copy after the last byte arrived (bench/channel.ts). Its size is the frame's, bounded by
  // maxFrameBytes and only after the handshake; allocUnsafe does not touch the pages, so the
  // memory actually used still grows only with the bytes received.
  private readonly plain: Buffer;
  private plainBytes = 0;
  private readonly tag = Buffer.alloc(AEAD_TAG_BYTES);
  private tagBytes = 0;
  private overrun = false;

  /** @internal */
  constructor(
    private readonly decipher: DecipherChaCha20Poly1305 | null,
    private cipherLeft: number,
  ) {
    this.plain = decipher === null ? Buffer.alloc(0) : Buffer.allocUnsafe(cipherLeft);
  }

  /** Feeds the next bytes of the sealed body. */
  update(part: Uint8Array): void {
    if (this.decipher === null) return;
    if (this.cipherLeft > 0) {
      const n = Math.min(part.length, this.cipherLeft);
      this.cipherLeft -= n;
      const plain = this.decipher.update(part.subarray(0, n));
      if (this.plainBytes + plain.length <= this.plain.length) plain.copy(this.plain, this.plainBytes);
      this.plainBytes += plain.length;
      if (n === part.length) return;
      part = part.subarray(n);
    }
    if (this.tagBytes + part.length > AEAD_TAG_BYTES) {
      this.overrun = true;
      return;
    }
    this.tag.set(part, this.tagBytes);
    this.tagBytes += part.length;
  }

  /** The plaintext if the body was complete and authenticates, else null. */
  finish(): Buffer | null {
    if (this.decipher === null || this.overrun || this.cipherLeft > 0 || this.tagBytes !== AEAD_TAG_BYTES) return null;
    this.decipher.setAuthTag(this.tag);
    let rest: Buffer;
    try {
      rest = this.decipher.final();
    } catch {
      return null;
    }
    // A stream cipher gives back as many bytes as it is given; anything else is refused, not guessed at.
    if (rest.length > 0 || this.plainBytes !== this.plain.length) return null;
    return this.plain;
  }
}
