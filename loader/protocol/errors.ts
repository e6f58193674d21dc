/**
 * Every error a Fixpoint user can see, in one table.
 *
 * Errors cross process and network boundaries as plain data (`{ code, message }`), so callers
 * match on `code`, never on `instanceof` (undici's lesson). Codes are literals from this one
 * `as const` table so they cannot drift (citty's lesson). The README lists each code with what
 * to do about it; `test/loader/protocol/errors.test.ts` checks that the two agree.
 */

/** Exit statuses that scripts can rely on. */
export const EXIT = {
  ok: 0,
  /** The operation ran and failed (a remote error, a bad bundle, a refused request). */
  failed: 1,
  /** The command line or a config file was wrong; nothing was attempted. */
  usage: 2,
  /** A node could not be reached or could not be trusted (connect, handshake, pinned key). */
  unreachable: 3,
} as const;

export type ExitStatus = (typeof EXIT)[keyof typeof EXIT];

/** code → [exit status, one-line summary used in the README table]. */
export const ERROR_CODES = {
  // Command line and files a human edits.
  USAGE: [EXIT.usage, "bad command-line arguments"],
  CONFIG_INVALID: [EXIT.usage, "a config file (fixpoint.json or a node's config.json) is malformed"],
  TRUST_FILE_INVALID: [EXIT.usage, "a node's trust file has a malformed line"],
  IDENTITY_INVALID: [EXIT.usage, "an identity (key) file or public key is malformed"],
  IDENTITY_MISSING: [EXIT.usage, "no identity file where one was expected"],
  NODE_EXISTS: [EXIT.usage, "the data directory already holds a node"],
  NODE_NOT_INITIALIZED: [EXIT.usage, "the data directory holds no node"],
  NODE_UNKNOWN: [EXIT.usage, "a node name is not in fixpoint.json"],
  ALREADY_RUNNING: [EXIT.usage, "a devtool dev already runs for this project"],
  KEY_NOT_FOUND: [EXIT.usage, "the key is not in the node's trust file"],

  // Reaching and trusting a node.
  CONNECT_FAILED: [EXIT.unreachable, "the TCP connection to a node failed"],
  HANDSHAKE_FAILED: [EXIT.unreachable, "the key exchange failed or was malformed"],
  HANDSHAKE_TIMEOUT: [EXIT.unreachable, "the key exchange did not finish in time"],
  PROTOCOL_VERSION: [EXIT.unreachable, "the two ends speak different protocol versions"],
  UNKNOWN_IDENTITY: [EXIT.unreachable, "the node does not list this key in its trust file"],
  NODE_KEY_UNPINNED: [EXIT.unreachable, "the node's key is not pinned anywhere yet"],
  NODE_KEY_MISMATCH: [EXIT.unreachable, "the node's key differs from the pinned one"],
  TOO_MANY_CONNECTIONS: [EXIT.unreachable, "the node is at its connection limit"],

  // The channel after the handshake.
  FRAME_TOO_LARGE: [EXIT.failed, "a frame's declared length exceeds the limit"],
  FRAME_INVALID: [EXIT.failed, "a frame failed to decrypt (tampered, replayed, reordered)"],
  MESSAGE_INVALID: [EXIT.failed, "a message failed to decode or has the wrong shape"],
  MESSAGE_UNKNOWN: [EXIT.failed, "a message has an unknown type"],
  CHANNEL_CLOSED: [EXIT.unreachable, "the connection closed before the reply arrived"],
  PEER_TIMEOUT: [EXIT.unreachable, "the peer stopped answering heartbeats"],
  IDLE_TIMEOUT: [EXIT.unreachable, "the connection was idle for too long"],
  FRAME_TIMEOUT: [EXIT.unreachable, "a frame took too long to arrive"],
  PEER_NOT_READING: [EXIT.unreachable, "the peer did not read what was sent to it"],
  KEY_REVOKED: [EXIT.unreachable, "the key was removed from the node's trust file"],
  REQUEST_TIMEOUT: [EXIT.failed, "a request got no reply in time"],
  SHUTTING_DOWN: [EXIT.unreachable, "the node is shutting down"],

  // What the node does.
  FORBIDDEN: [EXIT.failed, "the key lacks the role for this request in this mode"],
  BUNDLE_INVALID: [EXIT.failed, "a bundle is malformed"],
  BUNDLE_DIGEST_MISMATCH: [EXIT.failed, "a bundle's bytes do not match its manifest's digest"],
  BUNDLE_SIGNATURE_INVALID: [EXIT.failed, "a bundle's signature does not verify"],
  BUNDLE_SIGNER_UNTRUSTED: [EXIT.failed, "a bundle was signed by a key without the needed role"],
  STORE_CORRUPT: [EXIT.failed, "a stored file failed re-verification and was ignored"],
  STORE_WRITE_FAILED: [EXIT.failed, "the node could not write to its store; nothing changed"],
  STATE_CORRUPT: [EXIT.failed, "a module's saved state failed its checks; the module did not start on it"],
  STATE_TOO_LARGE: [EXIT.failed, "a module's state is over the node's state limit; the old version serves on"],
  STATE_NOT_COPYABLE: [EXIT.failed, "a module's state holds something that cannot be saved (a function, a handle)"],
  NODE_LOCKED: [EXIT.usage, "another running node holds this data directory"],
  BUILD_FAILED: [EXIT.failed, "esbuild could not build a module"],

  // Production: releases and the guarded restart.
  RELEASE_INVALID: [EXIT.failed, "a release manifest is malformed"],
  RELEASE_SIGNATURE_INVALID: [EXIT.failed, "a release's signature does not verify"],
  RELEASE_SIGNER_UNTRUSTED: [EXIT.failed, "a release was signed by a key without the release role"],
  RELEASE_WRONG_CLUSTER: [EXIT.failed, "a release was made for another cluster"],
  RELEASE_BUNDLE_INVALID: [EXIT.failed, "a bundle does not match the digest its release names"],
  RELEASE_OLD: [EXIT.failed, "a release is numbered at or below the node's current one"],
  RELEASE_NOT_STAGED: [EXIT.failed, "the node does not hold that release or all of its bundles"],
  UPGRADE_IN_PROGRESS: [EXIT.failed, "another guarded restart of this node is running"],
  UPGRADE_ROLLED_BACK: [EXIT.failed, "the new release failed to start or to pass its health checks; the node rolled back"],
  NODE_UNHEALTHY: [EXIT.failed, "a rolling upgrade stopped: another node was not ready or had a module down"],

  // Modules running in the runtime.
  MODULE_NOT_FOUND: [EXIT.failed, "no module of that name runs on the node"],
  FUNCTION_NOT_FOUND: [EXIT.failed, "the module has no function of that name"],
  ARGUMENTS_INVALID: [EXIT.usage, "call arguments are not JSON values"],
  MODULE_ERROR: [EXIT.failed, "the module's code threw"],
  MODULE_TIMEOUT: [EXIT.failed, "module code ran past its time limit and was stopped"],
  MODULE_MEMORY_LIMIT: [EXIT.failed, "a module went past its memory limit and was stopped"],
  MODULE_STOPPED: [EXIT.failed, "the module was stopped before the call settled"],
  TIMER_LIMIT: [EXIT.failed, "a module tried to have more live timers than a module may"],
  MODULE_LOAD_FAILED: [EXIT.failed, "a new module version failed to compile or start"],
  MIGRATION_FAILED: [EXIT.failed, "a new module version's migrate hook failed"],
  RESULT_NOT_COPYABLE: [EXIT.failed, "a result cannot be copied out of the isolate"],
  RUNTIME_UNAVAILABLE: [EXIT.failed, "the node's runtime is restarting or down"],
  NODEJS_UNSUPPORTED: [EXIT.failed, "the runtime runs on a Node.js line Fixpoint does not support"],
  ISOLATED_VM_MISSING: [EXIT.failed, "the isolated-vm release for this Node.js line is not installed"],

  // The remote REPL.
  EVAL_THREW: [EXIT.failed, "code evaluated by `devtool repl` threw"],
  AUDIT_LOG_FAILED: [EXIT.failed, "the node could not write its audit log, so nothing ran"],
  INTERNAL: [EXIT.failed, "a bug in Fixpoint: please report it"],
} as const satisfies Record<string, readonly [ExitStatus, string]>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Where an error points in a file the user wrote (a config line, a source position). */
export interface ErrorLocation {
  file: string;
  /** 1-based. */
  line?: number;
  /** 1-based. */
  column?: number;
}

