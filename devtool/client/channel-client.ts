/**
 * The client end of the channel, used by the devtool: connect, run the handshake as
 * initiator, then send requests with ids and match the answers, many in flight at once.
 * When the connection closes, every pending request fails with CHANNEL_CLOSED (or the code
 * the node gave in its goodbye).
 */
import { connect as netConnect, type Socket } from "node:net";
import { FixpointError, toFixpointError } from "../../loader/protocol/errors.js";
import type { KeyPair } from "../../loader/protocol/crypto/ed25519.js";
import { encodeFrame } from "../../loader/protocol/framing.js";
import { startClientHandshake, type SessionKeys } from "../../loader/protocol/handshake.js";
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_MAX_FRAME_BYTES,
  PROTOCOL_VERSIONS,
} from "../../loader/protocol/limits.js";
import {
  decodeNodeMessages,
  errorFromWire,
  validateResult,
  type ClientMessage,
  type NodeMessage,
  type RequestBody,
  type RequestType,
  type ResultOf,
  type Welcome,
} from "../../loader/protocol/messages.js";
import type { Data } from "../../loader/protocol/schema.js";
import { Connection, type ConnectionOptions } from "../../loader/protocol/channel/connection.js";
import { HandshakeIO } from "../../loader/protocol/channel/handshake-io.js";

export interface ConnectOptions {
  host: string;
  port: number;
  identity: KeyPair;
  /** Decides whether the node's key is trusted; throws (NODE_KEY_UNPINNED, NODE_KEY_MISMATCH) if not. */
  checkNodeKey: (key: Uint8Array) => void;
  /** Connect + handshake deadline, ms. Default DEFAULT_HANDSHAKE_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Default DEFAULT_HEARTBEAT_INTERVAL_MS. */
  heartbeatIntervalMs?: number;
  /** Default DEFAULT_MAX_FRAME_BYTES. */
  maxFrameBytes?: number;
  /** Protocol versions to offer; tests use it to offer a wrong one. */
  versions?: readonly number[];
}

export interface RequestOptions {
  /** Fails the request with REQUEST_TIMEOUT after this many ms; the connection stays open. Default: none. */
  timeoutMs?: number;
}

interface Pending {
  type: RequestType;
  resolve: (value: unknown) => void;
  reject: (err: FixpointError) => void;
  timer: NodeJS.Timeout | undefined;
}

export type EventListener = (topic: string, data: Data) => void;

