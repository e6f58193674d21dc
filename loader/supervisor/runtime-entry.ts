/**
 * Where the runtime's main script is. Installed, it is dist/runtime.js beside dist/loader.js;
 * run from source (development of Fixpoint itself), it is runtime/main.ts through tsx. The
 * loader knows only this path, never the runtime's code.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../protocol/version.js";
import type { RuntimeEntry } from "./runtime-supervisor.js";

// Not --max-semi-space-size: capping the runtime's young generation took a third off its RSS
// growth over 1000 swaps (bounded heap sizing, not a leak: bench/RESULTS.md), but V8 flags are
// per process, so it also shrank every module isolate's, and an allocation V8 cannot survive
// then took 10 s instead of 0.7 s to end (test/e2e/devloop-bad-input.test.ts).

/**
 * Node.js flags for a loader that runs for months (the README's systemd and Kubernetes
 * examples; the benches start it so). V8 doubles the young generation whenever enough of it
 * survives a scavenge, as a stream of pushes keeps doing: without a cap the loader's RSS grew
 * about 24 MiB per 1000 pushes until it reached V8's maximum (32 MiB here), with it about 1 MiB
 * (bench/RESULTS.md). Only a flag given at start does this: V8 sizes the heap once, and
 * `v8.setFlagsFromString` later changes nothing.
 */
export const LOADER_NODE_FLAGS = ["--max-semi-space-size=1"] as const;

export function runtimeEntry(): RuntimeEntry {
  const root = packageRoot();
  const built = join(root, "dist", "runtime.js");
  // --no-node-snapshot: every isolated-vm release asks for it on Node 20 and later (5, 6 and 7
  // alike; 5 crashes on Node 20 without it), so the runtime gets it on every line.
  if (existsSync(built)) return { script: built, execArgv: ["--no-node-snapshot", "--enable-source-maps"] };
  return { script: join(root, "runtime", "main.ts"), execArgv: ["--no-node-snapshot", "--import", "tsx"] };
}