/** The plain-data form that crosses the wire and process boundaries. */
export interface ErrorData {
  code: ErrorCode;
  message: string;
  location?: ErrorLocation;
}

/**
 * The one error class. `message` says what went wrong and what to do next.
 *
 * @example
 * throw new FixpointError("NODE_EXISTS", `${dir} already holds a node; pick another --data directory`);
 */
export class FixpointError extends Error {
  readonly code: ErrorCode;
  readonly location: ErrorLocation | undefined;

  constructor(code: ErrorCode, message: string, options?: { location?: ErrorLocation; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "FixpointError";
    this.code = code;
    this.location = options?.location;
  }

  /** The exit status a CLI should end with for this error. */
  get exitStatus(): ExitStatus {
    return ERROR_CODES[this.code][0];
  }

  toData(): ErrorData {
    return this.location === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, location: this.location };
  }

  static fromData(data: ErrorData): FixpointError {
    return new FixpointError(data.code, data.message, data.location === undefined ? {} : { location: data.location });
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_CODES, value);
}

/** True when `err` is a FixpointError (or its plain-data copy) with `code`. */
export function hasCode(err: unknown, code: ErrorCode): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}

/** Wraps anything thrown into a FixpointError, keeping coded errors as they are. */
export function toFixpointError(err: unknown, fallback: ErrorCode = "INTERNAL"): FixpointError {
  if (err instanceof FixpointError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new FixpointError(fallback, message, { cause: err });
}
