import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CODES, EXIT, FixpointError, hasCode, isErrorCode, toFixpointError } from "../../../loader/index.js";
import { ROOT } from "../../helpers/processes.js";

test("every error code is listed in the README with what to do about it", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const missing = Object.keys(ERROR_CODES).filter((code) => !new RegExp("^\\|\\s*`" + code + "`\\s*\\|", "m").test(readme));
  assert.deepEqual(missing, []);
});

test("the README lists no code that does not exist", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Error codes"));
  const listed = [...section.matchAll(/^\|\s*`([A-Z_]+)`\s*\|/gm)].map((m) => m[1]!);
  assert.ok(listed.length > 0);
  assert.deepEqual(listed.filter((c) => !isErrorCode(c)), []);
});

test("errors cross boundaries as data and come back with the same code", () => {
  const err = new FixpointError("TRUST_FILE_INVALID", "bad line", { location: { file: "trust", line: 3 } });
  const copy = FixpointError.fromData(JSON.parse(JSON.stringify(err.toData())));
  assert.equal(copy.code, "TRUST_FILE_INVALID");
  assert.deepEqual(copy.location, { file: "trust", line: 3 });
  assert.ok(hasCode(copy, "TRUST_FILE_INVALID"));
});

test("exit statuses: usage 2, unreachable 3, failed 1", () => {
  assert.equal(new FixpointError("USAGE", "x").exitStatus, EXIT.usage);
  assert.equal(new FixpointError("NODE_KEY_MISMATCH", "x").exitStatus, EXIT.unreachable);
  assert.equal(new FixpointError("FORBIDDEN", "x").exitStatus, EXIT.failed);
});

test("anything thrown that is not coded becomes INTERNAL, keeping its message", () => {
  const err = toFixpointError(new TypeError("boom"));
  assert.equal(err.code, "INTERNAL");
  assert.equal(err.message, "boom");
});
