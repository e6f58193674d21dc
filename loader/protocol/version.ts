import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function readPackage(dir: string): { name?: unknown; version?: unknown } | null {
  const file = join(dir, "package.json");
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as { name?: unknown; version?: unknown };
  } catch {
    return null;
  }
}

/**
 * The fixpoint package's root directory, found by walking up from this file: the code runs
 * both from source (loader/) and bundled (dist/), so a fixed relative path would be wrong in
 * one of them.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (readPackage(dir)?.name === "fixpoint") return dir;
    dir = dirname(dir);
  }
  throw new Error(`cannot find the fixpoint package above ${fileURLToPath(import.meta.url)}`);
}

/** This package's version. */
export const VERSION: string = (() => {
  try {
    const version = readPackage(packageRoot())?.version;
    return typeof version === "string" ? version : "0.0.0";
  } catch {
    return "0.0.0";
  }
})();
