/**
 * Where the runtime's main script is. Installed, it is dist/runtime.js beside dist/loader.js;
 * run from source (development of Fixpoint itself), it is runtime/main.ts through tsx. The
 * loader knows only this path, never the runtime's code.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../version.js";
import type { RuntimeEntry } from "./runtime-supervisor.js";

export function runtimeEntry(): RuntimeEntry {
  const root = packageRoot();
  const built = join(root, "dist", "runtime.js");
  // --no-node-snapshot: isolated-vm 5 crashes on Node 20 without it.
  if (existsSync(built)) return { script: built, execArgv: ["--no-node-snapshot", "--enable-source-maps"] };
  return { script: join(root, "runtime", "main.ts"), execArgv: ["--no-node-snapshot", "--import", "tsx"] };
}
