// Counts the loader's own code: the fixed point a node never changes, which the design keeps
// small (DESIGN.md; issue 10's budget). A line of code is a non-blank line of a .ts file under
// loader/ that is not only a comment. loader/protocol/ is counted apart: it is the wire format
// (frames, messages, their crypto, errors, the bundle, release, state and log formats) that all three
// parts import, owned by the loader but not its own logic.
//   node scripts/loader-size.mjs            prints the counts per folder
//   node scripts/loader-size.mjs --check    also exits 1 when the loader's own code is over budget
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const LOADER_BUDGET = 2500;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SHARED = "loader/protocol";

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Lines of code in TypeScript text: not blank, not only a // or /* *\/ comment. */
export function linesOfCode(text) {
  let count = 0;
  let inBlock = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (inBlock) {
      if (line.includes("*/")) {
        inBlock = false;
        if (line.slice(line.indexOf("*/") + 2).trim() !== "") count++;
      }
      continue;
    }
    if (line === "" || line.startsWith("//")) continue;
    if (line.startsWith("/*")) {
      if (!line.includes("*/")) inBlock = true;
      else if (line.slice(line.indexOf("*/") + 2).trim() !== "") count++;
      continue;
    }
    count++;
  }
  return count;
}

/** { own, shared, folders: { "loader/node": n, … } } for the loader in `root`. */
export function loaderSize(root = ROOT) {
  const folders = {};
  let own = 0;
  let shared = 0;
  for (const file of files(join(root, "loader"))) {
    const rel = relative(root, file).split("\\").join("/");
    const n = linesOfCode(readFileSync(file, "utf8"));
    const folder = dirname(rel);
    folders[folder] = (folders[folder] ?? 0) + n;
    if (rel.startsWith(`${SHARED}/`)) shared += n;
    else own += n;
  }
  return { own, shared, folders };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { own, shared, folders } = loaderSize();
  for (const [folder, n] of Object.entries(folders).sort()) console.log(`${String(n).padStart(6)}  ${folder}/`);
  console.log(`${String(own).padStart(6)}  the loader's own code (budget ${LOADER_BUDGET})`);
  console.log(`${String(shared).padStart(6)}  ${SHARED}/, the wire format shared with runtime/ and devtool/`);
  if (process.argv.includes("--check") && own > LOADER_BUDGET) {
    console.error(`loader/ has ${own} lines of its own code, over its budget of ${LOADER_BUDGET}: move what is not the fixed point out`);
    process.exit(1);
  }
}
