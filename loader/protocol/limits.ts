/**
 * Named limits of the wire protocol. Every length is checked against one of these before
 * anything is allocated for it. Options that tune them live in the server and client; these
 * are the defaults and hard ceilings.
 */

/**
 * Protocol versions this build speaks, newest first. The handshake picks the highest common.
 * 1: one message per record. 2: a record carries one or more messages (a CBOR sequence), so
 * that messages written in one tick cost one seal and one open (issue 13, bench/channel.ts).
 */
export const PROTOCOL_VERSIONS = [2, 1] as const;

/** Most messages one record may carry (protocol version 2). */
export const MAX_RECORD_MESSAGES = 1024;
export type ProtocolVersion = (typeof PROTOCOL_VERSIONS)[number];

/** The first field of the first frame, so that a stray client of another protocol is told so. */
export const PROTOCOL_MAGIC = "fixpoint";

/** Bytes in a frame's length prefix (unsigned, big-endian). */
export const FRAME_HEADER_BYTES = 4;

/** Largest handshake frame. Handshake messages are a few hundred bytes; an unauthenticated peer gets no more. */
export const MAX_HANDSHAKE_FRAME_BYTES = 1024;

/** Default largest frame after the handshake (ciphertext + tag): room for a 10 MB payload and its envelope. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Deepest nesting of arrays and maps accepted in a CBOR message. */
export const MAX_CBOR_DEPTH = 32;

/** Most entries in one CBOR array or map. */
export const MAX_CBOR_ITEMS = 100_000;

/** Default time for a peer to finish the handshake, in milliseconds. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000;

/** Default interval between heartbeats, in milliseconds. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000;

/** A peer silent for this many heartbeat intervals is dead (so about 3 s by default). */
export const HEARTBEAT_MISSES = 3;

/**
 * Default time a frame may take to arrive once its first byte has, in milliseconds (checked at
 * each heartbeat). Liveness is whole frames, not bytes: without this, a peer that sends a large
 * frame one byte a second holds its connection forever (issue 13). 30 s lets a 16 MiB frame
 * through at about 0.5 MB/s.
 */
export const DEFAULT_FRAME_TIMEOUT_MS = 30_000;

/**
 * Default bound on the bytes a node has queued toward one peer. Past it the node stops reading
 * that peer's requests until the queue drains, and drops a log subscriber at once: a peer that
 * does not read must not make the node buffer without bound (issue 13). Above one largest frame,
 * so a single 16 MiB answer never trips it.
 */
export const DEFAULT_MAX_QUEUED_BYTES = 32 * 1024 * 1024;

/** Default time a peer over DEFAULT_MAX_QUEUED_BYTES may take nothing of its queue before it is closed, in milliseconds. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

/** Default time a connection may carry no request before the node closes it, in milliseconds. */
export const DEFAULT_IDLE_TIMEOUT_MS = 10 * 60 * 1000;

/** Default cap on authenticated connections to one node. */
export const DEFAULT_MAX_CONNECTIONS = 256;

/** Default cap on connections still in the handshake (a slow client holds one of these at most handshakeTimeout). */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 32;

/** Most requests one connection may have in flight at the node. */
export const MAX_IN_FLIGHT = 1024;

/** The channel server's limits, each one a `loader start` flag and a row of the README's table. */
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
  /** Longest a frame may take to arrive once started. Default DEFAULT_FRAME_TIMEOUT_MS. */
  frameTimeoutMs: number;
  /** Bytes queued toward one peer above which it is not read from. Default DEFAULT_MAX_QUEUED_BYTES. */
  maxQueuedBytes: number;
  /** Longest a peer over maxQueuedBytes may read nothing before it is closed. Default DEFAULT_DRAIN_TIMEOUT_MS. */
  drainTimeoutMs: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  handshakeTimeoutMs: DEFAULT_HANDSHAKE_TIMEOUT_MS,
  heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
  idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS,
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  maxPendingHandshakes: DEFAULT_MAX_PENDING_HANDSHAKES,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  frameTimeoutMs: DEFAULT_FRAME_TIMEOUT_MS,
  maxQueuedBytes: DEFAULT_MAX_QUEUED_BYTES,
  drainTimeoutMs: DEFAULT_DRAIN_TIMEOUT_MS,
};
