/**
 * The project's release folder (devtool/release/project-releases.ts): numbers one above the
 * last, a release appears whole or not at all, and what is read back is checked.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair, type ResultOf } from "../../../loader/index.js";
import { signBundle, signRelease } from "../../../devtool/client/index.js";
import { ProjectReleases, unhealthyReason } from "../../../devtool/release/index.js";
import { throwsCode } from "../../helpers/expect-code.js";
import { tempDir } from "../../helpers/processes.js";

const key = generateKeyPair();

function made(number: number, code = `var x = ${number};`) {
  const b = signBundle("counter", Buffer.from(code), Buffer.from("{}"), key);
  const { manifest, release } = signRelease({ cluster: "default", number, modules: [{ name: "counter", digest: b.manifest.digest }] }, key);
  return { manifest, release, bundles: [b.bundle], digest: b.manifest.digest };
}

test("numbers releases one above the last kept, ignoring a folder a crash left half written", () => {
  const state = tempDir();
  const releases = new ProjectReleases(state);
  assert.equal(releases.nextNumber(), 1);
  assert.equal(releases.newest(), null);
  const one = made(1);
  releases.write(one.release, one.manifest, one.bundles);
  mkdirSync(join(releases.dir, ".tmp-2-123-456"), { recursive: true });
  mkdirSync(join(releases.dir, "3")); // no release file in it: not a release
  assert.deepEqual(releases.numbers(), [1]);
  assert.equal(releases.nextNumber(), 2);
  assert.equal(releases.newest()?.manifest.number, 1);
  assert.equal(readFileSync(join(state, ".gitignore"), "utf8").split("\n").filter((l) => !l.startsWith("#") && l !== "").join(), "*");
});

test("refuses to write a release under a number the folder already holds, leaving nothing behind", () => {
  const releases = new ProjectReleases(tempDir());
  const one = made(1);
  releases.write(one.release, one.manifest, one.bundles);
  const other = made(1, "var other = 1;");
  throwsCode(() => releases.write(other.release, other.manifest, other.bundles), "RELEASE_INVALID", "release 1 appeared");
  assert.deepEqual(readdirSync(releases.dir), ["1"]);
  assert.equal(releases.bundle(releases.read(1), one.digest).code.toString(), "var x = 1;");
});

test("reads back a release whose bundle was altered as RELEASE_BUNDLE_INVALID, and an unknown number as USAGE", () => {
  const releases = new ProjectReleases(tempDir());
  const one = made(1);
  const r = releases.write(one.release, one.manifest, one.bundles);
  const file = join(r.dir, "bundles", `${one.digest}.bundle`);
  const bytes = readFileSync(file);
  bytes[bytes.indexOf(Buffer.from("var x = 1;")) + 8] = "2".charCodeAt(0);
  writeFileSync(file, bytes);
  throwsCode(() => releases.bundle(releases.read(1), one.digest), "RELEASE_BUNDLE_INVALID", "does not match the digest");
  throwsCode(() => releases.read(4), "USAGE", "no release 4", "it has 1");
});

type Status = ResultOf<"status">;
const module = (fields: Partial<Status["modules"][number]>): Status["modules"][number] => ({
  name: "counter",
  digest: "0".repeat(64),
  size: 1,
  builtAt: "",
  signer: "",
  storedAt: "",
  running: true,
  status: "current",
  ...fields,
});
const statusWith = (modules: Status["modules"], ready = true) => ({ ready, modules }) as Status;

test("a node counts as healthy only when ready with every module current, running and passing its health check", () => {
  assert.equal(unhealthyReason(statusWith([module({}), module({ name: "b", health: { ok: true } })])), null);
  assert.match(unhealthyReason(statusWith([module({})], false))!, /not ready/);
  assert.match(unhealthyReason(statusWith([module({ running: false })]))!, /module counter is not running/);
  assert.match(unhealthyReason(statusWith([module({ status: "failed", running: false, error: { code: "MODULE_LOAD_FAILED", message: "boom" } })]))!, /counter is failed \(MODULE_LOAD_FAILED: boom\)/);
  assert.match(unhealthyReason(statusWith([module({ health: { ok: false, detail: "db down" } })]))!, /counter is unhealthy \(db down\)/);
});
