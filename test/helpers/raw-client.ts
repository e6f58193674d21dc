/**
 * A hand-driven client for attack tests: runs the real handshake over a raw socket, then lets
 * a test write any bytes or frames it likes and read what the node sends back.
 */
import { connect as netConnect, type Socket } from "node:net";
import {
  FrameReader,
  decodeNodeMessages,
  MAX_RECORD_MESSAGES,
  encodeFrame,
  encodeMessage,
  frameHeader,
  MAX_HANDSHAKE_FRAME_BYTES,
  startClientHandshake,
  type Frame,
  type KeyPair,
  type NodeMessage,
  type SessionKeys,
} from "../../loader/index.js";

export class RawSocket {
  readonly reader = new FrameReader(MAX_HANDSHAKE_FRAME_BYTES);
  private frames: Frame[] = [];
  private waiters: ((f: Frame | null) => void)[] = [];
  closed = false;
  readonly closedPromise: Promise<void>;

  constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      for (const f of this.reader.push(chunk)) {
        const w = this.waiters.shift();
        if (w !== undefined) w(f);
        else this.frames.push(f);
      }
    });
    socket.on("error", () => {});
    this.closedPromise = new Promise((resolve) =>
      socket.on("close", () => {
        this.closed = true;
        for (const w of this.waiters.splice(0)) w(null);
        resolve();
      }),
    );
  }

  static open(port: number): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: "127.0.0.1", port }, () => resolve(new RawSocket(socket)));
      socket.once("error", reject);
    });
  }

  /** The next frame, or null once the node closed the connection. */
  nextFrame(timeoutMs = 5000): Promise<Frame | null> {
    const ready = this.frames.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no frame within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((f) => (clearTimeout(timer), resolve(f)));
    });
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }
}

export interface RawSession {
  raw: RawSocket;
  keys: SessionKeys;
  /** Seals a plaintext with the next counter and returns the whole frame (header + ciphertext + tag). */
  seal(plain: Uint8Array): Buffer;
  /** Seals and sends one message. */
  sendMessage(message: unknown): void;
  /** The node's next decrypted message, or null once it closed. */
  nextMessage(timeoutMs?: number): Promise<NodeMessage | null>;
  /** Reads until a goodbye or close; returns the goodbye's error code if any. */
  goodbyeCode(timeoutMs?: number): Promise<string | null>;
}

export async function rawSession(port: number, identity: KeyPair, versions?: readonly number[]): Promise<RawSession> {
  const raw = await RawSocket.open(port);
  const hs = startClientHandshake(identity, versions);
  raw.write(encodeFrame(hs.hello));
  const nodeHello = await raw.nextFrame();
  if (nodeHello === null) throw new Error("node closed during handshake");
  const done = hs.finish(nodeHello.body, () => {});
  raw.write(encodeFrame(done.auth));
  raw.reader.maxFrameBytes = 64 * 1024 * 1024;
  const keys = done.keys;
  const seal = (plain: Uint8Array) => {
    const header = frameHeader(plain.length + 16);
    const [body, tag] = keys.send.seal(plain, header);
    return Buffer.concat([header, body, tag]);
  };
  // A record of protocol version 2 may carry several messages.
  const received: NodeMessage[] = [];
  const nextMessage = async (timeoutMs?: number): Promise<NodeMessage | null> => {
    for (;;) {
      const ready = received.shift();
      if (ready !== undefined) {
        if (ready.type !== "heartbeat") return ready;
        continue;
      }
      const frame = await raw.nextFrame(timeoutMs);
      if (frame === null) return null;
      const plain = keys.receive.open(frame.body, frame.header);
      if (plain === null) throw new Error("node sent a frame that does not authenticate");
      received.push(...decodeNodeMessages(plain, done.version >= 2 ? MAX_RECORD_MESSAGES : 1));
    }
  };
  const session: RawSession = {
    raw,
    keys,
    seal,
    sendMessage: (message) => raw.write(seal(encodeMessage(message as Parameters<typeof encodeMessage>[0]))),
    nextMessage,
    goodbyeCode: async (timeoutMs) => {
      for (;;) {
        const m = await nextMessage(timeoutMs);
        if (m === null) return null;
        if (m.type === "goodbye") return m.error?.code ?? "none";
      }
    },
  };
  const welcome = await nextMessage();
  if (welcome?.type !== "welcome") throw new Error(`expected welcome, got ${JSON.stringify(welcome)}`);
  return session;
}
