/**
 * The script every module isolate runs first (web primitives + harness), bundled from source
 * by esbuild once per runtime process. Bundling here rather than at install keeps one source
 * of truth; it costs ~20 ms at runtime start.
 */
import { buildSync } from "esbuild";
import { join } from "node:path";
import { packageRoot } from "../../loader/version.js";

let cached: string | undefined;

export function bootstrapSource(): string {
  cached ??= buildSync({
    entryPoints: [join(packageRoot(), "runtime/isolate/bootstrap-entry.ts")],
    bundle: true,
    write: false,
    format: "iife",
    platform: "neutral",
    target: "es2022",
    logLevel: "silent",
  }).outputFiles[0]!.text;
  return cached;
}
