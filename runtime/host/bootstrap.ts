/**
 * The script every module isolate runs first (web primitives + harness). The build puts it
 * beside the bundled runtime (dist/isolate-bootstrap.js, see scripts/build.mjs), so a runtime
 * process starts — and restarts — without running esbuild; run from source (tests, tsx), it is
 * bundled here with the same options, once per process (~200 ms).
 */
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { packageRoot } from "../../loader/version.js";

let cached: string | undefined;

export function bootstrapSource(): string {
  cached ??= prebuilt() ?? fromSource();
  return cached;
}

function prebuilt(): string | null {
  // Inside dist/runtime.js this is dist/isolate-bootstrap.js; from source it does not exist.
  const file = fileURLToPath(new URL("./isolate-bootstrap.js", import.meta.url));
  return existsSync(file) ? readFileSync(file, "utf8") : null;
}

function fromSource(): string {
  // Loaded only here: a runtime started from dist/ does not load esbuild at all.
  const { buildSync } = createRequire(import.meta.url)("esbuild") as typeof import("esbuild");
  return buildSync({
    entryPoints: [join(packageRoot(), "runtime/isolate/bootstrap-entry.ts")],
    bundle: true,
    write: false,
    format: "iife",
    platform: "neutral",
    target: "es2022",
    logLevel: "silent",
  }).outputFiles[0]!.text;
}
