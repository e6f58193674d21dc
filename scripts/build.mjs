// Bundles the two CLIs and the runtime process into dist/ with esbuild, so `loader` and `devtool` start as plain
// Node scripts (no TypeScript loader at run time). Packages stay external: they are
// installed beside dist/ by npm. Runs on `npm ci` (prepare), `npm start` and `npm test`.
import { build } from "esbuild";

await build({
  entryPoints: { loader: "loader/main.ts", devtool: "devtool/main.ts", runtime: "runtime/main.ts" },
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
// runtime process starts without running esbuild (~200 ms on every restart). The same options
// as runtime/host/bootstrap.ts, which builds it from source when there is no dist/.
await build({
  entryPoints: { "isolate-bootstrap": "runtime/isolate/bootstrap-entry.ts" },
  outdir: "dist",
  bundle: true,
  format: "iife",
  platform: "neutral",
  target: "es2022",
  logLevel: "warning",
});
