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
