import assert from "node:assert/strict";
import { FixpointError, type ErrorCode } from "../../../loader/errors.js";

/**
 * Asserts that `fn` throws a FixpointError with `code` (matched on `code`, as callers do) and,
 * when given, a message containing each of `mentions`. Returns the error for further checks.
 */
export function throwsCode(fn: () => unknown, code: ErrorCode, ...mentions: string[]): FixpointError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected ${code}, but nothing was thrown`);
  assert.ok(caught instanceof FixpointError, `expected a FixpointError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, `expected ${code}, got ${caught.code}: ${caught.message}`);
  for (const text of mentions) assert.ok(caught.message.includes(text), `"${caught.message}" should mention "${text}"`);
  return caught;
}
