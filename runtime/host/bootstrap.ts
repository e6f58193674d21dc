/**
 * The script every module isolate runs first (web primitives + harness). The build puts it
 * beside the bundled runtime (dist/isolate-bootstrap.js, see scripts/build.mjs), so a runtime
 * process starts — and restarts — without running esbuild; run from source (tests, tsx), it is
 * bundled here, once per process (~200 ms). Both builds take their options from the one
 * definition in runtime/isolate/script-build.js.
 */
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { packageRoot } from "../../loader/protocol/version.js";
import { BOOTSTRAP_ENTRY, BOOTSTRAP_FILE, ISOLATE_SCRIPT_OPTIONS } from "../isolate/script-build.js";

let cached: string | undefined;

/**
 * The bootstrap script: dist/'s when this runs bundled in dist/runtime.js, else built from source.
 * @throws Error with esbuild's messages if it does not build, or builds with warnings.
 */
export function bootstrapSource(): string {
  cached ??= prebuilt() ?? fromSource();
  return cached;
}

function prebuilt(): string | null {
  // Inside dist/runtime.js this is dist/isolate-bootstrap.js; from source it does not exist.
  const file = fileURLToPath(new URL(`./${BOOTSTRAP_FILE}`, import.meta.url));
  return existsSync(file) ? readFileSync(file, "utf8") : null;
}

function fromSource(): string {
  // Loaded only here: a runtime started from dist/ does not load esbuild at all.
  const { buildSync } = createRequire(import.meta.url)("esbuild") as typeof import("esbuild");
  const result = buildSync({ ...ISOLATE_SCRIPT_OPTIONS, entryPoints: [join(packageRoot(), BOOTSTRAP_ENTRY)], write: false, logLevel: "silent" });
  // A warning here (a direct eval, an import that resolves to nothing) means a bootstrap that
  // may fail inside the isolate; fail now, on the host, instead.
  if (result.warnings.length > 0) throw new Error(`the isolate bootstrap built with warnings:\n${result.warnings.map((w) => w.text).join("\n")}`);
  return result.outputFiles[0]!.text;
}