export class ClientConnection extends Connection<NodeMessage, ClientMessage> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly eventListeners: EventListener[] = [];
  private welcomeMessage: Welcome | null = null;
  private settleWelcome: { resolve: (w: Welcome) => void; reject: (err: FixpointError) => void } | null = null;
  /** Resolves with the node's welcome; rejects with the code of its goodbye if it refused us. */
  readonly ready: Promise<Welcome>;

  constructor(
    socket: Socket,
    io: HandshakeIO,
    keys: SessionKeys,
    options: ConnectionOptions,
    /** The node's verified public key. */
    readonly nodeKey: Uint8Array,
  ) {
    super(socket, io.reader, keys, options, decodeNodeMessages);
    this.ready = new Promise((resolve, reject) => {
      this.settleWelcome = { resolve, reject };
    });
    this.onClose((reason) => {
      const err = reason ?? new FixpointError("CHANNEL_CLOSED", "connection closed");
      this.settleWelcome?.reject(err);
      this.settleWelcome = null;
      const failure = err.code === "CHANNEL_CLOSED" ? err : new FixpointError("CHANNEL_CLOSED", `connection closed: ${err.code}: ${err.message}`);
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(failure);
        this.pending.delete(id);
      }
    });
  }

  /** What the node said about itself and this client's roles. */
  get welcome(): Welcome {
    if (this.welcomeMessage === null) throw new FixpointError("INTERNAL", "the connection is not ready; await conn.ready");
    return this.welcomeMessage;
  }

  /** Requests in flight. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Sends a request and resolves with its validated result.
   *
   * @example
   * const status = await conn.request("status", {});
   */
  request<K extends RequestType>(type: K, body: Omit<RequestBody<K>, "type">, options: RequestOptions = {}): Promise<ResultOf<K>> {
    if (!this.isOpen) return Promise.reject(new FixpointError("CHANNEL_CLOSED", "the connection is closed; reconnect"));
    const id = this.nextId++;
    return new Promise<ResultOf<K>>((resolve, reject) => {
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.pending.delete(id);
              reject(new FixpointError("REQUEST_TIMEOUT", `${type} got no answer within ${options.timeoutMs} ms`));
            }, options.timeoutMs);
      this.pending.set(id, { type, resolve: resolve as (v: unknown) => void, reject, timer });
      this.send({ ...body, type, id } as unknown as ClientMessage);
    });
  }

  /** Listens to events the node pushes (logs). */
  onEvent(listener: EventListener): void {
    this.eventListeners.push(listener);
  }

  protected dispatch(message: NodeMessage): void {
    if (this.welcomeMessage === null) {
      if (message.type !== "welcome") {
        this.closeWith(new FixpointError("HANDSHAKE_FAILED", `expected a welcome from the node, got ${message.type}`));
        return;
      }
      this.welcomeMessage = message;
      this.settleWelcome?.resolve(message);
      this.settleWelcome = null;
      return;
    }
    switch (message.type) {
      case "result":
      case "error": {
        const p = this.pending.get(message.id);
        if (p === undefined) return; // timed out already
        this.pending.delete(message.id);
        clearTimeout(p.timer);
        if (message.type === "error") {
          p.reject(errorFromWire(message.error));
          return;
        }
        try {
          p.resolve(validateResult(p.type, message.value));
        } catch (err) {
          p.reject(toFixpointError(err, "MESSAGE_INVALID"));
        }
        return;
      }
      case "event":
        for (const listener of this.eventListeners) listener(message.topic, message.data);
        return;
      case "welcome":
        this.closeWith(new FixpointError("MESSAGE_INVALID", "a second welcome from the node"));
        return;
      case "heartbeat":
      case "goodbye":
        return; // handled by Connection
      default: {
        const exhaustive: never = message;
        return exhaustive;
      }
    }
  }
}

/**
 * Opens an authenticated, encrypted connection to a node and waits for its welcome.
 * Rejects with CONNECT_FAILED, HANDSHAKE_FAILED, HANDSHAKE_TIMEOUT, PROTOCOL_VERSION,
 * UNKNOWN_IDENTITY, TOO_MANY_CONNECTIONS, or whatever `checkNodeKey` throws.
 */
export async function connect(options: ConnectOptions): Promise<ClientConnection> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const socket = await openSocket(options.host, options.port, timeoutMs);
  socket.setNoDelay(true);
  const io = new HandshakeIO(socket, timeoutMs);
  let conn: ClientConnection;
  try {
    const handshake = startClientHandshake(options.identity, options.versions ?? PROTOCOL_VERSIONS);
    socket.write(encodeFrame(handshake.hello));
    const done = handshake.finish(await io.next(), options.checkNodeKey);
    socket.write(encodeFrame(done.auth));
    const early = io.detach();
    conn = new ClientConnection(
      socket,
      io,
      done.keys,
      {
        heartbeatIntervalMs: options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
        maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
        protocolVersion: done.version,
      },
      done.nodeKey,
    );
    conn.feed(early);
  } catch (err) {
    io.detach();
    socket.destroy();
    throw toFixpointError(err, "HANDSHAKE_FAILED");
  }
  const timer = setTimeout(() => conn.closeWith(new FixpointError("HANDSHAKE_TIMEOUT", `no welcome from the node within ${timeoutMs} ms`)), timeoutMs);
  try {
    await conn.ready;
  } catch (err) {
    socket.destroy();
    throw toFixpointError(err, "HANDSHAKE_FAILED");
  } finally {
    clearTimeout(timer);
  }
  return conn;
}

function openSocket(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new FixpointError("CONNECT_FAILED", `no TCP connection to ${host}:${port} within ${timeoutMs} ms; is the node running and reachable?`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new FixpointError("CONNECT_FAILED", `cannot connect to ${host}:${port} (${err.code ?? err.message}); is \`loader start\` running there?`));
    });
  });
}
