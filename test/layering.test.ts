/**
 * The loader is the fixed point: it may import node built-ins, its own files and the few
 * packages it is allowed (cbor-x, tweetnacl for cross-checks), never runtime/ or devtool/.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "./helpers/processes.js";

const LOADER = join(ROOT, "loader");
const ALLOWED_PACKAGES = ["cbor-x"];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']/g)) specs.push(m[1]!);
  for (const m of text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)) specs.push(m[1]!);
  return specs;
}

test("loader/ imports nothing from runtime/ or devtool/, and only allowed packages", () => {
  const files = sources(LOADER);
  assert.ok(files.length > 10, "found the loader's sources");
  const problems: string[] = [];
  for (const file of files) {
    for (const spec of importsOf(file)) {
      if (spec.startsWith(".")) {
        const target = resolve(dirname(file), spec);
        if (relative(LOADER, target).startsWith("..")) problems.push(`${relative(ROOT, file)} imports ${spec}, outside loader/`);
      } else if (!spec.startsWith("node:") && !ALLOWED_PACKAGES.includes(spec)) {
        problems.push(`${relative(ROOT, file)} imports package ${spec}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

/**
 * The loader's public entry points: what runtime/ and devtool/ may import from it. The rest of
 * loader/ can change shape without them noticing (issue 10).
 */
const LOADER_ENTRY_POINTS = ["loader/index.ts"];
/** The wire format and the runtime's interface, defined once and imported by all three parts. */
const SHARED = "loader/protocol/";
/** What devtool/ may take from runtime/: the module API's types and the one esbuild definition for isolate code. */
const RUNTIME_FOR_DEVTOOL = ["runtime/api.ts", "runtime/isolate/script-build.ts"];

test("runtime/ and devtool/ reach the loader only through its public entry points, and not each other", () => {
  const problems: string[] = [];
  for (const part of ["runtime", "devtool"] as const) {
    const other = part === "runtime" ? "devtool" : "runtime";
    for (const file of sources(join(ROOT, part))) {
      for (const spec of importsOf(file)) {
        if (!spec.startsWith(".")) continue;
        const target = relative(ROOT, resolve(dirname(file), spec)).replace(/\.js$/, ".ts");
        if (target.startsWith("loader/") && !LOADER_ENTRY_POINTS.includes(target) && !target.startsWith(SHARED)) problems.push(`${relative(ROOT, file)} imports ${target}; use ${LOADER_ENTRY_POINTS.join(", ")} or ${SHARED}`);
        if (target.startsWith(`${other}/`) && !(part === "devtool" && RUNTIME_FOR_DEVTOOL.includes(target))) problems.push(`${relative(ROOT, file)} imports ${target}, in ${other}/`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test("loader/protocol/ stands alone: it imports nothing from the rest of loader/", () => {
  // Everything in it is imported by runtime/ and devtool/ too; a reach back into the loader's
  // own code would make all three parts depend on the node's internals.
  const problems: string[] = [];
  for (const file of sources(join(ROOT, SHARED))) {
    for (const spec of importsOf(file)) {
      if (!spec.startsWith(".")) continue;
      const target = relative(ROOT, resolve(dirname(file), spec));
      if (!target.startsWith(SHARED)) problems.push(`${relative(ROOT, file)} imports ${target}`);
    }
  }
  assert.deepEqual(problems, []);
});

test("the check itself sees a forbidden import", () => {
  // Guards against a regex that silently matches nothing.
  const specs = importsOf(join(ROOT, "loader/channel/server.ts"));
  assert.ok(specs.includes("node:net"));
  assert.ok(specs.includes("../protocol/errors.js"));
});
