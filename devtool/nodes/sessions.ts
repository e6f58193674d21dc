/**
 * Long-lived connections to the target nodes, for commands that keep talking (push --watch,
 * dev, logs --follow): one connection per node, opened on first use and reopened after it
 * drops, so an edit costs a round trip, not a handshake.
 */
import { fingerprint, toFixpointError, type KeyPair } from "../../loader/index.js";
import { type ClientConnection } from "../client/index.js";
import { eachNode, type NodeOutcome } from "./fan-out.js";
import { addressText, connectTarget, type PinOptions, type Target } from "./targets.js";

export class NodeSessions {
  private readonly open = new Map<string, Promise<ClientConnection>>();
  private readonly openers: ((conn: ClientConnection, target: Target) => void)[] = [];

  constructor(
    readonly targets: Target[],
    private readonly identity: KeyPair,
    private readonly pin: PinOptions,
    private readonly timeoutMs?: number,
  ) {}

  /** Runs `setup` on every connection when it opens (subscriptions). */
  onOpen(setup: (conn: ClientConnection, target: Target) => void): void {
    this.openers.push(setup);
  }

  private connection(target: Target): Promise<ClientConnection> {
    const key = addressText(target.address);
    let conn = this.open.get(key);
    if (conn === undefined) {
      conn = connectTarget(target, this.identity, this.pin, this.timeoutMs).then((c) => {
        c.onClose(() => {
          if (this.open.get(key) === conn) this.open.delete(key);
        });
        for (const setup of this.openers) setup(c, target);
        return c;
      });
      conn.catch(() => this.open.delete(key));
      this.open.set(key, conn);
    }
    return conn;
  }

  /** Runs `work` on every node (eachNode: concurrently, NODE_FAN_OUT at most); a connection that dropped is reopened once. */
  each<T>(work: (conn: ClientConnection, target: Target) => Promise<T>): Promise<NodeOutcome<T>[]> {
    return eachNode(this.targets, async (target) => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await work(await this.connection(target), target);
        } catch (err) {
          const error = toFixpointError(err);
          if (attempt === 0 && (error.code === "CHANNEL_CLOSED" || error.code === "PEER_TIMEOUT" || error.code === "IDLE_TIMEOUT")) continue;
          throw error;
        }
      }
    });
  }

  /** Opens every connection now (to report unreachable nodes early). */
  async connectAll(): Promise<NodeOutcome<string>[]> {
    return this.each(async (conn) => fingerprint(conn.nodeKey));
  }

  async close(): Promise<void> {
    const conns = await Promise.allSettled([...this.open.values()]);
    for (const c of conns) if (c.status === "fulfilled") c.value.close();
    this.open.clear();
  }
}
