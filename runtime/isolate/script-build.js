// The one definition of how code that runs in a module isolate is built with esbuild: the
// bootstrap (scripts/build.mjs for dist/, runtime/host/bootstrap.ts from source) and every
// module (devtool/build/build.ts). Plain JavaScript, with its types in script-build.d.ts, so
// that scripts/build.mjs imports it with nothing but Node, on `npm ci` in a fresh clone.
//
// Why one copy (issue 10): the tests once built the prelude with keepNames and dist/ without,
// so URL.name read "_URL" in a real node while the tests said "URL".

/**
 * esbuild's options shared by every isolate script: one script with everything bundled in,
 * an IIFE (an isolate has no module loader), no Node built-ins (platform neutral), the syntax
 * V8 in Node 20 runs as is, and keepNames: esbuild turns `class URL` into
 * `var URL = class _URL` when the class names itself inside its body, and URL.name would read
 * "_URL"; keepNames gives functions and classes the names their source gave them.
 */
export const ISOLATE_SCRIPT_OPTIONS = Object.freeze({
  bundle: true,
  format: "iife",
  platform: "neutral",
  target: "es2022",
  keepNames: true,
});

/** The bootstrap's entry (web primitives, then the harness), relative to the package root. */
export const BOOTSTRAP_ENTRY = "runtime/isolate/bootstrap-entry.ts";

/** The built bootstrap's file name in dist/, beside the bundled runtime that reads it. */
export const BOOTSTRAP_FILE = "isolate-bootstrap.js";
