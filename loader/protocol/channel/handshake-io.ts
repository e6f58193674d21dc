/**
 * Reads plaintext handshake frames from a socket as promises, with one deadline for the whole
 * handshake. Once the handshake is done, `detach` hands the frame reader and any frames that
 * arrived early to the encrypted connection, so no byte is lost or read twice.
 *
 * A peer whose first bytes are not a frame of ours is not a Fixpoint peer at all (an HTTP
 * server, an SSH banner): that is said as HANDSHAKE_FAILED naming what it looks like, not as
 * FRAME_TOO_LARGE for "HTTP" read as a length of 1213486160 bytes (issue 12).
 */
import type { Socket } from "node:net";
import { FixpointError, toFixpointError } from "../errors.js";
import { FrameReader, type Frame } from "../framing.js";
import { MAX_HANDSHAKE_FRAME_BYTES } from "../limits.js";

export class HandshakeIO {
  readonly reader = new FrameReader(MAX_HANDSHAKE_FRAME_BYTES);
  private readonly frames: Frame[] = [];
  private waiter: { resolve: (frame: Frame) => void; reject: (err: FixpointError) => void } | null = null;
  private failure: FixpointError | null = null;
  private readonly onData = (chunk: Buffer) => this.push(chunk);
  private readonly onEnd = () =>
    this.fail(
      this.framesSeen === 0 && this.first.length > 0
        ? foreignPeer(this.first)
        : new FixpointError("HANDSHAKE_FAILED", "the peer closed the connection during the handshake"),
    );
  private readonly onError = (err: Error) => this.fail(new FixpointError("HANDSHAKE_FAILED", `connection error during the handshake: ${err.message}`));
  private readonly timer: NodeJS.Timeout;
  // The peer's first bytes (up to FIRST_BYTES), to say what it is if it is not one of ours.
  private first: Buffer = Buffer.alloc(0);
  private framesSeen = 0;

  constructor(
    private readonly socket: Socket,
    timeoutMs: number,
  ) {
    socket.on("data", this.onData);
    socket.on("close", this.onEnd);
    socket.on("error", this.onError);
    this.timer = setTimeout(() => this.fail(new FixpointError("HANDSHAKE_TIMEOUT", `the handshake did not finish within ${timeoutMs} ms`)), timeoutMs);
    this.timer.unref();
  }

  /** Resolves with the next frame's body; rejects on a framing error, close or the deadline. */
  next(): Promise<Buffer> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const ready = this.frames.shift();
    if (ready !== undefined) return Promise.resolve(ready.body);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve: (frame) => resolve(frame.body), reject };
    });
  }

  /** Stops listening; returns frames received beyond those the handshake consumed. */
  detach(): Frame[] {
    clearTimeout(this.timer);
    this.socket.off("data", this.onData);
    this.socket.off("close", this.onEnd);
    this.socket.off("error", this.onError);
    return this.frames.splice(0);
  }

  fail(err: FixpointError): void {
    if (this.failure !== null) return;
    this.failure = err;
    clearTimeout(this.timer);
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(err);
  }

  private push(chunk: Buffer): void {
    if (this.failure !== null) return;
    if (this.first.length < FIRST_BYTES) this.first = Buffer.concat([this.first, chunk.subarray(0, FIRST_BYTES - this.first.length)]);
    try {
      const frames = this.reader.push(chunk);
      this.framesSeen += frames.length;
      this.frames.push(...frames);
    } catch (err) {
      const error = toFixpointError(err, "HANDSHAKE_FAILED");
      // Our first frame is a few hundred bytes: a first length past the limit is another protocol.
      this.fail(this.framesSeen === 0 && error.code === "FRAME_TOO_LARGE" ? foreignPeer(this.first) : error);
      return;
    }
    // The handshake is strictly turn-based; a peer that runs ahead by more than a few frames is not a client.
    if (this.frames.length > 4) {
      this.fail(new FixpointError("HANDSHAKE_FAILED", "the peer sent frames out of turn during the handshake"));
      return;
    }
    if (this.waiter !== null && this.frames.length > 0) {
      const waiter = this.waiter;
      this.waiter = null;
      waiter.resolve(this.frames.shift()!);
    }
  }
}

const FIRST_BYTES = 64;

/** HANDSHAKE_FAILED for a peer whose first bytes are not a Fixpoint frame, saying what they look like. */
export function foreignPeer(first: Buffer): FixpointError {
  const text = first.toString("latin1");
  const line = text.split(/\r?\n/)[0]!;
  const shown = /^[\x20-\x7e]+$/.test(line) ? JSON.stringify(line.slice(0, 48)) : first.subarray(0, 8).toString("hex").replace(/(..)(?!$)/g, "$1 ");
  let hint: string;
  if (text.startsWith("HTTP/")) hint = "it answered like an HTTP server: is this the node's --http port rather than its channel port (--listen, 7420 by default)?";
  else if (/^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|CONNECT|TRACE) /.test(text)) hint = "it sent an HTTP request: HTTP goes to the node's --http port, not its channel port";
  else if (text.startsWith("SSH-")) hint = "it is an SSH server: check the port";
  else if (first[0] === 0x16 && first[1] === 0x03) hint = "it speaks TLS: check the port";
  else hint = "check the address and port";
  return new FixpointError("HANDSHAKE_FAILED", `the peer does not speak the Fixpoint protocol (its first bytes: ${shown}); ${hint}`);
}
