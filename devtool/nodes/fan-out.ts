/**
 * The devtool's one way of doing something on every target node: concurrently, at most
 * NODE_FAN_OUT at a time, each node's failure its own. Commands that ask once (status, call,
 * push) and the long-lived sessions (push --watch, dev, logs) both go through it.
 */
import { toFixpointError, type FixpointError } from "../../loader/index.js";
import type { Target } from "./targets.js";

/**
 * Most nodes the devtool talks to at once. Each costs a socket and a handshake; at hundreds
 * of nodes (DESIGN.md, Scale) all at once would run into the process's file-descriptor limit
 * (often 1024) and make every handshake wait on the others.
 */
export const NODE_FAN_OUT = 32;

/** What became of one node: its value, or the error that ended its work. */
export interface NodeOutcome<T> {
  target: Target;
  value?: T;
  error?: FixpointError;
}

/**
 * Runs `work` for every target, at most `limit` at once, and answers in the targets' order.
 * A target whose work throws gets an outcome with the error (as a FixpointError); the others go on.
 */
export async function eachNode<T>(targets: readonly Target[], work: (target: Target) => Promise<T>, limit = NODE_FAN_OUT): Promise<NodeOutcome<T>[]> {
  const outcomes: NodeOutcome<T>[] = new Array(targets.length);
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const i = next++;
      const target = targets[i]!;
      try {
        outcomes[i] = { target, value: await work(target) };
      } catch (err) {
        outcomes[i] = { target, error: toFixpointError(err) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), targets.length) }, worker));
  return outcomes;
}
