import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The fixpoint package's root, found by walking up from this file: the runtime runs both
 * from source (runtime/host/) and bundled (dist/), and needs its TypeScript sources either way.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: unknown }).name === "fixpoint") return dir;
    dir = dirname(dir);
  }
  throw new Error("cannot find the fixpoint package root above " + fileURLToPath(import.meta.url));
}
