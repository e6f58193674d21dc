/**
 * The user's known_nodes file: node keys accepted on first contact with --accept-new, as
 * ssh's known_hosts. One line per address:
 *
 *   127.0.0.1:7420 ed25519 <base64 public key>
 *
 * A malformed line is an error naming the line (a pin silently dropped is a pin lost).
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { FixpointError, decodeBase64Exact, PUBLIC_KEY_BYTES, PUBLIC_KEY_PREFIX, encodePublicKey, parseHostPort } from "../../loader/index.js";
import { writeFileAtomic } from "../files/write-atomic.js";

export interface KnownNode {
  address: string;
  key: Uint8Array;
}

export function readKnownNodes(file: string): KnownNode[] {
  if (!existsSync(file)) return [];
  const out: KnownNode[] = [];
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((raw, i) => {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) return;
      const [address, prefix, encoded, ...rest] = line.split(/\s+/);
      const key = encoded === undefined ? null : decodeBase64Exact(encoded, PUBLIC_KEY_BYTES);
      if (address === undefined || parseHostPort(address) === null || prefix !== PUBLIC_KEY_PREFIX || key === null || rest.length > 0) {
        throw new FixpointError("CONFIG_INVALID", `${file}:${i + 1}: expected "HOST:PORT ed25519 <base64 key>"; fix or delete the line`, { location: { file, line: i + 1 } });
      }
      out.push({ address, key });
    });
  return out;
}

/** Records (or replaces) the key of `address`. */
export function rememberNode(file: string, address: string, key: Uint8Array): void {
  const others = readKnownNodes(file).filter((n) => n.address !== address);
  const lines = [...others, { address, key }].map((n) => `${n.address} ${PUBLIC_KEY_PREFIX} ${encodePublicKey(n.key)}`);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, "# Fixpoint known nodes: HOST:PORT ed25519 <key>. Written by --accept-new.\n" + lines.join("\n") + "\n");
}
