/**
 * A node's config.json, validated strictly: an unknown key or a wrong value is CONFIG_INVALID
 * naming the key and what it must be.
 *
 *   { "name": "node-1", "cluster": "default", "listen": "127.0.0.1:7420", "mode": "dev" }
 */
import { readFileSync } from "node:fs";
import { FixpointError } from "../errors.js";
import { MODES, type Mode } from "../protocol/messages.js";

export interface NodeConfig {
  /** Shown in status and logs. */
  name: string;
  /** Releases for another cluster are refused. */
  cluster: string;
  /** HOST:PORT for the channel. */
  listen: string;
  mode: Mode;
}

export const DEFAULT_PORT = 7420;
export const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export interface HostPort {
  host: string;
  port: number;
}

/** Parses "HOST:PORT", "[v6]:PORT" or ":PORT" (all interfaces). Returns null when malformed. */
export function parseHostPort(text: string): HostPort | null {
  // Brackets only around an IPv6 address: "[]:80" or "[name]:80" is not a host name.
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]*)):(\d{1,5})$/.exec(text);
  if (match === null) return null;
  const port = Number(match[3]);
  if (port > 65535) return null;
  const host = match[1] ?? (match[2] === "" ? "0.0.0.0" : match[2]!);
  return { host, port };
}

function fail(file: string, why: string): never {
  throw new FixpointError("CONFIG_INVALID", `${file}: ${why}`, { location: { file } });
}

export function validateNodeConfig(value: unknown, file: string): NodeConfig {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(file, "must be a JSON object");
  const record = value as Record<string, unknown>;
  const known = ["name", "cluster", "listen", "mode"];
  for (const key of Object.keys(record)) if (!known.includes(key)) fail(file, `unknown key "${key}" (known keys: ${known.join(", ")})`);
  const { name, cluster, listen, mode } = record;
  if (typeof name !== "string" || !NAME.test(name)) fail(file, `"name" must be 1-63 letters, digits, ".", "_" or "-"`);
  if (typeof cluster !== "string" || !NAME.test(cluster)) fail(file, `"cluster" must be 1-63 letters, digits, ".", "_" or "-"`);
  if (typeof listen !== "string" || parseHostPort(listen) === null) fail(file, `"listen" must be "HOST:PORT", e.g. "127.0.0.1:${DEFAULT_PORT}"`);
  const m = MODES.find((x) => x === mode);
  if (m === undefined) fail(file, `"mode" must be one of ${MODES.join(", ")}`);
  return { name, cluster, listen, mode: m };
}

export function readNodeConfig(file: string): NodeConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new FixpointError("NODE_NOT_INITIALIZED", `cannot read ${file}; create the node with \`loader init --data DIR\``, { cause: err });
  }
  return parseNodeConfig(text, file);
}

/** Parses the text of a config.json (`file` names it in errors). Throws CONFIG_INVALID. */
export function parseNodeConfig(text: string, file: string): NodeConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    fail(file, `not valid JSON (${(err as Error).message})`);
  }
  return validateNodeConfig(value, file);
}
