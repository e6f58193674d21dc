/**
 * Reads plaintext handshake frames from a socket as promises, with one deadline for the whole
 * handshake. Once the handshake is done, `detach` hands the frame reader and any frames that
 * arrived early to the encrypted connection, so no byte is lost or read twice.
 */
import type { Socket } from "node:net";
import { FixpointError, toFixpointError } from "../errors.js";
import { FrameReader, type Frame } from "../protocol/framing.js";
import { MAX_HANDSHAKE_FRAME_BYTES } from "../protocol/limits.js";

export class HandshakeIO {
  readonly reader = new FrameReader(MAX_HANDSHAKE_FRAME_BYTES);
  private readonly frames: Frame[] = [];
  private waiter: { resolve: (frame: Frame) => void; reject: (err: FixpointError) => void } | null = null;
  private failure: FixpointError | null = null;
  private readonly onData = (chunk: Buffer) => this.push(chunk);
  private readonly onEnd = () => this.fail(new FixpointError("HANDSHAKE_FAILED", "the peer closed the connection during the handshake"));
  private readonly onError = (err: Error) => this.fail(new FixpointError("HANDSHAKE_FAILED", `connection error during the handshake: ${err.message}`));
  private readonly timer: NodeJS.Timeout;

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
    try {
      this.frames.push(...this.reader.push(chunk));
    } catch (err) {
      this.fail(toFixpointError(err, "HANDSHAKE_FAILED"));
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
