/**
 * The node end of the channel: accepts TCP connections, runs the handshake as responder under
 * a deadline and a cap on unfinished handshakes, then hands each authenticated request to the
 * node's handler and sends back its result or coded error.
 *
 * What a misbehaving peer can cost the node is bounded: MAX_HANDSHAKE_FRAME_BYTES and the
 * handshake deadline before it is authenticated; maxFrameBytes per frame, frameTimeoutMs for
 * each frame to arrive, MAX_IN_FLIGHT requests, maxQueuedBytes queued toward it (then it is
 * not read from, and closed if it takes nothing for drainTimeoutMs) and the idle timeout after.
 * A bad frame ends that connection only.
 *
 * A key's rights are those the trust file gives it now: they are asked again before every
 * request and at every heartbeat, and a connection whose key is no longer trusted is closed
 * with KEY_REVOKED (issue 13: a removed developer kept a REPL into the node).
 *
 * Every answer is checked against the wire schema before it is sent; one the client would
 * refuse (a module result with an own "__proto__" key, a result over the frame limit) fails
 * that request with a code instead of closing the connection.
 */
import { createServer, type Server, type Socket } from "node:net";
import { FixpointError, toFixpointError, type ErrorData } from "../protocol/errors.js";
import type { KeyPair } from "../protocol/crypto/ed25519.js";
import { fingerprint } from "../protocol/crypto/fingerprint.js";
import { encodeFrame } from "../protocol/framing.js";
import { encodeReject, respondToClientHello } from "../protocol/handshake.js";
import { DEFAULT_SERVER_LIMITS, MAX_IN_FLIGHT, PROTOCOL_VERSIONS, type ServerLimits } from "../protocol/limits.js";
import {
  checkNodeMessage,
  decodeClientMessages,
  isRequest,
  type ClientMessage,
  type EventTopic,
  type NodeMessage,
  type Request,
  type Role,
  type Topic,
  type Welcome,
} from "../protocol/messages.js";
import type { Data } from "../protocol/schema.js";
import { silentLogger, type Logger } from "../protocol/log.js";
import { Connection, type ConnectionOptions } from "../protocol/channel/connection.js";
import { HandshakeIO } from "../protocol/channel/handshake-io.js";

/** Who is on the other end of a connection, once authenticated. */
export interface Session {
  readonly clientKey: Uint8Array;
  readonly fingerprint: string;
  readonly remoteAddress: string;
  /** The key's roles as the trust file gives them now (asked again before each request). */
  readonly roles: readonly Role[];
  /** Unique per connection for the life of the server (names the connection's REPL session). */
  readonly id: number;
  /** Pushes an event to this client. */
  sendEvent(topic: EventTopic, data: Data): void;
  /** From now on this client receives `publish`ed events of these topics. */
  subscribe(topics: readonly Topic[]): void;
  /** Called once when the connection is gone (state tied to it, like a REPL session, is dropped). */
  onClose(listener: () => void): void;
}

export interface ServerOptions {
  identity: KeyPair;
  /** Roles of a client key, or null if the key is not trusted. Asked at every handshake, before every request and at every heartbeat. */
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
  clientKey: Uint8Array = new Uint8Array(0);
  /** The key's roles when last asked. */
  roles: readonly Role[] = [];

