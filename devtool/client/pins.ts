/**
 * Whether to trust the key a node proves in the handshake, before this side reveals anything:
 * the key must be one pinned for the node (given by the caller, as fixpoint.json's "key" or a
 * client's `nodeKey`), or the one recorded for its address in a known_nodes file (as ssh's
 * known_hosts); `acceptNew` records an unknown node's key on first contact. A key that differs
 * from its pin is a hard error naming both fingerprints, and nothing is sent.
 */
import { FixpointError, fingerprint, type HostPort } from "../../loader/index.js";
import { readKnownNodes, rememberNode } from "../nodes/known-nodes.js";

export interface PinPolicy {
  /** Keys the node may prove (several while a node's key is being replaced); empty: none given. */
  keys: readonly Uint8Array[];
  /** Where `keys` come from, for messages ("fixpoint.json", "the nodeKey option"). */
  keysFrom: string;
  /** The known_nodes file, consulted when `keys` is empty; null: none. */
  knownNodesFile: string | null;
  /** Record an unknown node's key in `knownNodesFile` on first contact. */
  acceptNew: boolean;
  /** Told when a new key is recorded (the CLI prints its fingerprint). */
  onPinned?: (key: Uint8Array) => void;
  /** What to do about an unpinned key, in the caller's terms. Default: the devtool's flags. */
  howToPin?: { key: string; acceptNew: string };
}

const CLI_HOW_TO_PIN = { key: "pin it in fixpoint.json", acceptNew: "--accept-new" };

export function addressText(address: HostPort): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** Throws NODE_KEY_MISMATCH or NODE_KEY_UNPINNED unless `key` is what the node `label` at `address` may prove. */
export function checkNodeKey(label: string, address: HostPort, key: Uint8Array, policy: PinPolicy): void {
  const where = addressText(address);
  const seen = fingerprint(key);
  const known = policy.knownNodesFile === null ? [] : readKnownNodes(policy.knownNodesFile);
  const given = policy.keys.length > 0;
  const pinned = given ? policy.keys : known.filter((n) => n.address === where).map((n) => n.key);
  if (pinned.length > 0) {
    if (pinned.some((p) => same(p, key))) return;
    const from = given ? policy.keysFrom : policy.knownNodesFile!;
    throw new FixpointError(
      "NODE_KEY_MISMATCH",
      `node ${label === where ? where : `${label} (${where})`} proved key ${seen}, but ${from} pins ${pinned.map(fingerprint).join(" or ")}. ` +
        `Someone may be intercepting the connection, or the node was re-created. Nothing was sent. ` +
        `If the change is expected, update the pin in ${from}.`,
    );
  }
  if (!policy.acceptNew || policy.knownNodesFile === null) {
    // Pins are per address as typed: the same node reached as localhost:P after 127.0.0.1:P
    // was pinned is unpinned, which must not look like a node never seen (issue 12.11).
    const how = policy.howToPin ?? CLI_HOW_TO_PIN;
    const elsewhere = known.find((n) => n.address !== where && same(n.key, key));
    throw new FixpointError(
      "NODE_KEY_UNPINNED",
      elsewhere !== undefined
        ? `node ${where} is not pinned under that address, but its key ${seen} is pinned for ${elsewhere.address} in ${policy.knownNodesFile} ` +
            `(pins are per address as written). Use --node ${elsewhere.address}, or rerun with ${how.acceptNew} to pin it for ${where} too.`
        : `node ${where} is not pinned; its key has fingerprint ${seen}. Compare it with the one \`loader init\` printed, ` +
            `then ${how.key} or rerun with ${how.acceptNew}.`,
    );
  }
  rememberNode(policy.knownNodesFile, where, key);
  policy.onPinned?.(key);
}
