/**
 * The encrypted half of a connection, shared by both ends: frames in and out through the
 * session keys, heartbeats, and closing with a reason. `ClientConnection` (client.ts) adds
 * request/response; the node's side (server.ts) adds dispatch to handlers.
 *
 * Small frames are sealed as they are sent and written in batches; a frame of STREAM_BYTES or
 * more is sealed and written piece by piece, and opened piece by piece as it arrives, so both
 * ends work on it at once. Either way a frame's plaintext is used only once its tag verifies.
 *
 * Any frame that fails to decrypt, decode or validate closes the connection: the peer is told
 * why in a `goodbye` (its sending keys still work), and every pending request fails.
 */
import type { Socket } from "node:net";
import { FixpointError, toFixpointError, type ErrorData } from "../errors.js";
import { AEAD_TAG_BYTES, type OpeningFrame } from "../crypto/aead.js";
import { FrameReader, frameHeader, type Frame, type FrameSink } from "../protocol/framing.js";
import { encodeMessageParts, errorFromWire, type Message } from "../protocol/messages.js";
import { HEARTBEAT_MISSES } from "../protocol/limits.js";
import type { SessionKeys } from "../protocol/handshake.js";

export interface ConnectionOptions {
  /** Interval between heartbeats, ms. A peer silent for HEARTBEAT_MISSES intervals is dead. */
  heartbeatIntervalMs: number;
  /** Largest frame body accepted, bytes. */
  maxFrameBytes: number;
}

// Small frames are coalesced into one write per tick; past this size a copy costs more than a writev.
const COALESCE_BYTES = 64 * 1024;
// ...except the first few of a tick, written as soon as there are this many: the peer starts on
// them while this side seals the rest, so on two cores the two ends overlap instead of taking
// turns (16 requests in flight: ~11k → ~15k round trips/s; a burst still costs two writes,
// not one per frame; bench/channel.ts, 2026-11-25).
const EARLY_FRAMES = 4;
// A frame at least this large is sealed and written in pieces of PIECE_BYTES, and opened as
// its parts arrive, so that the two ends work on it at once rather than one after the other
// (a 10 MB echo took about 2x as long whole; bench/channel.ts). 64 KiB pieces measured fastest.
const STREAM_BYTES = 256 * 1024;
const PIECE_BYTES = 64 * 1024;

export abstract class Connection<In extends Message, Out extends Message> {
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  private queuedFrames = 0;
  private earlyWritten = false;
  private readonly flushAtTickEnd = (): void => {
    this.flushScheduled = false;
    this.earlyWritten = false;
    this.flush();
  };
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastReceived = Date.now();
  private closing: FixpointError | null = null;
  private readonly closeListeners: ((reason: FixpointError | null) => void)[] = [];
  // The large frame being opened part by part, if any.
  private opening: OpeningFrame | null = null;
  // Where the reader delivers frames, in wire order (a private object: these are not API).
  private readonly sink: FrameSink = {
    frame: (header, body) => {
      if (this.closing === null) this.onPlaintext(this.keys.receive.open(body, header));
    },
    start: (header, length) => {
      if (this.closing === null) this.opening = this.keys.receive.begin(header, length);
    },
    part: (bytes) => {
      if (this.closing === null) this.opening!.update(bytes);
    },
    end: () => {
      if (this.closing !== null) return;
      const opening = this.opening!;
      this.opening = null;
      this.onPlaintext(opening.finish());
    },
  };
  protected closed = false;

