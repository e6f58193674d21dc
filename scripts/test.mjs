// Runs every test/**/*.test.ts with node's own test runner through tsx. --no-node-snapshot:
// every isolated-vm release asks for it on Node 20 and later (5 on Node 20 crashes without it);
// the runtime process is started with it too (loader/supervisor/runtime-entry.ts).
// Node 20's `--test` takes no globs, so the files are listed here. Arguments narrow the set:
//   npm test -- test/loader/protocol     runs the tests under that folder
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function collect(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

const roots = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const flags = process.argv.slice(2).filter((a) => a.startsWith("-"));
const files = (roots.length > 0 ? roots : ["test"]).flatMap((root) => (root.endsWith(".ts") ? [root] : collect(root, [])));
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}
const result = spawnSync(process.execPath, ["--no-node-snapshot", "--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=180000", ...flags, ...files], { stdio: "inherit" });
process.exit(result.status ?? 1);
