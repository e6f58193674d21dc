// Bundles the two CLIs and the runtime process into dist/ with esbuild, so `loader` and `devtool` start as plain
// Node scripts (no TypeScript loader at run time). Packages stay external: they are
// installed beside dist/ by npm. Runs on `npm ci` (prepare), `npm start` and `npm test`.
import { build } from "esbuild";
import { BOOTSTRAP_ENTRY, BOOTSTRAP_FILE, ISOLATE_SCRIPT_OPTIONS } from "../runtime/isolate/script-build.js";

await build({
  entryPoints: { loader: "devtool/loader-cli/main.ts", devtool: "devtool/main.ts", runtime: "runtime/main.ts" },
  outdir: "dist",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: "linked",
  banner: { js: "#!/usr/bin/env node" },
  logLevel: "warning",
});

// The script every module isolate runs first (web primitives + harness): built here so a
// runtime process starts without running esbuild (~200 ms on every restart). Its options are
// the one definition in runtime/isolate/script-build.js, which bootstrap.ts also builds with
// when there is no dist/; test/e2e/shipped-bootstrap.test.ts checks this file in a real node.
await build({
  ...ISOLATE_SCRIPT_OPTIONS,
  entryPoints: { [BOOTSTRAP_FILE.replace(/\.js$/, "")]: BOOTSTRAP_ENTRY },
  outdir: "dist",
  logLevel: "warning",
});
