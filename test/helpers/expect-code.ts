import assert from "node:assert/strict";
import { FixpointError, type ErrorCode } from "../../loader/protocol/errors.js";
import type { CliResult } from "./processes.js";

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

/** Asserts that `fn` throws CONFIG_INVALID for `file`, saying so first, and mentioning each of `mentions`. */
export function configRejects(fn: () => unknown, file: string, ...mentions: string[]): FixpointError {
  const err = throwsCode(fn, "CONFIG_INVALID", ...mentions);
  assert.deepEqual(err.location, { file });
  assert.ok(err.message.startsWith(`${file}: `), `"${err.message}" should start with the file`);
  return err;
}

/** Asserts that a CLI run failed with `status` and printed `error [NODE: ]CODE: ...` mentioning each of `mentions`. */
export function cliFails(r: CliResult, status: number, code: string, ...mentions: string[]): void {
  assert.equal(r.status, status, `exit status; stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  assert.match(r.stderr, new RegExp(`^error (\\S+: )?${code}: `, "m"), r.stderr);
  for (const m of mentions) assert.ok(r.stderr.includes(m), `stderr should mention ${JSON.stringify(m)}:\n${r.stderr}`);
}
