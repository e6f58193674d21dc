/**
 * Framing: every frame on the wire is
 *
 *   +----------------------+--------------------------+
 *   | length: uint32, BE   | body: `length` bytes     |
 *   +----------------------+--------------------------+
 *
 * During the handshake the body is a plaintext CBOR message of at most
 * MAX_HANDSHAKE_FRAME_BYTES; afterwards it is ChaCha20-Poly1305 ciphertext ‖ tag, and the
 * 4-byte header is the AEAD's associated data. The plaintext is a record: one message, or from
 * protocol version 2 on several back to back (see messages.ts).
 *
 * FrameReader is an explicit two-state machine fed chunks of any size (as ws's receiver is):
 *
 *   state     needs                 on enough bytes
 *   header    4 bytes               length > maxFrameBytes → FRAME_TOO_LARGE; else → body
 *   body      `length` bytes        emit frame → header
 *
 * The limit is checked before a byte of the body is buffered, so a peer's claimed length
 * never decides an allocation. A frame contained in one chunk is emitted as a view of it,
 * without a copy.
 *
 * `read` feeds a FrameSink instead of returning frames, and can hand a large body over in
 * parts as they arrive (the `streaming` sub-state of body), so that the channel decrypts a
 * 10 MB frame while the rest of it is still on the wire instead of buffering it, copying it
 * whole and only then starting. A body that has arrived whole is always emitted whole.
 *
 *   state       needs                 on enough bytes
 *   body        `length` bytes        some missing and length >= streamFrom → start, part(buffered) → streaming
 *   streaming   `length` bytes        part(each chunk's share); the last → end → header
 */
import { FixpointError } from "./errors.js";
import { FRAME_HEADER_BYTES } from "./limits.js";

const EMPTY = Buffer.alloc(0);

export function frameHeader(bodyLength: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(bodyLength, 0);
  return header;
}

/** A plaintext frame (handshake only). */
export function encodeFrame(body: Uint8Array): Buffer {
  return Buffer.concat([frameHeader(body.length), body]);
}

export interface Frame {
  /** The 4 header bytes, authenticated as associated data after the handshake. */
  header: Buffer;
  body: Buffer;
}

/**
 * Receives frames from `FrameReader.read`, in wire order. A body is delivered either whole
 * (`frame`) or, when large and still arriving, as `start`, one or more `part`s and `end`.
 */
export interface FrameSink {
  frame(header: Buffer, body: Buffer): void;
  /** A body of `length` bytes follows in parts; their lengths add up to `length`. */
  start(header: Buffer, length: number): void;
  part(bytes: Buffer): void;
  end(): void;
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private bodyLength = -1;
  private header: Buffer | null = null;
  // Body bytes still to come while streaming; 0 when not streaming.
  private streamLeft = 0;

  /** @param maxFrameBytes largest body accepted; can be raised once the peer is authenticated. */
  constructor(public maxFrameBytes: number) {}

  /** Bytes received but not yet part of an emitted frame (or, while streaming, of a part). */
  get pending(): number {
    // The header of a frame whose body is still arriving has left `buffered` but not been emitted.
    return this.buffered + (this.header === null ? 0 : FRAME_HEADER_BYTES);
  }

  /**
   * Feeds a chunk; returns the frames it completed. Throws FRAME_TOO_LARGE, after which the
   * reader must not be used again.
   */
  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    this.read(chunk, {
      frame: (header, body) => frames.push({ header, body }),
      // Unreachable: with streamFrom = Infinity every body is emitted whole.
      start: () => {},
      part: () => {},
      end: () => {},
    });
    return frames;
  }

  /**
   * Feeds a chunk, handing what it completes to `sink` as it goes. A body of at least
   * `streamFrom` bytes that has not arrived whole is handed over in parts (views of the
   * chunks, no copy) instead of being buffered. Throws FRAME_TOO_LARGE, after which the reader
   * must not be used again; frames before the offending header have been delivered.
   */
  read(chunk: Buffer, sink: FrameSink, streamFrom = Infinity): void {
    if (this.streamLeft > 0) {
      if (chunk.length < this.streamLeft) {
        this.streamLeft -= chunk.length;
        if (chunk.length > 0) sink.part(chunk);
        return;
      }
      const last = this.streamLeft;
      this.streamLeft = 0;
      this.bodyLength = -1;
      this.header = null;
      sink.part(chunk.subarray(0, last));
      sink.end();
      if (chunk.length === last) return;
      chunk = chunk.subarray(last);
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.bodyLength < 0) {
        if (this.buffered < FRAME_HEADER_BYTES) return;
        const header = this.take(FRAME_HEADER_BYTES);
        const length = header.readUInt32BE(0);
        if (length > this.maxFrameBytes) {
          throw new FixpointError("FRAME_TOO_LARGE", `frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`);
        }
        this.header = header;
        this.bodyLength = length;
      }
      if (this.buffered < this.bodyLength) {
        if (this.bodyLength >= streamFrom) this.startStreaming(sink);
        return;
      }
      const header = this.header!;
      const body = this.take(this.bodyLength);
      this.bodyLength = -1;
      this.header = null;
      sink.frame(header, body);
    }
  }

  private startStreaming(sink: FrameSink): void {
    this.streamLeft = this.bodyLength - this.buffered;
    const chunks = this.chunks;
    this.chunks = [];
    this.buffered = 0;
    sink.start(this.header!, this.bodyLength);
    for (const chunk of chunks) if (chunk.length > 0) sink.part(chunk);
  }

  /** Removes and returns the first `n` buffered bytes (n <= buffered). */
  private take(n: number): Buffer {
    // A zero-length body may follow a header that ended the last chunk, leaving no chunk to
    // slice; without this the reader threw a TypeError on a legal (if useless) frame.
    if (n === 0) return EMPTY;
    this.buffered -= n;
    const first = this.chunks[0]!;
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let offset = 0;
    while (offset < n) {
      const chunk = this.chunks[0]!;
      const want = n - offset;
      if (chunk.length <= want) {
        chunk.copy(out, offset);
        offset += chunk.length;
        this.chunks.shift();
      } else {
        chunk.copy(out, offset, 0, want);
        this.chunks[0] = chunk.subarray(want);
        offset += want;
      }
    }
    return out;
  }
}
