/**
 * Making and editing a node's files while no one else writes them: a new data directory
 * (`loader init`, `devtool dev`'s local node, a host app embedding one) and the trust file's
 * keys (`loader authorize`, `loader revoke`). The node only reads what these write (its layout
 * is loader/node/data-dir.ts; the trust file's format loader/protocol/trust-file.ts), so this is
 * tooling, not the fixed point.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import {
  BundleStore,
  DEFAULT_PORT,
  FixpointError,
  NAME,
  TRUST_FILE_HEADER,
  dataDirPaths,
  encodePublicKey,
  formatIdentity,
  formatPublicKeyLine,
  formatTrustEntry,
  generateKeyPair,
  parsePublicKey,
  readTrustFile,
  withoutKey,
  type DataDirPaths,
  type KeyPair,
  type NodeConfig,
  type Role,
} from "../loader/index.js";
import { writeFileAtomic } from "./files/write-atomic.js";

export interface InitOptions {
  name?: string;
  cluster?: string;
  listen?: string;
}

/** Creates a node. Refuses (NODE_EXISTS) if DIR already holds one or is a non-empty directory. */
export function initDataDir(dir: string, options: InitOptions = {}): { paths: DataDirPaths; identity: KeyPair; config: NodeConfig } {
  const paths = dataDirPaths(dir);
  if (existsSync(paths.config) || existsSync(paths.key)) {
    throw new FixpointError("NODE_EXISTS", `${paths.dir} already holds a node; use it with \`loader start --data ${dir}\` or pick another --data directory`);
  }
  if (existsSync(paths.dir) && readdirSync(paths.dir).length > 0) {
    throw new FixpointError("NODE_EXISTS", `${paths.dir} is not empty; pick an empty or new --data directory`);
  }
  const name = options.name ?? "node-1";
  const cluster = options.cluster ?? "default";
  for (const [flag, value] of [["--name", name], ["--cluster", cluster]] as const) {
    if (!NAME.test(value)) throw new FixpointError("USAGE", `${flag} must be 1-63 letters, digits, ".", "_" or "-", got "${value}"`);
  }
  const config: NodeConfig = { name, cluster, listen: options.listen ?? `127.0.0.1:${DEFAULT_PORT}`, mode: "dev" };
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const identity = generateKeyPair();
  writeFileAtomic(paths.key, formatIdentity(identity), 0o600);
  writeFileAtomic(paths.pub, formatPublicKeyLine(identity.publicKey, `node ${name}`) + "\n");
  writeFileAtomic(paths.trust, TRUST_FILE_HEADER);
  // The store's folders, made by their owner (its table is written by the node's first push).
  new BundleStore(paths.store, () => null);
  // config.json last: its presence is what marks a complete node.
  writeFileAtomic(paths.config, JSON.stringify(config, null, 2) + "\n");
  return { paths, identity, config };
}

/**
 * Adds `publicKey` with `roles` to the trust file, or replaces the roles of a key already there
 * (keeping its comment unless `comment` is given: the comment is how a human auditing the file
 * knows whose key it is). A malformed file is reported and left as it is. Crash-safe.
 */
export function authorizeKey(file: string, publicKey: Uint8Array, roles: Role[], comment?: string): { updated: boolean } {
  if (comment !== undefined && /[\r\n]/.test(comment)) throw new FixpointError("USAGE", "a key's comment must be one line");
  const entries = readTrustFile(file);
  const text = readFileSync(file, "utf8");
  const existing = entries.find((e) => Buffer.from(e.publicKey).equals(Buffer.from(publicKey)));
  const line = formatTrustEntry({ publicKey, roles, comment: comment ?? existing?.comment ?? "" });
  const encoded = encodePublicKey(publicKey);
  const next =
    existing === undefined
      ? (text === "" || text.endsWith("\n") ? text : text + "\n") + line + "\n"
      : text
          .split("\n")
          .map((l) => (l.trim().split(/\s+/)[2] === encoded && !l.trim().startsWith("#") ? line : l))
          .join("\n");
  writeFileAtomic(file, next);
  return { updated: existing !== undefined };
}

/**
 * Removes `publicKey`'s line from the trust file; every other line, comments included, is kept
 * as it was. A malformed file is reported and left as it is. Crash-safe.
 */
export function revokeKey(file: string, publicKey: Uint8Array): void {
  readTrustFile(file);
  writeFileAtomic(file, withoutKey(readFileSync(file, "utf8"), publicKey));
}

export interface CreateDataDirOptions extends InitOptions {
  /** Keys to trust from the start: a 32-byte public key or its "ed25519 BASE64" line, with roles. */
  authorize?: { key: Uint8Array | string; roles: Role[]; comment?: string }[];
}

/**
 * A node's data directory made in code, for a host app embedding a node (issue 14): what `loader
 * init` and then `loader authorize` for each key do. Returns its absolute path. NODE_EXISTS if
 * DIR holds anything; a malformed key is IDENTITY_INVALID before anything is written.
 */
export function createDataDir(dir: string, options: CreateDataDirOptions = {}): string {
  const { authorize = [], ...init } = options;
  const keys = authorize.map((a) => ({ ...a, key: typeof a.key === "string" ? parsePublicKey(a.key, "an authorize key") : a.key }));
  const { paths } = initDataDir(dir, init);
  for (const a of keys) authorizeKey(paths.trust, a.key, a.roles, a.comment);
  return paths.dir;
}
