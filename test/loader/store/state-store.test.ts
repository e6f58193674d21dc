/**
 * Module states on disk (loader/store/state-store.ts): a save is whole or absent, a damaged
 * file is named and never read as an empty state, and the previous save is the fallback.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { serialize } from "node:v8";
import { StateStore } from "../../../loader/store/state-store.js";
import { STATE_FORMAT, decodeState, encodeState, encodeStateParts, type SavedState } from "../../../loader/protocol/state-file.js";
import { hasCode } from "../../../loader/protocol/errors.js";
import { tempDir } from "../../helpers/processes.js";

const DIGEST = "a".repeat(64);
const state = (value: unknown) => ({ bytes: new Uint8Array(serialize(value)), version: "v1", digest: DIGEST });
const sample: SavedState = { ...state({ hits: 3, seen: new Map([["x", 1]]) }), module: "counter", seq: 7, savedAt: "2026-11-30T00:00:00.000Z" };

test("a state file round-trips: module, digest, version, sequence and the state's bytes", () => {
  const decoded = decodeState(encodeState(sample), "counter", "f");
  assert.deepEqual({ ...decoded, bytes: [...decoded.bytes] }, { ...sample, bytes: [...sample.bytes] });
});

test("a state file written in parts is byte for byte the file encodeState makes, and the parts hold the state's own bytes", () => {
  const parts = encodeStateParts(sample);
  assert.deepEqual(Buffer.concat(parts), encodeState(sample));
  // Not a copy: a state of megabytes is written as it came.
  assert.ok(parts.includes(sample.bytes));
});

test("a state file cut short at any byte is STATE_CORRUPT, never a state", () => {
  const bytes = encodeState(sample);
  for (let cut = 0; cut < bytes.length; cut++) {
    assert.throws(() => decodeState(bytes.subarray(0, cut), "counter", "f"), (err: unknown) => hasCode(err, "STATE_CORRUPT"), `cut at ${cut}`);
  }
});

test("a state file with any one bit flipped is STATE_CORRUPT", () => {
  const bytes = encodeState(sample);
  for (let i = 0; i < bytes.length; i++) {
    const copy = Buffer.from(bytes);
    copy[i] = copy[i]! ^ (1 << i % 8);
    assert.throws(() => decodeState(copy, "counter", "f"), (err: unknown) => hasCode(err, "STATE_CORRUPT"), `flip in byte ${i}`);
  }
});

test("a state file of another module, or of another format version, is STATE_CORRUPT naming why", () => {
  assert.throws(() => decodeState(encodeState(sample), "other", "f"), (err: unknown) => hasCode(err, "STATE_CORRUPT") && /belongs to module "counter"/.test((err as Error).message));
  const other = Buffer.from(encodeState(sample));
  other[4] = STATE_FORMAT + 1;
  assert.throws(() => decodeState(other, "counter", "f"), (err: unknown) => hasCode(err, "STATE_CORRUPT") && /format/.test((err as Error).message));
});

test("saves of one module land in order, the newest two are kept, and reading finds the newest", async () => {
  const store = new StateStore(tempDir());
  assert.deepEqual(store.read("counter"), { kind: "none" });
  const saves = [1, 2, 3, 4].map((n) => store.save("counter", state({ hits: n })));
  const saved = await Promise.all(saves);
  assert.deepEqual(saved.map((s) => s.seq), [1, 2, 3, 4]);
  const read = store.read("counter");
  assert.equal(read.kind, "found");
  assert.equal(read.kind === "found" && read.saved.seq, 4);
  assert.deepEqual(readdirSync(join((store as unknown as { dir: string }).dir, "counter")).sort(), ["3.state", "4.state"]);
});

test("a damaged newest save falls back to the one before, and says so", async () => {
  const dir = tempDir();
  const store = new StateStore(dir);
  await store.save("counter", state({ hits: 1 }));
  await store.save("counter", state({ hits: 2 }));
  const newest = join(dir, "states", "counter", "2.state");
  writeFileSync(newest, readFileSync(newest).subarray(0, 20));
  const read = new StateStore(dir).read("counter");
  assert.equal(read.kind, "found");
  if (read.kind !== "found") return;
  assert.equal(read.saved.seq, 1);
  assert.equal(read.problems.length, 1);
  assert.equal(read.problems[0]!.file, newest);
  // And the next save goes after the damaged one, never over it.
  assert.equal((await new StateStore(dir).save("counter", state({ hits: 3 }))).seq, 3);
});

test("when every save is damaged the module is corrupt, not empty", async () => {
  const dir = tempDir();
  const store = new StateStore(dir);
  await store.save("counter", state({ hits: 1 }));
  writeFileSync(join(dir, "states", "counter", "1.state"), "garbage");
  const read = new StateStore(dir).read("counter");
  assert.equal(read.kind, "corrupt");
});

test("a full disk during a save is STORE_WRITE_FAILED, leaves no partial file, and the previous save stays", async (t) => {
  const dir = tempDir();
  const mount = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]);
  if (mount.status !== 0) return t.skip("needs root to mount a small tmpfs");
  try {
    const store = new StateStore(dir);
    await store.save("counter", state({ hits: 1 }));
    await assert.rejects(store.save("counter", state({ blob: "x".repeat(200_000) })), (err: unknown) => hasCode(err, "STORE_WRITE_FAILED") && /ENOSPC/.test((err as Error).message));
    assert.deepEqual(readdirSync(join(dir, "states", "counter")), ["1.state"]);
    const read = new StateStore(dir).read("counter");
    assert.equal(read.kind === "found" && read.saved.seq, 1);
  } finally {
    spawnSync("umount", [dir]);
  }
});

test("readAt answers a save this process wrote from memory, exactly as written; another process reads the file, and finds damage", async () => {
  const dir = tempDir();
  const store = new StateStore(dir);
  const first = await store.save("counter", state({ hits: 1 }));
  const second = await store.save("counter", state({ hits: 2 }));
  assert.equal(store.readAt("counter", second.seq), second);
  // An older save is read from its file.
  assert.deepEqual([...store.readAt("counter", first.seq).bytes], [...first.bytes]);
  const file = join(dir, "states", "counter", `${second.seq}.state`);
  const bytes = readFileSync(file);
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
  writeFileSync(file, bytes);
  assert.throws(() => new StateStore(dir).readAt("counter", second.seq), (err: unknown) => hasCode(err, "STATE_CORRUPT"));
  // A module removed is forgotten, its saves in memory too.
  store.remove("counter");
  assert.throws(() => store.readAt("counter", second.seq), (err: unknown) => hasCode(err, "STATE_CORRUPT"));
});
