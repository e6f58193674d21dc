import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { writeFileAtomic } from "../../../devtool/files/write-atomic.js";
import { tempDir } from "../../helpers/processes.js";

describe("writeFileAtomic", () => {
  test("writes a new file and replaces an existing one, with the mode asked for, leaving no temporary file", () => {
    const dir = tempDir();
    const file = join(dir, "secret");
    writeFileAtomic(file, "one", 0o600);
    assert.equal(readFileSync(file, "utf8"), "one");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    writeFileAtomic(file, Buffer.from("two"), 0o600);
    assert.equal(readFileSync(file, "utf8"), "two");
    assert.deepEqual(readdirSync(dir), ["secret"]);
  });

  test("a failed rename removes its temporary file and leaves the target as it was", () => {
    const dir = tempDir();
    const target = join(dir, "target");
    mkdirSync(join(target, "occupied"), { recursive: true });
    assert.throws(() => writeFileAtomic(target, "data"));
    assert.deepEqual(readdirSync(dir), ["target"]);
    assert.ok(statSync(target).isDirectory());
  });
});
