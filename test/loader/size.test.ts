/**
 * The loader is the fixed point a node never changes, so it stays small (DESIGN.md, issue 10):
 * its own code, counted by the script the README names, is within its budget.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../helpers/processes.js";

test("the loader's own code is within its 2,500-line budget (npm run size)", () => {
  const r = spawnSync(process.execPath, [join(ROOT, "scripts/loader-size.mjs"), "--check"], { encoding: "utf8" });
  const own = /^\s*(\d+)\s+the loader's own code \(budget (\d+)\)$/m.exec(r.stdout);
  assert.ok(own !== null, r.stdout + r.stderr);
  assert.equal(Number(own[2]), 2500);
  assert.equal(r.status, 0, `${own[1]} lines: ${r.stderr}`);
  assert.ok(Number(own[1]) > 1000, "the count sees the loader's code");
});
