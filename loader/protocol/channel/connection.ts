/**
 * The encrypted half of a connection, shared by both ends: frames in and out through the
 * session keys, heartbeats, and closing with a reason. `ClientConnection` (client.ts) adds
 * request/response; the node's side (server.ts) adds dispatch to handlers.
 *
 * Small messages sent in one tick are sealed together as one record (protocol version 2, as TLS
 * does; version 1 seals each alone) and written in one batch; a message of STREAM_BYTES or more
 * is a record of its own, sealed and written piece by piece, and opened piece by piece as it
 * arrives, so both ends work on it at once. Either way a record's plaintext is used only once
 * its tag verifies.
 *
 * Any frame that fails to decrypt, decode or validate closes the connection: the peer is told
 * why in a `goodbye` (its sending keys still work), and every pending request fails.
 *
 * Liveness is progress, checked at each heartbeat (issue 13):
 *
 *   reading    a frame in progress    → it must be whole within frameTimeoutMs (FRAME_TIMEOUT)
 *              none in progress       → a whole frame within HEARTBEAT_MISSES intervals (PEER_TIMEOUT)
 *   paused     (queue over the bound) → the peer must take some of its queue within drainTimeoutMs
 *                                       (PEER_NOT_READING); the two checks above wait
 *
 * A byte is not life: a peer that trickles one byte a second is held to the frame deadline. With
 * `maxQueuedBytes`, a peer whose outgoing queue is over the bound is not read from until it
 * drains (the node's side; a client never stops reading, or two such ends could wait on each
 * other).
 */
import type { Socket } from "node:net";
import { FixpointError, toFixpointError, type ErrorData } from "../errors.js";
import { AEAD_TAG_BYTES, type OpeningFrame } from "../crypto/aead.js";
import { FrameReader, frameHeader, type Frame, type FrameSink } from "../framing.js";
import { encodeMessageParts, errorFromWire, type Message } from "../messages.js";
import { DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_FRAME_TIMEOUT_MS, HEARTBEAT_MISSES, MAX_RECORD_MESSAGES } from "../limits.js";
import type { SessionKeys } from "../handshake.js";

/** Our own heartbeat timer firing this many intervals late means this process was blocked, not that the peer went silent. */
const LATE_TIMER_INTERVALS = 2;

export interface ConnectionOptions {
  /** Interval between heartbeats, ms. A peer silent for HEARTBEAT_MISSES intervals is dead. */
  heartbeatIntervalMs: number;
  /** Largest frame body accepted, bytes; also the largest this side sends (the peer's default is the same). */
  maxFrameBytes: number;
  /** Longest a frame may take to arrive once it has started, ms. Default DEFAULT_FRAME_TIMEOUT_MS. */
  frameTimeoutMs?: number;
  /** Bytes queued toward the peer above which it is not read from. Default: no bound (a client). */
  maxQueuedBytes?: number;
  /** Longest a peer over `maxQueuedBytes` may take nothing of its queue, ms. Default DEFAULT_DRAIN_TIMEOUT_MS. */
  drainTimeoutMs?: number;
  /** The version the handshake chose; from 2 on, a record carries several messages. Default 1. */
  protocolVersion?: number;
}

// Small frames are coalesced into one write per tick; past this size a copy costs more than a writev.
const COALESCE_BYTES = 64 * 1024;
// ...except the first few messages of a tick, sealed and written as soon as there are this many:
// the peer starts on them while this side handles the rest, so on two cores the two ends overlap
// instead of taking turns (16 requests in flight: ~11k → ~15k round trips/s; a burst still costs
// two writes, not one per frame; bench/channel.ts, 2026-11-25).
const EARLY_FRAMES = 4;
// Plaintext of one record of several messages, at most; one seal and one open per record, so a
// record is as large as can be without holding the first message back for long.
const RECORD_BYTES = 64 * 1024;
// Messages in one record, at most (the peer accepts MAX_RECORD_MESSAGES).
const RECORD_MESSAGES = 256;
// A frame at least this large is sealed and written in pieces of PIECE_BYTES, and opened as
// its parts arrive, so that the two ends work on it at once rather than one after the other
// (a 10 MB echo took about 2x as long whole; bench/channel.ts). 64 KiB pieces measured fastest.
const STREAM_BYTES = 256 * 1024;
const PIECE_BYTES = 64 * 1024;

