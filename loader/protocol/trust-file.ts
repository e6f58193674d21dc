/**
 * A node's trust file: who may talk to it and in what roles, one key per line, in the spirit
 * of SSH's authorized_keys, so a human can read, audit and edit it:
 *
 *   # comment
 *   roles=dev,observe ed25519 <base64 public key> alice@laptop
 *
 * A malformed line is an error naming the file and line — never skipped, because a line
 * silently ignored is a key silently (un)trusted.
 */
import { readFileSync } from "node:fs";
import { FixpointError } from "./errors.js";
import { PUBLIC_KEY_BYTES } from "./crypto/ed25519.js";
import { decodeBase64Exact, encodePublicKey, PUBLIC_KEY_PREFIX } from "./crypto/keys.js";
import { ROLES, type Role } from "./messages.js";

export interface TrustEntry {
  publicKey: Uint8Array;
  roles: Role[];
  comment: string;
}

export const TRUST_FILE_HEADER =
  "# Fixpoint trust file: the keys this node accepts, one per line.\n" +
  "# roles=ROLE[,ROLE...] ed25519 <base64 public key> [comment]\n" +
  `# Roles: ${ROLES.join(", ")}. Add keys with \`loader authorize\`.\n`;

/** Parses "dev,observe"; throws USAGE-style errors via the caller's `fail`. */
export function parseRoles(text: string, fail: (why: string) => never): Role[] {
  const roles: Role[] = [];
  for (const part of text.split(",")) {
    const role = ROLES.find((r) => r === part);
    if (role === undefined) fail(`unknown role "${part}" (roles are ${ROLES.join(", ")})`);
    if (!roles.includes(role)) roles.push(role);
  }
  return roles;
}

export function parseTrustFile(text: string, file: string): TrustEntry[] {
  const entries: TrustEntry[] = [];
  const seen = new Map<string, number>();
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    const lineNo = index + 1;
    if (line === "" || line.startsWith("#")) return;
    const fail = (why: string): never => {
      throw new FixpointError("TRUST_FILE_INVALID", `${file}:${lineNo}: ${why}; fix or remove the line`, { location: { file, line: lineNo } });
    };
    const [rolesField, prefix, encoded, ...comment] = line.split(/\s+/);
    if (rolesField === undefined || !rolesField.startsWith("roles=")) fail('expected "roles=ROLE[,ROLE...] ed25519 <key> [comment]"');
    const roles = parseRoles(rolesField!.slice("roles=".length), fail);
    if (prefix !== PUBLIC_KEY_PREFIX) fail(`expected key type "${PUBLIC_KEY_PREFIX}", got "${prefix ?? ""}"`);
    const publicKey = encoded === undefined ? null : decodeBase64Exact(encoded, PUBLIC_KEY_BYTES);
    if (publicKey === null) fail("the key is not base64 of 32 bytes");
    const id = encoded!;
    const earlier = seen.get(id);
    if (earlier !== undefined) fail(`the key is already listed on line ${earlier}; merge the roles into one line`);
    seen.set(id, lineNo);
    entries.push({ publicKey: publicKey!, roles, comment: comment.join(" ") });
  });
  return entries;
}

export function formatTrustEntry(entry: TrustEntry): string {
  const line = `roles=${entry.roles.join(",")} ${PUBLIC_KEY_PREFIX} ${encodePublicKey(entry.publicKey)}`;
  return entry.comment === "" ? line : `${line} ${entry.comment}`;
}

export function readTrustFile(file: string): TrustEntry[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new FixpointError("TRUST_FILE_INVALID", `cannot read trust file ${file} (${(err as NodeJS.ErrnoException).code ?? "error"})`, { cause: err });
  }
  return parseTrustFile(text, file);
}

/** `text` (a trust file that parses) without the line of `publicKey`. */
export function withoutKey(text: string, publicKey: Uint8Array): string {
  const encoded = encodePublicKey(publicKey);
  return text
    .split("\n")
    .filter((raw) => {
      const line = raw.trim();
      return line.startsWith("#") || line.split(/\s+/)[2] !== encoded;
    })
    .join("\n");
}

/** Roles of `publicKey` in `entries`, or null if it is not listed. */
export function rolesOf(entries: readonly TrustEntry[], publicKey: Uint8Array): Role[] | null {
  const key = Buffer.from(publicKey);
  return entries.find((e) => key.equals(e.publicKey))?.roles ?? null;
}