  constructor(
    protected readonly socket: Socket,
    private readonly reader: FrameReader,
    private readonly keys: SessionKeys,
    private readonly options: ConnectionOptions,
    private readonly decode: (bytes: Uint8Array) => In,
  ) {
    reader.maxFrameBytes = options.maxFrameBytes;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("close", () => this.finish());
    socket.on("error", (err) => this.closeWith(new FixpointError("CHANNEL_CLOSED", `connection error: ${err.message}`)));
    this.heartbeatTimer = setInterval(() => this.beat(), options.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
  }

  /** Handles one decoded, validated message. */
  protected abstract dispatch(message: In): void;

  /** Called once when the connection is gone; `reason` is null for an orderly close. */
  onClose(listener: (reason: FixpointError | null) => void): void {
    if (this.closed) listener(this.closing);
    else this.closeListeners.push(listener);
  }

  get isOpen(): boolean {
    return !this.closed && this.closing === null;
  }

  get remoteAddress(): string {
    return `${this.socket.remoteAddress ?? "?"}:${this.socket.remotePort ?? "?"}`;
  }

  /** Processes frames that arrived with the handshake's last frame, before this object took over. */
  feed(frames: Frame[]): void {
    for (const frame of frames) this.sink.frame(frame.header, frame.body);
  }

  send(message: Out): void {
    if (!this.isOpen) return;
    // A large byte string stays where it is: one part of its own, sealed straight from it.
    const parts = encodeMessageParts(message, STREAM_BYTES);
    if (parts.length > 1 || parts[0]!.length >= STREAM_BYTES) {
      this.sendInPieces(parts);
      return;
    }
    const plain = parts[0]!;
    const header = frameHeader(plain.length + AEAD_TAG_BYTES);
    const [body, tag] = this.keys.send.seal(plain, header);
    this.queue.push(header, body, tag);
    this.queuedBytes += header.length + body.length + tag.length;
    this.queuedFrames++;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushAtTickEnd);
    }
    if (this.queuedFrames >= EARLY_FRAMES && !this.earlyWritten) {
      this.earlyWritten = true;
      this.flush();
    }
  }

  private sendInPieces(parts: Uint8Array[]): void {
    // Frames sealed before this one hold lower counters: they must reach the wire first.
    this.flush();
    if (this.socket.destroyed) return;
    let length = 0;
    for (const part of parts) length += part.length;
    const header = frameHeader(length + AEAD_TAG_BYTES);
    this.socket.write(header);
    // Written as sealed, not corked: the kernel passes each piece on while the next is sealed.
    this.keys.send.sealInPieces(parts, header, PIECE_BYTES, (piece) => this.socket.write(piece));
  }

  private flush(): void {
    if (this.queue.length === 0 || this.socket.destroyed) return;
    if (this.queuedBytes <= COALESCE_BYTES) {
      this.socket.write(this.queue.length === 1 ? this.queue[0]! : Buffer.concat(this.queue, this.queuedBytes));
    } else {
      this.socket.cork();
      for (const buf of this.queue) this.socket.write(buf);
      this.socket.uncork();
    }
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.queuedFrames = 0;
  }

  /** Closes after telling the peer why (if `reason` is given and the socket can still write). */
  closeWith(reason: FixpointError | null): void {
    if (this.closing !== null || this.closed) return;
    if (reason !== null) {
      const error: ErrorData = reason.toData();
      this.send({ type: "goodbye", error } as Out);
    }
    this.closing = reason ?? new FixpointError("CHANNEL_CLOSED", "connection closed");
    this.flush();
    this.socket.end();
    // A peer that never reads must not hold the socket open.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** Orderly close. */
  close(): void {
    if (this.closing !== null || this.closed) return;
    this.send({ type: "goodbye" } as Out);
    this.closing = new FixpointError("CHANNEL_CLOSED", "connection closed");
    this.flush();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    const reason = this.closing ?? new FixpointError("CHANNEL_CLOSED", "the peer closed the connection");
    for (const listener of this.closeListeners.splice(0)) listener(reason);
  }

  private beat(): void {
    if (Date.now() - this.lastReceived > this.options.heartbeatIntervalMs * HEARTBEAT_MISSES) {
      this.closeWith(new FixpointError("PEER_TIMEOUT", `no heartbeat from the peer for ${HEARTBEAT_MISSES} intervals of ${this.options.heartbeatIntervalMs} ms`));
      this.socket.destroy();
      return;
    }
    this.send({ type: "heartbeat" } as Out);
  }

  private onData(chunk: Buffer): void {
    if (this.closing !== null) return;
    this.lastReceived = Date.now();
    try {
      this.reader.read(chunk, this.sink, STREAM_BYTES);
    } catch (err) {
      this.closeWith(toFixpointError(err, "FRAME_INVALID"));
    }
  }

  private onPlaintext(plain: Buffer | null): void {
    if (plain === null) {
      this.closeWith(new FixpointError("FRAME_INVALID", "a frame failed authentication (tampered, replayed, reordered or truncated); closing"));
      return;
    }
    let message: In;
    try {
      message = this.decode(plain);
    } catch (err) {
      this.closeWith(toFixpointError(err, "MESSAGE_INVALID"));
      return;
    }
    if (message.type === "heartbeat") return;
    if (message.type === "goodbye") {
      const error = (message as { error?: Parameters<typeof errorFromWire>[0] }).error;
      this.closing = error === undefined ? new FixpointError("CHANNEL_CLOSED", "the peer closed the connection") : errorFromWire(error);
      this.socket.end();
      return;
    }
    this.dispatch(message);
  }
}