  constructor(
    socket: Socket,
    io: HandshakeIO,
    keys: ConstructorParameters<typeof Connection>[2],
    options: ConnectionOptions,
    private readonly server: ChannelServer,
    private readonly idleTimeoutMs: number,
  ) {
    super(socket, io.reader, keys, options, decodeClientMessages);
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
    if (!this.server.recheckRoles(this)) return;
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

  /**
   * Answers request `request` with `value`, or with the code saying why it cannot be sent:
   * an answer the client would refuse must not close its connection.
   */
  replyResult(request: Request, value: Data): FixpointError | null {
    const message: NodeMessage = { type: "result", id: request.id, value };
    try {
      checkNodeMessage(message, request.type);
      this.send(message);
      return null;
    } catch (err) {
      const problem = toFixpointError(err);
      // What a module returns is the module's to fix; anything else the node made is a bug.
      const code = request.type === "call" || request.type === "eval" ? "RESULT_NOT_COPYABLE" : problem.code === "FRAME_TOO_LARGE" ? "FRAME_TOO_LARGE" : "INTERNAL";
      const error = new FixpointError(code, `the ${request.type} result cannot be sent: ${problem.message}`);
      this.replyError(request, error);
      return error;
    }
  }

  replyError(request: Request, error: FixpointError): void {
    const message: NodeMessage = { type: "error", id: request.id, error: wireError(error) };
    try {
      checkNodeMessage(message);
    } catch (err) {
      this.send({ type: "error", id: request.id, error: { code: "INTERNAL", message: `the ${request.type} error (${error.code}) cannot be sent: ${toFixpointError(err).message}` } });
      return;
    }
    this.send(message);
  }

  /** Sends an event; a subscriber whose queue is over the bound is dropped rather than buffered for. */
  sendEvent(topic: EventTopic, data: Data): void {
    if (!this.isOpen) return;
    if (this.overQueueBound) {
      this.abort(new FixpointError("PEER_NOT_READING", `${this.queuedTowardPeer} bytes of events are queued toward this client, more than the node keeps (${this.server.maxQueuedBytes}); reconnect and read faster`));
      return;
    }
    const message: NodeMessage = { type: "event", topic, data };
    try {
      checkNodeMessage(message);
      this.send(message);
    } catch {
      // An event the client would refuse (a module's log line over the frame limit) is not sent:
      // closing the connection for it would lose every later one.
    }
  }
}

/** A FixpointError as the wire carries it, bounded as errorData is (a module's message can be long). */
function wireError(error: FixpointError): ErrorData {
  const data = error.toData();
  const message = data.message.length > MAX_ERROR_MESSAGE ? `${data.message.slice(0, MAX_ERROR_MESSAGE - 20)} … (truncated)` : data.message;
  return data.location === undefined ? { code: data.code, message } : { code: data.code, message, location: data.location };
}

// errorData's bound on `message` in protocol/messages.ts.
const MAX_ERROR_MESSAGE = 16_384;

export class ChannelServer {
  private readonly server: Server;
  private readonly limits: ServerLimits;
  private readonly logger: Logger;
  private readonly connections = new Set<NodeConnection>();
  private readonly handshaking = new Set<Socket>();
  private shuttingDown = false;
  private nextSessionId = 1;
  // Asks the trust file about every open connection once per heartbeat, so that a removed key's
  // idle connections (a log follower, a REPL between inputs) close too, not only its next request.
  private readonly trustSweep: NodeJS.Timeout;

  constructor(private readonly options: ServerOptions) {
    this.limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
    this.logger = options.logger ?? silentLogger;
    this.server = createServer((socket) => this.accept(socket));
    this.trustSweep = setInterval(() => {
      for (const conn of this.connections) if (conn.isOpen) this.recheckRoles(conn);
    }, this.limits.heartbeatIntervalMs);
    this.trustSweep.unref();
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

  get maxQueuedBytes(): number {
    return this.limits.maxQueuedBytes;
  }

  /**
   * Asks the trust file for the connection's roles again; closes it with KEY_REVOKED and
   * returns false if its key is no longer listed.
   */
  recheckRoles(conn: NodeConnection): boolean {
    const roles = this.options.rolesOf(conn.clientKey);
    if (roles === null) {
      conn.closeWith(new FixpointError("KEY_REVOKED", `key ${conn.session.fingerprint} was removed from the node's trust file; this connection is closed`));
      return false;
    }
    conn.roles = roles;
    return true;
  }

  get stats(): { active: number; pending: number } {
    return { active: this.connections.size, pending: this.handshaking.size };
  }

  /** Sends an event to every connection subscribed to `topic`. */
  publish(topic: Topic, data: Data): void {
    for (const conn of this.connections) if (conn.topics.has(topic)) conn.sendEvent(topic, data);
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
        {
          heartbeatIntervalMs: this.limits.heartbeatIntervalMs,
          maxFrameBytes: this.limits.maxFrameBytes,
          frameTimeoutMs: this.limits.frameTimeoutMs,
          maxQueuedBytes: this.limits.maxQueuedBytes,
          drainTimeoutMs: this.limits.drainTimeoutMs,
          protocolVersion: responder.version,
        },
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
      conn.clientKey = clientKey;
      conn.roles = roles;
      conn.session = {
        clientKey,
        fingerprint: who,
        get roles() {
          return conn.roles;
        },
        remoteAddress: remote,
        id: this.nextSessionId++,
        sendEvent: (topic, data) => conn.sendEvent(topic, data),
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
      conn.send({ type: "welcome", version: responder.version, node: this.options.describe(), roles: [...roles] });
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
    let value: Data;
    try {
      value = await this.options.handle(conn.session, request);
    } catch (err) {
      const error = toFixpointError(err);
      if (error.code === "INTERNAL") this.logger.log("error", "request.failed", { type: request.type, reason: error.message, stack: error.stack });
      conn.replyError(request, error);
      return;
    }
    const refused = conn.replyResult(request, value);
    if (refused?.code === "INTERNAL") this.logger.log("error", "request.failed", { type: request.type, reason: refused.message });
  }

  /**
   * Stops accepting, lets requests in flight finish (up to `graceMs`), says goodbye with
   * SHUTTING_DOWN, and resolves when every socket is closed.
   */
  async close(graceMs = 5000): Promise<void> {
    this.shuttingDown = true;
    clearInterval(this.trustSweep);
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
