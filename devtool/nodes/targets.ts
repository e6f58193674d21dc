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
import { type ClientConnection } from "../client/channel-client.js";
import { connectNode, type NodeClient } from "../client/node-client.js";
import type { ProjectConfig } from "../config/project.js";
import { addressText, checkNodeKey } from "../client/pins.js";

export interface Target {
  /** The name in fixpoint.json, or the address. */
  label: string;
  address: HostPort;
  /** From fixpoint.json, if listed there. */
  pinned: Uint8Array | null;
}

export { addressText };

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
  checkNodeKey(target.label, target.address, key, {
    keys: target.pinned === null ? [] : [target.pinned],
    keysFrom: "fixpoint.json",
    knownNodesFile: options.knownNodesFile,
    acceptNew: options.acceptNew,
    onPinned: (k) => options.onPinned?.(target, k),
  });
}

/** A client of the library (devtool/client) for `target`, its key checked against fixpoint.json and known_nodes. */
export function connectClient(target: Target, identity: KeyPair, pin: PinOptions, timeoutMs?: number, deadlineMs?: number): Promise<NodeClient> {
  return connectNode({
    address: target.address,
    identity,
    label: target.label,
    checkNodeKey: (key) => checkPin(target, key, pin),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(deadlineMs === undefined ? {} : { deadlineMs }),
  });
}

export async function connectTarget(target: Target, identity: KeyPair, pin: PinOptions, timeoutMs?: number): Promise<ClientConnection> {
  return (await connectClient(target, identity, pin, timeoutMs)).connection;
}