export abstract class Connection<In extends Message, Out extends Message> {
  private readonly queue: Buffer[] = [];
  // Encoded messages waiting to be sealed together as the next record.
  private readonly unsealed: Uint8Array[] = [];
  private pendingBytes = 0;
  // Messages per record this side sends and accepts: 1 in protocol version 1.
  private readonly sendPerRecord: number;
  // Plaintext bytes of a record of several messages, at most (below the frame limit, always).
  private readonly recordBytes: number;
  private readonly receivePerRecord: number;
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
  private lastBeat = Date.now();
  private skippedBeat = false;
  // When the last whole frame arrived (the handshake's, to begin with).
  private lastReceived = Date.now();
  // Whole frames received so far, and when the frame now arriving started (null: none is).
  private framesReceived = 0;
  private frameStartedAt: number | null = null;
  private readonly frameTimeoutMs: number;
  private readonly maxQueuedBytes: number;
  private readonly drainTimeoutMs: number;
  // Reading is paused while the peer's queue is over maxQueuedBytes; since when the queue last shrank.
  private paused = false;
  private stalledSince = 0;
  private stalledQueue = 0;
  private closing: FixpointError | null = null;
  private readonly closeListeners: ((reason: FixpointError | null) => void)[] = [];
  // The large frame being opened part by part, if any.
  private opening: OpeningFrame | null = null;
  // Where the reader delivers frames, in wire order (a private object: these are not API).
  private readonly sink: FrameSink = {
    frame: (header, body) => {
      this.framesReceived++;
      if (this.closing === null) this.onPlaintext(this.keys.receive.open(body, header));
    },
    start: (header, length) => {
      if (this.closing === null) this.opening = this.keys.receive.begin(header, length);
    },
    part: (bytes) => {
      if (this.closing === null) this.opening!.update(bytes);
    },
    end: () => {
      this.framesReceived++;
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
    private readonly decode: (bytes: Uint8Array, maxMessages: number) => In[],
  ) {
    reader.maxFrameBytes = options.maxFrameBytes;
    const batched = (options.protocolVersion ?? 1) >= 2;
    this.sendPerRecord = batched ? RECORD_MESSAGES : 1;
    this.recordBytes = Math.min(RECORD_BYTES, options.maxFrameBytes - AEAD_TAG_BYTES);
    this.receivePerRecord = batched ? MAX_RECORD_MESSAGES : 1;
    this.frameTimeoutMs = options.frameTimeoutMs ?? DEFAULT_FRAME_TIMEOUT_MS;
    this.maxQueuedBytes = options.maxQueuedBytes ?? Infinity;
    this.drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", () => this.resumeReading());
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

  /** Bytes sealed toward the peer and not yet taken by the kernel. */
  get queuedTowardPeer(): number {
    return this.socket.writableLength + this.queuedBytes + this.pendingBytes;
  }

  /** Whether the queue toward the peer is over `maxQueuedBytes`. */
  get overQueueBound(): boolean {
    return this.queuedTowardPeer > this.maxQueuedBytes;
  }

  /** Processes frames that arrived with the handshake's last frame, before this object took over. */
  feed(frames: Frame[]): void {
    for (const frame of frames) this.sink.frame(frame.header, frame.body);
  }

  /**
   * Seals and queues `message`. Throws FRAME_TOO_LARGE, sending nothing, if its frame would be
   * over maxFrameBytes: the peer would close the connection on it.
   */
  send(message: Out): void {
    if (!this.isOpen) return;
    // A large byte string stays where it is: one part of its own, sealed straight from it.
    const parts = encodeMessageParts(message, STREAM_BYTES);
    if (parts.length > 1 || parts[0]!.length >= STREAM_BYTES) {
      let length = AEAD_TAG_BYTES;
      for (const part of parts) length += part.length;
      if (length > this.options.maxFrameBytes) throw new FixpointError("FRAME_TOO_LARGE", `a ${message.type} of ${length} bytes exceeds the frame limit of ${this.options.maxFrameBytes}`);
      this.sendInPieces(parts);
      return;
    }
    const plain = parts[0]!;
    if (plain.length + AEAD_TAG_BYTES > this.options.maxFrameBytes) throw new FixpointError("FRAME_TOO_LARGE", `a ${message.type} of ${plain.length} bytes exceeds the frame limit of ${this.options.maxFrameBytes}`);
    if (this.unsealed.length >= this.sendPerRecord || this.pendingBytes + plain.length > this.recordBytes) this.sealPending();
    this.unsealed.push(plain);
    this.pendingBytes += plain.length;
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
    this.checkQueue();
  }

  // Stops reading from a peer whose queue is over the bound: it is not reading, so what it
  // sends next would only add answers to the queue. 'drain' (the kernel took everything) resumes.
  private checkQueue(): void {
    if (this.paused || this.socket.writableLength <= this.maxQueuedBytes) return;
    this.paused = true;
    this.stalledSince = Date.now();
    this.stalledQueue = this.socket.writableLength;
    this.socket.pause();
  }

  private resumeReading(): void {
    if (!this.paused || this.closed) return;
    this.paused = false;
    // The peer was not read while paused: its heartbeats and the frame it was sending wait in
    // the kernel, so both clocks start afresh.
    const now = Date.now();
    this.lastReceived = now;
    if (this.frameStartedAt !== null) this.frameStartedAt = now;
    this.socket.resume();
  }

  /** Seals the messages waiting as one record, queued for the next write. */
  private sealPending(): void {
    const count = this.unsealed.length;
    if (count === 0) return;
    const plain = count === 1 ? this.unsealed[0]! : Buffer.concat(this.unsealed, this.pendingBytes);
    this.unsealed.length = 0;
    this.pendingBytes = 0;
    const header = frameHeader(plain.length + AEAD_TAG_BYTES);
    const [body, tag] = this.keys.send.seal(plain, header);
    this.queue.push(header, body, tag);
    this.queuedBytes += header.length + body.length + tag.length;
  }

  private flush(): void {
    this.sealPending();
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
    this.checkQueue();
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
    const now = Date.now();
    // A beat this late means this process's own event loop was held up (a synchronous child
    // process, a long computation): what the peer sent meanwhile waits unread in the kernel,
    // and timers run before I/O is read, so judging the peer now would blame it for our stall.
    // Never twice in a row, so that a process always late still notices a dead peer.
    const late = now - this.lastBeat > this.options.heartbeatIntervalMs * LATE_TIMER_INTERVALS && !this.skippedBeat;
    this.lastBeat = now;
    this.skippedBeat = late;
    if (late) {
      this.send({ type: "heartbeat" } as Out);
      return;
    }
    if (this.paused) {
      const queued = this.socket.writableLength;
      if (queued < this.stalledQueue) {
        this.stalledQueue = queued;
        this.stalledSince = now;
      } else if (now - this.stalledSince > this.drainTimeoutMs) {
        this.abort(new FixpointError("PEER_NOT_READING", `the peer read nothing of the ${queued} bytes queued toward it for ${this.drainTimeoutMs} ms`));
        return;
      }
    } else if (this.frameStartedAt !== null) {
      if (now - this.frameStartedAt > this.frameTimeoutMs) {
        this.abort(new FixpointError("FRAME_TIMEOUT", `a frame took longer than ${this.frameTimeoutMs} ms to arrive (${this.reader.pending} bytes so far)`));
        return;
      }
    } else if (now - this.lastReceived > this.options.heartbeatIntervalMs * HEARTBEAT_MISSES) {
      this.abort(new FixpointError("PEER_TIMEOUT", `no heartbeat from the peer for ${HEARTBEAT_MISSES} intervals of ${this.options.heartbeatIntervalMs} ms`));
      return;
    }
    this.send({ type: "heartbeat" } as Out);
  }

  /** Says why and closes at once: the peer is not keeping up its side, so it is not waited for. */
  protected abort(reason: FixpointError): void {
    this.closeWith(reason);
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closing !== null) return;
    const before = this.framesReceived;
    try {
      this.reader.read(chunk, this.sink, STREAM_BYTES);
    } catch (err) {
      this.closeWith(toFixpointError(err, "FRAME_INVALID"));
      return;
    }
    const progressed = this.framesReceived !== before;
    if (progressed) this.lastReceived = Date.now();
    if (this.reader.pending === 0) this.frameStartedAt = null;
    // A frame began in this chunk (after any it completed): its deadline starts now.
    else if (progressed) this.frameStartedAt = this.lastReceived;
    else if (this.frameStartedAt === null) this.frameStartedAt = Date.now();
  }

  private onPlaintext(plain: Buffer | null): void {
    if (plain === null) {
      this.closeWith(new FixpointError("FRAME_INVALID", "a frame failed authentication (tampered, replayed, reordered or truncated); closing"));
      return;
    }
    let messages: In[];
    try {
      messages = this.decode(plain, this.receivePerRecord);
    } catch (err) {
      this.closeWith(toFixpointError(err, "MESSAGE_INVALID"));
      return;
    }
    for (const message of messages) {
      // A message before this one may have closed the connection (a goodbye, a protocol error).
      if (this.closing !== null) return;
      if (message.type === "heartbeat") continue;
      if (message.type === "goodbye") {
        const error = (message as { error?: Parameters<typeof errorFromWire>[0] }).error;
        this.closing = error === undefined ? new FixpointError("CHANNEL_CLOSED", "the peer closed the connection") : errorFromWire(error);
        this.socket.end();
        return;
      }
      this.dispatch(message);
    }
  }
}
