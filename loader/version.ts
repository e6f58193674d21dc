import { readFileSync } from "node:fs";

/**
 * This package's version, from the nearest package.json named "fixpoint" above this file —
 * found by walking up because the file runs both from source (loader/) and bundled (dist/).
 */
export const VERSION: string = (() => {
  let url = new URL("./", import.meta.url);
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("package.json", url), "utf8")) as { name?: unknown; version?: unknown };
      if (pkg.name === "fixpoint" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // not here; look one level up
    }
    url = new URL("../", url);
  }
  return "0.0.0";
})();
