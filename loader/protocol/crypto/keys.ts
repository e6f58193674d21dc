/**
 * Text forms of keys, for files a human reads:
 *
 *   public key   "ed25519 <base64 of 32 bytes> [comment]"   (the FILE.pub line, trust entries)
 *   identity     "fixpoint-identity-v1 <base64 of the 64-byte NaCl secret key>"
 *
 * Files holding an identity are written mode 0600 and refused when readable by others, as
 * ssh refuses a world-readable private key.
 */
import { chmodSync, closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { FixpointError } from "../errors.js";
import { PUBLIC_KEY_BYTES, SECRET_KEY_BYTES, keyPairFromSecretKey, type KeyPair } from "./ed25519.js";
import { fingerprint } from "./fingerprint.js";

export const PUBLIC_KEY_PREFIX = "ed25519";
const IDENTITY_PREFIX = "fixpoint-identity-v1";
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function encodePublicKey(publicKey: Uint8Array): string {
  return Buffer.from(publicKey).toString("base64");
}

/** "ed25519 AAAA… comment" */
export function formatPublicKeyLine(publicKey: Uint8Array, comment?: string): string {
  const line = `${PUBLIC_KEY_PREFIX} ${encodePublicKey(publicKey)}`;
  return comment === undefined || comment === "" ? line : `${line} ${comment}`;
}

/** Decodes base64 of exactly `bytes` bytes, or returns null. */
export function decodeBase64Exact(text: string, bytes: number): Uint8Array | null {
  if (!BASE64.test(text)) return null;
  const raw = Buffer.from(text, "base64");
  if (raw.length !== bytes || raw.toString("base64") !== text) return null;
  return new Uint8Array(raw);
}

/**
 * Parses a public key given as bare base64 or as an "ed25519 BASE64 [comment]" line.
 * Throws IDENTITY_INVALID naming `what` (where the text came from).
 */
export function parsePublicKey(text: string, what: string): Uint8Array {
  const parts = text.trim().split(/\s+/);
  // "ed25519 KEY comment…" or a bare "KEY"; a bare key followed by words is ambiguous, so refused.
  const encoded = parts[0] === PUBLIC_KEY_PREFIX ? parts[1] : parts.length === 1 ? parts[0] : undefined;
  const key = encoded === undefined ? null : decodeBase64Exact(encoded, PUBLIC_KEY_BYTES);
  if (key === null) {
    throw new FixpointError(
      "IDENTITY_INVALID",
      `${what} is not an Ed25519 public key: expected "ed25519 <base64 of 32 bytes>", as written by \`devtool keygen\` to FILE.pub`,
    );
  }
  return key;
}

export function formatIdentity(pair: KeyPair): string {
  return (
    "# Fixpoint identity (Ed25519, NaCl secret key). Keep this file private.\n" +
    `# public key: ${formatPublicKeyLine(pair.publicKey)}\n` +
    `# fingerprint: ${fingerprint(pair.publicKey)}\n` +
    `${IDENTITY_PREFIX} ${Buffer.from(pair.secretKey).toString("base64")}\n`
  );
}

export function parseIdentity(text: string, file: string): KeyPair {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  const [prefix, encoded, ...rest] = lines.length === 1 ? (lines[0] ?? "").split(/\s+/) : [];
  const secret = prefix === IDENTITY_PREFIX && rest.length === 0 && encoded !== undefined ? decodeBase64Exact(encoded, SECRET_KEY_BYTES) : null;
  if (secret === null) {
    throw new FixpointError("IDENTITY_INVALID", `${file} is not a Fixpoint identity file; create one with \`devtool keygen --out ${file}\``, {
      location: { file },
    });
  }
  try {
    return keyPairFromSecretKey(secret);
  } catch (err) {
    throw new FixpointError("IDENTITY_INVALID", `${file}: ${(err as Error).message}`, { location: { file }, cause: err });
  }
}

/** Reads an identity file, refusing one that others can read. */
export function readIdentityFile(file: string): KeyPair {
  let mode: number;
  let text: string;
  // Mode and content from one open file, so the file checked is the file read.
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    mode = fstatSync(fd).mode;
    text = readFileSync(fd, "utf8");
  } catch (err) {
    throw new FixpointError("IDENTITY_MISSING", `cannot read identity ${file} (${(err as NodeJS.ErrnoException).code ?? "error"}); create one with \`devtool keygen\` or pass --identity FILE`, {
      cause: err,
    });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if ((mode & 0o077) !== 0) {
    throw new FixpointError("IDENTITY_INVALID", `${file} is readable by others (mode ${(mode & 0o777).toString(8)}); run \`chmod 600 ${file}\``, {
      location: { file },
    });
  }
  return parseIdentity(text, file);
}

/** Keeps an identity file private even if the umask was permissive. */
export function restrictToOwner(file: string): void {
  chmodSync(file, 0o600);
}
