// Bundles the CLIs, the runtime process and the package's library entries into dist/ with
// esbuild, so that all of it runs as plain Node scripts (no TypeScript loader at run time).
// Packages stay external: they are installed beside dist/ by npm. Runs on `npm ci` (prepare),
// `npm start` and `npm test`. With --types (`npm pack` and `npm publish` run it, as prepack),
// also the declarations of the public entries into dist/types (tsconfig.build.json): they
// take tsc some seconds, which every test run need not pay.
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { build } from "esbuild";
import { BOOTSTRAP_ENTRY, BOOTSTRAP_FILE, ISOLATE_SCRIPT_OPTIONS } from "../runtime/isolate/script-build.js";

await build({
  entryPoints: { loader: "devtool/loader-cli/main.ts", devtool: "devtool/main.ts", fixpoint: "devtool/fixpoint-cli/main.ts", runtime: "runtime/main.ts" },
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

// The commands package.json's "bin" names must be executable files: `npx devtool` in this
// repository runs dist/devtool.js itself, and npm links (and chmods) an installed package's bins
// but not its own. esbuild writes a new file 0644 and keeps an existing file's mode, so a fresh
// clone's build would otherwise leave them unrunnable. package.json is the one list of them.
const root = join(import.meta.dirname, "..");
for (const file of Object.values(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).bin ?? {})) {
  chmodSync(join(root, file), 0o755);
}

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

// The package's exports (package.json): "." the module API (types: runtime/api.ts, which the
// devtool also bundles into every module), "./node" embedding a node, "./client" the client
// library. No shebang: these are imported, not run.
await build({
  entryPoints: { api: "runtime/api.ts", node: "devtool/embed/index.ts", client: "devtool/client/index.ts" },
  outdir: "dist",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: "linked",
  logLevel: "warning",
});

if (process.argv.includes("--types")) {
  const tsc = join(dirname(createRequire(join(root, "package.json")).resolve("typescript/package.json")), "bin", "tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
