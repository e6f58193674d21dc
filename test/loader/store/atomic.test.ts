/**
 * Crash-safe writes (loader/store/atomic.ts): the file is whole under its name or absent, and
 * a write given in parts is the parts one after another.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomicAsync } from "../../../loader/store/atomic.js";
import { tempDir } from "../../helpers/processes.js";

test("a write in parts leaves exactly their bytes in order, and no temporary file", async () => {
  const dir = tempDir();
  const file = join(dir, "f");
  const big = new Uint8Array(300_000).fill(7);
  await writeFileAtomicAsync(file, [Buffer.from("head:"), new Uint8Array(0), big, Buffer.from(":tail")]);
  assert.deepEqual(readFileSync(file), Buffer.concat([Buffer.from("head:"), big, Buffer.from(":tail")]));
  await writeFileAtomicAsync(file, "text é");
  assert.equal(readFileSync(file, "utf8"), "text é");
  assert.deepEqual(readdirSync(dir), ["f"]);
});
