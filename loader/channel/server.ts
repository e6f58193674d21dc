/**
 * The node end of the channel: accepts TCP connections, runs the handshake as responder under
 * a deadline and a cap on unfinished handshakes, then hands each authenticated request to the
 * node's handler and sends back its result or coded error.
 *
 * What a misbehaving peer can cost the node is bounded: MAX_HANDSHAKE_FRAME_BYTES and the
 * handshake deadline before it is authenticated; maxFrameBytes per frame, MAX_IN_FLIGHT
 * requests and the idle timeout after. A bad frame ends that connection only.
 */
import { createServer, type Server, type Socket } from "node:net";
import { FixpointError, toFixpointError } from "../errors.js";
import type { KeyPair } from "../crypto/ed25519.js";
import { fingerprint } from "../crypto/fingerprint.js";
import { encodeFrame } from "../protocol/framing.js";
import { encodeReject, respondToClientHello } from "../protocol/handshake.js";
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_PENDING_HANDSHAKES,
  MAX_IN_FLIGHT,
  PROTOCOL_VERSIONS,
} from "../protocol/limits.js";
import { decodeClientMessage, isRequest, type ClientMessage, type EventTopic, type NodeMessage, type Request, type Role, type Topic, type Welcome } from "../protocol/messages.js";
import type { Data } from "../protocol/schema.js";
import { silentLogger, type Logger } from "../log.js";
import { Connection, type ConnectionOptions } from "./connection.js";
import { HandshakeIO } from "./handshake-io.js";

/** Who is on the other end of a connection, once authenticated. */
export interface Session {
  readonly clientKey: Uint8Array;
  readonly fingerprint: string;
  readonly roles: readonly Role[];
  readonly remoteAddress: string;
  /** Unique per connection for the life of the server (names the connection's REPL session). */
  readonly id: number;
  /** Pushes an event to this client. */
  sendEvent(topic: EventTopic, data: Data): void;
  /** From now on this client receives `publish`ed events of these topics. */
  subscribe(topics: readonly Topic[]): void;
  /** Called once when the connection is gone (state tied to it, like a REPL session, is dropped). */
  onClose(listener: () => void): void;
}

export interface ServerLimits {
  /** Default DEFAULT_HANDSHAKE_TIMEOUT_MS. */
  handshakeTimeoutMs: number;
  /** Default DEFAULT_HEARTBEAT_INTERVAL_MS. */
  heartbeatIntervalMs: number;
  /** A connection with no request for this long is closed. Default DEFAULT_IDLE_TIMEOUT_MS. */
  idleTimeoutMs: number;
  /** Authenticated connections. Default DEFAULT_MAX_CONNECTIONS. */
  maxConnections: number;
  /** Connections still in the handshake. Default DEFAULT_MAX_PENDING_HANDSHAKES. */
  maxPendingHandshakes: number;
  /** Default DEFAULT_MAX_FRAME_BYTES. */
  maxFrameBytes: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  handshakeTimeoutMs: DEFAULT_HANDSHAKE_TIMEOUT_MS,
  heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
  idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS,
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  maxPendingHandshakes: DEFAULT_MAX_PENDING_HANDSHAKES,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
};

export interface ServerOptions {
  identity: KeyPair;
  /** Roles of a client key, or null if the key is not trusted. Asked at every handshake. */
  rolesOf(clientKey: Uint8Array): readonly Role[] | null;
  /** What the welcome says about the node. */
  describe(): Welcome["node"];
  /** Answers one request; throws a FixpointError to answer with its code. */
  handle(session: Session, request: Request): Promise<Data> | Data;
  logger?: Logger;
  limits?: Partial<ServerLimits>;
}

class NodeConnection extends Connection<ClientMessage, NodeMessage> {
  readonly inFlight = new Set<number>();
  readonly topics = new Set<Topic>();
  private idleTimer: NodeJS.Timeout | undefined;
  session!: Session;

  constructor(
    socket: Socket,
    io: HandshakeIO,
    keys: ConstructorParameters<typeof Connection>[2],
    options: ConnectionOptions,
    private readonly server: ChannelServer,
    private readonly idleTimeoutMs: number,
  ) {
    super(socket, io.reader, keys, options, decodeClientMessage);
    this.touch();
    this.onClose(() => clearTimeout(this.idleTimer));
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      // A subscriber waits for events, not requests: it is not idle.
      if (this.inFlight.size === 0 && this.topics.size === 0) this.closeWith(new FixpointError("IDLE_TIMEOUT", `no request for ${this.idleTimeoutMs} ms; reconnect when needed`));
      else this.touch();
    }, this.idleTimeoutMs);
    this.idleTimer.unref();
  }

  protected dispatch(message: ClientMessage): void {
    if (!isRequest(message)) return; // heartbeat and goodbye are handled by Connection
    this.touch();
    if (this.inFlight.has(message.id)) {
      this.closeWith(new FixpointError("MESSAGE_INVALID", `request id ${message.id} is already in flight`));
      return;
    }
    if (this.inFlight.size >= MAX_IN_FLIGHT) {
      this.closeWith(new FixpointError("MESSAGE_INVALID", `more than ${MAX_IN_FLIGHT} requests in flight on one connection`));
      return;
    }
    this.inFlight.add(message.id);
    void this.server.answer(this, message).finally(() => this.inFlight.delete(message.id));
  }

  reply(message: NodeMessage): void {
    this.send(message);
  }
}

export class ChannelServer {
  private readonly server: Server;
  private readonly limits: ServerLimits;
  private readonly logger: Logger;
  private readonly connections = new Set<NodeConnection>();
  private readonly handshaking = new Set<Socket>();
  private shuttingDown = false;
  private nextSessionId = 1;

