/**
 * Which nodes a command talks to, and whether to trust the key each one proves.
 *
 * `--node NAME` picks a node from fixpoint.json, `--node HOST:PORT` any address; no --node
 * means every node in fixpoint.json. A node's key must be pinned — in fixpoint.json, or in
 * known_nodes — before the devtool reveals its own identity; `--accept-new` pins an unknown
 * one on first contact and prints its fingerprint. A key that differs from its pin is a hard
 * error naming both fingerprints, and nothing is sent.
 */
import { DEFAULT_PORT, FixpointError, fingerprint, parseHostPort, type HostPort, type KeyPair } from "../../loader/index.js";
import { connect, type ClientConnection } from "../client/index.js";
import type { ProjectConfig } from "../config/project.js";
import { readKnownNodes, rememberNode } from "./known-nodes.js";

export interface Target {
  /** The name in fixpoint.json, or the address. */
  label: string;
  address: HostPort;
  /** From fixpoint.json, if listed there. */
  pinned: Uint8Array | null;
}

export function addressText(address: HostPort): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** "pinned NAME (ADDRESS) with key SHA256:… in FILE", the address once when it is the label (issue 12.11). */
export function pinnedMessage(target: Target, key: Uint8Array, file: string): string {
  const address = addressText(target.address);
  return `${target.label}${target.label === address ? "" : ` (${address})`} with key ${fingerprint(key)} in ${file}`;
}

export function resolveTargets(nodeFlag: string | undefined, project: ProjectConfig | null): Target[] {
  const nodes = project?.nodes ?? [];
  if (nodeFlag === undefined) {
    if (nodes.length === 0) {
      throw new FixpointError(
        "USAGE",
        project === null
          ? "no node given and no fixpoint.json here; pass --node HOST:PORT or add nodes to fixpoint.json"
          : `${project.file} lists no nodes; pass --node HOST:PORT or add { name, address, key } entries to "nodes"`,
      );
    }
    return nodes.map((n) => ({ label: n.name, address: n.address, pinned: n.key }));
  }
  const byName = nodes.find((n) => n.name === nodeFlag);
  if (byName !== undefined) return [{ label: byName.name, address: byName.address, pinned: byName.key }];
  // A bare host means the loader's default port, as ssh's HOST means port 22 (issue 12.11).
  const address = parseHostPort(nodeFlag) ?? (HOST_ONLY.test(nodeFlag) ? parseHostPort(`${nodeFlag}:${DEFAULT_PORT}`) : null);
  if (address === null) {
    throw new FixpointError(
      "NODE_UNKNOWN",
      `--node "${nodeFlag}" is neither HOST:PORT nor a node in ${project?.file ?? "fixpoint.json"}${nodes.length > 0 ? ` (known: ${nodes.map((n) => n.name).join(", ")})` : ""}`,
    );
  }
  const byAddress = nodes.find((n) => addressText(n.address) === addressText(address));
  return [{ label: byAddress?.name ?? addressText(address), address, pinned: byAddress?.key ?? null }];
}

/** A host name, an IPv4 address or a bracketed IPv6 address, without a port. */
const HOST_ONLY = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;

export interface PinOptions {
  knownNodesFile: string;
  acceptNew: boolean;
  /** Told when a new key is pinned (the CLI prints the fingerprint). */
  onPinned?: (target: Target, key: Uint8Array) => void;
}

/** Throws unless `key` is what `target` is pinned to (or may be pinned now). */
export function checkPin(target: Target, key: Uint8Array, options: PinOptions): void {
  const address = addressText(target.address);
  const seen = fingerprint(key);
  const pinned = target.pinned ?? readKnownNodes(options.knownNodesFile).find((n) => n.address === address)?.key ?? null;
  if (pinned !== null) {
    if (Buffer.from(pinned).equals(Buffer.from(key))) return;
    const where = target.pinned !== null ? "fixpoint.json" : options.knownNodesFile;
    throw new FixpointError(
      "NODE_KEY_MISMATCH",
      `node ${target.label} (${address}) proved key ${seen}, but ${where} pins ${fingerprint(pinned)}. ` +
        `Someone may be intercepting the connection, or the node was re-created. Nothing was sent. ` +
        `If the change is expected, update the pin in ${where}.`,
    );
  }
  if (!options.acceptNew) {
    // Pins are per address as typed: the same node reached as localhost:P after 127.0.0.1:P
    // was pinned is unpinned, which must not look like a node never seen (issue 12.11).
    const elsewhere = readKnownNodes(options.knownNodesFile).find((n) => n.address !== address && Buffer.from(n.key).equals(Buffer.from(key)));
    throw new FixpointError(
      "NODE_KEY_UNPINNED",
      elsewhere !== undefined
        ? `node ${address} is not pinned under that address, but its key ${seen} is pinned for ${elsewhere.address} in ${options.knownNodesFile} ` +
            `(pins are per address as written). Use --node ${elsewhere.address}, or rerun with --accept-new to pin it for ${address} too.`
        : `node ${address} is not pinned; its key has fingerprint ${seen}. Compare it with the one \`loader init\` printed, ` +
            `then pin it in fixpoint.json or rerun with --accept-new.`,
    );
  }
  rememberNode(options.knownNodesFile, address, key);
  options.onPinned?.(target, key);
}

export function connectTarget(target: Target, identity: KeyPair, pin: PinOptions, timeoutMs?: number): Promise<ClientConnection> {
  return connect({
    host: target.address.host,
    port: target.address.port,
    identity,
    checkNodeKey: (key) => checkPin(target, key, pin),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
}
