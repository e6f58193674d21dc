/**
 * The client side of a node, and the package's "fixpoint/client" entry (issue 14): connect to
 * a node with your identity and its pinned key, push, call, status, logs, eval, mode, releases
 * and rolling upgrades; signing bundles and releases; the channel connection underneath.
 * Errors are FixpointError: match on `code` (ErrorCode, from the one table ERROR_CODES).
 */
export * from "./channel-client.js";
export * from "./sign.js";
export { connectNode, NodeClient, DEFAULT_DEADLINE_MS, type BuiltModuleInput, type ConnectNodeOptions, type LogsOptions, type NodeStatus, type PushInput, type PushResult, type UpgradeResult } from "./node-client.js";
export { readProjectRelease, rollingRollback, rollingUpgrade, type NodeFate, type ProjectReleaseToRoll, type RollingOptions, type RolloutEvent, type RolloutRelease, type RolloutReport, type RolloutStep } from "./releases.js";
export { addressText, checkNodeKey, type PinPolicy } from "./pins.js";
export {
  ERROR_CODES,
  EXIT,
  FixpointError,
  fingerprint,
  formatPublicKeyLine,
  generateKeyPair,
  hasCode,
  isErrorCode,
  isLogEntry,
  parsePublicKey,
  readIdentityFile,
  type Data,
  type ErrorCode,
  type ErrorData,
  type ErrorLocation,
  type HostPort,
  type KeyPair,
  type LogEntry,
  type LogLevel,
  type Mode,
  type ResultOf,
  type Role,
  type Welcome,
  type WireBundle,
} from "../../loader/index.js";
