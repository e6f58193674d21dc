/**
 * The peer the channel is measured against: the same exchange over plain TCP. Same 4-byte
 * big-endian length framing (the same FrameReader), the same CBOR messages encoded by the same
 * cbor-x encoder, the same per-tick write batching; no handshake, no crypto, no well-formedness
 * pre-check, no schema validation, and the server answers synchronously.
 *
 * It is deliberately lean so that the ratio fixpoint/plain shows what the channel's security
 * costs, not what a sloppy baseline would flatter.
 */
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { Decoder } from "cbor-x";
import { FrameReader, frameHeader } from "../loader/protocol/framing.js";
import { encodeCbor } from "../loader/protocol/cbor.js";
import { DEFAULT_MAX_FRAME_BYTES } from "../loader/protocol/limits.js";

const decoder = new Decoder({ useRecords: false, mapsAsObjects: true, structuredClone: false } as ConstructorParameters<typeof Decoder>[0]);

interface PlainMessage {
  type: string;
  id: number;
  data?: Uint8Array;
  value?: { data?: Uint8Array };
}

/** Length-prefixed writes, corked for the rest of the tick so a burst leaves as one writev. */
class PlainWriter {
  private corked = false;
  constructor(private readonly socket: Socket) {}

  send(message: unknown): void {
    const body = encodeCbor(message);
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(frameHeader(body.length));
    this.socket.write(body);
  }
}

function onFrames(socket: Socket, handle: (message: PlainMessage) => void): void {
  const reader = new FrameReader(DEFAULT_MAX_FRAME_BYTES);
  socket.on("data", (chunk: Buffer) => {
    for (const frame of reader.push(chunk)) handle(decoder.decode(frame.body) as PlainMessage);
  });
}

export class PlainServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor() {
    this.server = createServer((socket) => {
      socket.setNoDelay(true);
      socket.on("error", () => {});
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      const writer = new PlainWriter(socket);
      onFrames(socket, (m) => writer.send({ type: "result", id: m.id, value: m.data === undefined ? {} : { data: m.data } }));
    });
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ host, port }, () => {
        const address = this.server.address();
        if (address === null || typeof address === "string") reject(new Error("no TCP address"));
        else resolve(address.port);
      });
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export class PlainClient {
  private nextId = 1;
  private readonly pending = new Map<number, (value: { data?: Uint8Array }) => void>();
  private readonly writer: PlainWriter;

  private constructor(private readonly socket: Socket) {
    this.writer = new PlainWriter(socket);
    onFrames(socket, (m) => {
      const resolve = this.pending.get(m.id);
      if (resolve === undefined) return;
      this.pending.delete(m.id);
      resolve(m.value ?? {});
    });
  }

  /** TCP connect; the caller makes one round trip before counting the connection as ready. */
  static open(host: string, port: number): Promise<PlainClient> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host, port });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        socket.setNoDelay(true);
        resolve(new PlainClient(socket));
      });
    });
  }

  ping(body: { data?: Uint8Array }): Promise<{ data?: Uint8Array }> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.writer.send({ ...body, type: "ping", id });
    });
  }

  close(): void {
    this.socket.end();
  }
}
