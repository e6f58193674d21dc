/**
 * Where the runtime's main script is. Installed, it is dist/runtime.js beside dist/loader.js;
 * run from source (development of Fixpoint itself), it is runtime/main.ts through tsx. The
 * loader knows only this path, never the runtime's code.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../version.js";
import type { RuntimeEntry } from "./runtime-supervisor.js";

/**
 * The runtime's young generation kept at the size V8 starts it with (4 MiB per semi-space, MB
 * in V8's flag). Issue 5: the runtime's own live heap is ~5 MiB and flat after a full GC across
 * 1000 swaps, but the traffic of a swap (IPC messages, code strings, the snapshot's exports)
 * made V8 double its new space (8 → 16 MiB, up to 32), which was half of the runtime's RSS
 * growth over 1000 swaps beside 20 modules (+15.8 MiB; with this flag +8.2 MiB). Module
 * isolates have their own heaps and are not affected.
 */
const RUNTIME_SEMI_SPACE = "--max-semi-space-size=4";

export function runtimeEntry(): RuntimeEntry {
  const root = packageRoot();
  const built = join(root, "dist", "runtime.js");
  // --no-node-snapshot: isolated-vm 5 crashes on Node 20 without it.
  if (existsSync(built)) return { script: built, execArgv: ["--no-node-snapshot", RUNTIME_SEMI_SPACE, "--enable-source-maps"] };
  return { script: join(root, "runtime", "main.ts"), execArgv: ["--no-node-snapshot", RUNTIME_SEMI_SPACE, "--import", "tsx"] };
}
