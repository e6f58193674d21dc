/**
 * Starting a node in this process: what `loader start` runs, and what a host app embedding a
 * node calls (issue 14). The node's modules still run in a runtime process it supervises.
 */
import { runtimeEntry } from "../supervisor/runtime-entry.js";
import { DEFAULT_RUNTIME_LIMITS, type RuntimeLimits } from "../protocol/runtime-ipc.js";
import { LoaderNode, type NodeOptions } from "./node.js";

export interface StartNodeOptions extends Omit<NodeOptions, "runtime"> {
  /** "HOST:PORT" to serve the modules' HTTP handlers on, if any. */
  http?: string;
  /** The module serving paths no other module claims. Default "index". */
  httpRoot?: string;
  /** Limits per module isolate and per state; unset ones are DEFAULT_RUNTIME_LIMITS. */
  moduleLimits?: Partial<RuntimeLimits>;
}

/**
 * Starts a node on `options.dataDir` (made with `initDataDir` or `loader init`) and resolves
 * once it serves. A failure while starting (a port in use, a data directory another node
 * holds) stops whatever had started before it is thrown, so nothing is left running.
 */
export async function startNode(options: StartNodeOptions): Promise<LoaderNode> {
  const { http, httpRoot, moduleLimits, ...rest } = options;
  const node = new LoaderNode({
    ...rest,
    runtime: {
      entry: runtimeEntry(),
      limits: { ...DEFAULT_RUNTIME_LIMITS, ...moduleLimits },
      ...(http === undefined ? {} : { http }),
      ...(httpRoot === undefined ? {} : { httpRoot }),
    },
  });
  try {
    await node.start();
  } catch (err) {
    await node.stop().catch(() => {});
    throw err;
  }
  return node;
}
