/**
 * A node's config.json, validated strictly: an unknown key or a wrong value is CONFIG_INVALID
 * naming the key and what it must be.
 *
 *   { "name": "node-1", "cluster": "default", "listen": "127.0.0.1:7420", "mode": "dev" }
 */
import { readFileSync } from "node:fs";
import { FixpointError } from "./errors.js";
import { MODES, type Mode } from "./messages.js";
import { described, object, oneOf, string, stringWhere, validateFile } from "./schema.js";

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

const NAME_RULE = '1-63 letters, digits, ".", "_" or "-"';

/** config.json's shape, checked by the schema validator every wire message goes through. */
const nodeConfigSchema = object({
  name: described(string(63, NAME), NAME_RULE),
  cluster: described(string(63, NAME), NAME_RULE),
  listen: described(stringWhere(300, (text) => parseHostPort(text) !== null), `"HOST:PORT", e.g. "127.0.0.1:${DEFAULT_PORT}"`),
  mode: described(oneOf(MODES), `one of ${MODES.join(", ")}`),
});

export function validateNodeConfig(value: unknown, file: string): NodeConfig {
  return validateFile(nodeConfigSchema, value, file, "CONFIG_INVALID");
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