  constructor(private readonly options: ServerOptions) {
    this.limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
    this.logger = options.logger ?? silentLogger;
    this.server = createServer((socket) => this.accept(socket));
  }

  /** Listens; resolves with the bound address (port 0 picks a free one). */
  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ host, port, exclusive: true }, () => {
        this.server.off("error", reject);
        const address = this.server.address();
        if (address === null || typeof address === "string") throw new FixpointError("INTERNAL", "no TCP address after listen");
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  get stats(): { active: number; pending: number } {
    return { active: this.connections.size, pending: this.handshaking.size };
  }

  /** Sends an event to every connection subscribed to `topic`. */
  publish(topic: Topic, data: Data): void {
    for (const conn of this.connections) if (conn.topics.has(topic)) conn.reply({ type: "event", topic, data });
  }

  private refuse(socket: Socket, code: string, message: string, withVersions = false): void {
    socket.end(encodeFrame(encodeReject(code, message, withVersions)));
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  private accept(socket: Socket): void {
    const remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    socket.setNoDelay(true);
    socket.on("error", () => {}); // reported through close; an RST must not crash the node
    if (this.shuttingDown) {
      this.refuse(socket, "SHUTTING_DOWN", "the node is shutting down");
      return;
    }
    if (this.handshaking.size >= this.limits.maxPendingHandshakes || this.connections.size + this.handshaking.size >= this.limits.maxConnections) {
      this.logger.log("warn", "connection.refused", { remote, code: "TOO_MANY_CONNECTIONS" });
      this.refuse(socket, "TOO_MANY_CONNECTIONS", "the node is at its connection limit; retry shortly");
      return;
    }
    this.handshaking.add(socket);
    socket.once("close", () => this.handshaking.delete(socket));
    void this.handshake(socket, remote).finally(() => this.handshaking.delete(socket));
  }

  private async handshake(socket: Socket, remote: string): Promise<void> {
    const io = new HandshakeIO(socket, this.limits.handshakeTimeoutMs);
    let stage = "hello";
    try {
      const responder = respondToClientHello(await io.next(), this.options.identity, PROTOCOL_VERSIONS);
      socket.write(encodeFrame(responder.hello));
      stage = "auth";
      const { clientKey, keys } = responder.finish(await io.next());
      const early = io.detach();
      const conn = new NodeConnection(
        socket,
        io,
        keys,
        { heartbeatIntervalMs: this.limits.heartbeatIntervalMs, maxFrameBytes: this.limits.maxFrameBytes },
        this,
        this.limits.idleTimeoutMs,
      );
      const who = fingerprint(clientKey);
      const roles = this.options.rolesOf(clientKey);
      if (roles === null) {
        this.logger.log("warn", "connection.refused", { remote, client: who, code: "UNKNOWN_IDENTITY" });
        conn.closeWith(
          new FixpointError("UNKNOWN_IDENTITY", `this node does not trust key ${who}; on the node run \`loader authorize --data DIR --key <your FILE.pub> --roles dev\``),
        );
        return;
      }
      conn.session = {
        clientKey,
        fingerprint: who,
        roles,
        remoteAddress: remote,
        id: this.nextSessionId++,
        sendEvent: (topic, data) => conn.reply({ type: "event", topic, data }),
        subscribe: (topics) => topics.forEach((t) => conn.topics.add(t)),
        onClose: (listener) => conn.onClose(() => listener()),
      };
      this.connections.add(conn);
      conn.onClose((reason) => {
        this.connections.delete(conn);
        // An orderly close (CHANNEL_CLOSED) is no error: it carries no code (issue 12.11).
        const failed = reason !== null && reason.code !== "CHANNEL_CLOSED";
        this.logger.log("info", "connection.closed", { remote, client: who, code: failed ? reason.code : undefined, reason: failed ? reason.message : undefined });
      });
      conn.reply({ type: "welcome", version: responder.version, node: this.options.describe(), roles: [...roles] });
      this.logger.log("info", "connection.opened", { remote, client: who, roles: roles.join(",") });
      conn.feed(early);
    } catch (err) {
      io.detach();
      const error = toFixpointError(err, "HANDSHAKE_FAILED");
      this.logger.log("warn", "handshake.failed", { remote, stage, code: error.code, reason: error.message });
      if (!socket.destroyed) this.refuse(socket, error.code, error.message, error.code === "PROTOCOL_VERSION");
    }
  }

  /** @internal Runs the handler for one request and sends its answer. */
  async answer(conn: NodeConnection, request: Request): Promise<void> {
    try {
      const value = await this.options.handle(conn.session, request);
      conn.reply({ type: "result", id: request.id, value });
    } catch (err) {
      const error = toFixpointError(err);
      if (error.code === "INTERNAL") this.logger.log("error", "request.failed", { type: request.type, reason: error.message, stack: error.stack });
      conn.reply({ type: "error", id: request.id, error: error.toData() });
    }
  }

  /**
   * Stops accepting, lets requests in flight finish (up to `graceMs`), says goodbye with
   * SHUTTING_DOWN, and resolves when every socket is closed.
   */
  async close(graceMs = 5000): Promise<void> {
    this.shuttingDown = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.handshaking) socket.destroy();
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && [...this.connections].some((c) => c.inFlight.size > 0)) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const gone = [...this.connections].map((c) => new Promise<void>((resolve) => c.onClose(() => resolve())));
    for (const c of this.connections) c.closeWith(new FixpointError("SHUTTING_DOWN", "the node is shutting down; reconnect when it is back"));
    await Promise.all(gone);
    await closed;
  }
}
