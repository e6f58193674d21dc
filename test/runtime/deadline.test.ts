/** withDeadline: the one race of work against a timer in the runtime. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { withDeadline } from "../../runtime/deadline.js";

const after = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(() => r(value), ms));

test("settles as the work does when it is in time, and with the late answer when it is not", async () => {
  assert.equal(await withDeadline(after(5, "work"), 200, () => "late"), "work");
  assert.equal(await withDeadline(after(200, "work"), 5, () => "late"), "late");
  await assert.rejects(withDeadline(Promise.reject(new Error("failed")), 200, () => "late"), /failed/);
});

test("rejects with what the late answer throws, and a rejection of the work after it is handled", async () => {
  const unhandled: unknown[] = [];
  const note = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", note);
  try {
    const work = new Promise((_, reject) => setTimeout(() => reject(new Error("too late to matter")), 20));
    await assert.rejects(withDeadline(work, 5, () => { throw new Error("deadline"); }), /deadline/);
    await after(40, null);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off("unhandledRejection", note);
  }
});
