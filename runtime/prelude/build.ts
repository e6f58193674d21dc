/**
 * Bundles the prelude (index.ts and what it imports) into the one script each isolate
 * evaluates before module code. Runs in Node, on the host side; unlike the prelude itself,
 * it may import Node built-ins and esbuild.
 *
 * From source (tsx) the default entry is ./index.ts beside this file. A bundled build of the
 * host (dist/) has no such file beside it and passes the entry's path instead.
 */
import { buildSync } from "esbuild";
import { fileURLToPath } from "node:url";

// One bundle per entry path: the prelude does not change while a process runs.
const cache = new Map<string, string>();

/**
 * The prelude as one script (an IIFE, ES2022) that installs the web globals when evaluated.
 * Built on the first call for each entry (about 20 ms), then cached.
 *
 * @param entry absolute path of the prelude's index.ts; defaults to the one beside this file.
 * @throws Error with esbuild's messages if the prelude does not build, or builds with warnings.
 * @example await context.eval(preludeSource())
 */
export function preludeSource(entry: string = fileURLToPath(new URL("./index.ts", import.meta.url))): string {
  const cached = cache.get(entry);
  if (cached !== undefined) return cached;
  const result = buildSync({
    entryPoints: [entry],
    write: false,
    bundle: true,
    format: "iife",
    platform: "neutral",
    target: "es2022",
    minify: false,
    // esbuild turns `class URL` into `var URL = class _URL` when the class names itself
    // inside its body, and URL.name would read "_URL"; keepNames restores the real names.
    keepNames: true,
    logLevel: "silent",
  });
  // A warning here (a direct eval, an import that resolves to nothing) means a prelude that
  // may fail inside the isolate; fail now, on the host, instead.
  if (result.warnings.length > 0) {
    throw new Error(`the prelude built with warnings:\n${result.warnings.map((w) => w.text).join("\n")}`);
  }
  const source = result.outputFiles[0]!.text;
  cache.set(entry, source);
  return source;
}
