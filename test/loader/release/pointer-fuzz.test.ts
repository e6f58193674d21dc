/**
 * Seeded fuzzing of the release pointer file, store/release.json (loader/release/release-store.ts
 * readPointer; issue 13): garbage, valid pointers with bytes flipped, cut or inserted, and valid
 * pointer objects with a field replaced, removed or added at any depth. readPointer throws
 * STORE_CORRUPT (the node cannot tell which release to run) or returns a pointer that, written
 * back, reads as itself, whose `trying.states` names only modules. FUZZ_RUNS raises the budget
 * (`npm run fuzz`); each case writes a small file.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { MODULE_NAME } from "../../../loader/protocol/messages.js";
import { ReleaseStore, type Pointer } from "../../../loader/release/release-store.js";
import { codedOrValid, fuzzParameters, garbage, hostileJson, mutated, mutatedTree, utcTime } from "../../helpers/fuzz.js";
import { tempDir } from "../../helpers/processes.js";

const fuzz = fuzzParameters(8181);
const dir = tempDir("pointer-fuzz-");
const store = new ReleaseStore(dir, () => null, "prod");
const FILE = join(dir, "release.json");

const number = fc.oneof(fc.nat(1000), fc.constant(Number.MAX_SAFE_INTEGER));
const validPointer: fc.Arbitrary<Pointer> = fc.record({
  format: fc.constant(1 as const),
  committed: fc.option(fc.record({ number, at: utcTime }), { nil: null }),
  trying: fc.option(fc.record({ number, from: number, states: fc.dictionary(fc.stringMatching(MODULE_NAME), fc.nat(), { maxKeys: 4 }), at: utcTime }), { nil: null }),
  highest: number,
});

function readsOrRejects(bytes: Uint8Array): void {
  writeFileSync(FILE, bytes);
  codedOrValid(
    () => store.readPointer(),
    ["STORE_CORRUPT"],
    (pointer) => {
      for (const module of Object.keys(pointer.trying?.states ?? {})) assert.match(module, MODULE_NAME, "trying.states names a module");
      writeFileSync(FILE, JSON.stringify(pointer));
      assert.deepEqual(store.readPointer(), pointer);
    },
    Buffer.from(bytes).toString("utf8").slice(0, 300),
  );
}

describe("the release pointer under fuzzing (seeded)", () => {
  test("every generated valid pointer reads as itself", () => {
    fc.assert(
      fc.property(validPointer, (p) => {
        writeFileSync(FILE, JSON.stringify(p, null, 2) + "\n");
        assert.deepEqual(store.readPointer(), p);
      }),
      fuzz,
    );
  });

  test("garbage is STORE_CORRUPT", () => {
    fc.assert(fc.property(garbage, readsOrRejects), fuzz);
  });

  test("valid pointers with bytes flipped, overwritten, inserted, deleted or cut", () => {
    fc.assert(fc.property(mutated(validPointer.map((p) => Buffer.from(JSON.stringify(p, null, 2) + "\n"))), readsOrRejects), fuzzParameters(8182, 500));
  });

  test("valid pointer objects with a field replaced, removed or added at any depth", () => {
    const replacement = fc.oneof(hostileJson, fc.constantFrom(2, 0, -1, 1.5, 2 ** 53, "1", "../../etc/passwd", "Counter", "a".repeat(65)));
    fc.assert(fc.property(mutatedTree(validPointer, replacement), (value) => readsOrRejects(Buffer.from(JSON.stringify(value) ?? "null"))), fuzzParameters(8183, 500));
  });

  test("refuses trying.states that names something other than a module (it becomes a path under store/states)", () => {
    for (const name of ["../../etc", "a/b", "", "Counter", "__proto__x"]) {
      writeFileSync(FILE, JSON.stringify({ format: 1, committed: { number: 1, at: "2024-01-01T00:00:00.000Z" }, trying: { number: 2, from: 1, states: { [name]: 3 }, at: "2024-01-01T00:00:00.000Z" }, highest: 1 }));
      assert.throws(() => store.readPointer(), (err: { code?: string }) => err.code === "STORE_CORRUPT", name);
    }
  });
});
