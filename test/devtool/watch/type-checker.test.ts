/**
 * The type checker beside the dev loop (devtool/watch/type-checker.ts): a real `tsc --watch`,
 * held still while a save is built and pushed, and let go after; never left behind, stopped
 * or not. Process states are read from /proc, so these run on Linux.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TypeChecker, type TypeReport } from "../../../devtool/watch/type-checker.js";
import { tempDir } from "../../helpers/processes.js";

const linux = process.platform === "linux";

/** The process's state letter (R, S, T for stopped, ...), or null once it is gone. */
function stateOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0]!;
  } catch {
    return null;
  }
}

async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("tsc is held still while paused, checks the save once resumed, and a pause ends by itself", { skip: !linux, timeout: 120_000 }, async () => {
  const dir = tempDir("fixpoint-types-");
  const file = join(dir, "m.ts");
  writeFileSync(file, `export const n: number = 1;\n`);
  const reports: TypeReport[] = [];
  const checker = new TypeChecker(dir, [file], { checked: (r) => reports.push(r), unavailable: (why) => assert.fail(why) });
  checker.start();
  try {
    const pid = checker.pid!;
    assert.ok(pid > 0);
    await until("tsc to start", () => stateOf(pid) !== null);
    checker.pause();
    assert.equal(checker.isPaused, true);
    await until("tsc to stop", () => stateOf(pid) === "T", 5000);
    // A save while it is held: no report until it is let go.
    writeFileSync(file, `export const n: number = "one";\n`);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(reports.length, 0);
    assert.equal(stateOf(pid), "T");
    checker.resume();
    assert.equal(checker.isPaused, false);
    await until("the report of the save made while paused", () => reports.some((r) => r.errors.some((e) => /TS2322/.test(e))));
    // Paused with nothing to resume it, it goes on by itself (PAUSE_MAX_MS).
    checker.pause();
    await until("tsc to stop again", () => stateOf(pid) === "T", 5000);
    await until("the pause to end by itself", () => stateOf(pid) !== "T" && !checker.isPaused, 10_000);
  } finally {
    checker.close();
  }
});

test("closing a paused checker ends tsc rather than leaving it stopped", { skip: !linux, timeout: 60_000 }, async () => {
  const dir = tempDir("fixpoint-types-");
  const file = join(dir, "m.ts");
  writeFileSync(file, `export const n = 1;\n`);
  const checker = new TypeChecker(dir, [file], { checked: () => {}, unavailable: (why) => assert.fail(why) });
  checker.start();
  const pid = checker.pid!;
  await until("tsc to start", () => stateOf(pid) !== null);
  checker.pause();
  await until("tsc to stop", () => stateOf(pid) === "T", 5000);
  checker.close();
  // Gone, or a zombie until this process reaps it: in neither case stopped, nor running.
  await until("tsc to end", () => stateOf(pid) === null || stateOf(pid) === "Z", 10_000);
});
