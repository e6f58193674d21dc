/**
 * Module code's types (issue 12.8): `import { defineModule } from "fixpoint"` resolves to the
 * module API in the repository's examples and in a separate project that installed the
 * package, and the examples type-check as they are.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, tempDir } from "../helpers/processes.js";

const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");

function tsc(args: string[], cwd = ROOT): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [TSC, ...args], { cwd, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, output: r.stdout + r.stderr };
}

test("the examples type-check, with \"fixpoint\" resolved to the module API", () => {
  const r = tsc(["-p", "examples/tsconfig.json"]);
  assert.equal(r.status, 0, r.output);
});

test("a separate project with the package installed resolves \"fixpoint\" and gets type errors in its module", () => {
  const dir = tempDir("fixpoint-consumer-");
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(ROOT, join(dir, "node_modules", "fixpoint"), "dir");
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: "ES2022", lib: ["ES2022", "DOM"], types: [], module: "NodeNext", moduleResolution: "NodeNext" }, include: ["*.ts"] }),
  );
  writeFileSync(
    join(dir, "counter.ts"),
    `import { defineModule } from "fixpoint";\nexport default defineModule({ version: "1", state: { hits: 0 }, functions: { hit: (ctx) => ++ctx.state.hits } });\n`,
  );
  assert.equal(tsc(["-p", "."], dir).status, 0, tsc(["-p", "."], dir).output);
  writeFileSync(join(dir, "wrong.ts"), `import { defineModule } from "fixpoint";\nconst n: number = "x";\nexport default defineModule({ version: 1, state: { n } });\n`);
  const r = tsc(["-p", "."], dir);
  assert.equal(r.status, 2);
  assert.doesNotMatch(r.output, /TS2307/);
  assert.match(r.output, /wrong\.ts\(2,7\): error TS2322/);
  assert.match(r.output, /wrong\.ts\(3,31\): error TS2322: Type 'number' is not assignable to type 'string'/);
});
