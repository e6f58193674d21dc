/**
 * The package's "fixpoint/node" entry (issue 14): starting a node inside a host app, and what
 * a host needs around it — a data directory, keys, trust, coded errors. `loader start` runs
 * the same startNode.
 */
export { dataDirPaths, type DataDirPaths } from "../../loader/index.js";
export * from "./start-node.js";
export {
  ERROR_CODES,
  EXIT,
  FixpointError,
  fingerprint,
  formatIdentity,
  formatPublicKeyLine,
  generateKeyPair,
  hasCode,
  isErrorCode,
  parsePublicKey,
  readIdentityFile,
  ROLES,
  MODES,
  type ErrorCode,
  type ErrorData,
  type KeyPair,
  type Mode,
  type Role,
} from "../../loader/index.js";
export { streamLogger, silentLogger, type Logger, type LogEntry, type LogLevel } from "../../loader/index.js";
export { authorizeKey, createDataDir, initDataDir, revokeKey } from "../node-admin.js";
