import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FixpointError } from "../../../loader/protocol/errors.js";
import { MODES, REQUEST_TYPES, ROLES, type Mode, type RequestType, type Role } from "../../../loader/protocol/messages.js";
import { authorize, POLICY } from "../../../loader/trust/policy.js";

function allowed(type: RequestType, mode: Mode, roles: readonly Role[]): boolean {
  try {
    authorize(type, mode, roles);
    return true;
  } catch (err) {
    assert.ok(err instanceof FixpointError, `expected a FixpointError, got ${String(err)}`);
    assert.equal(err.code, "FORBIDDEN", err.message);
    return false;
  }
}

function forbiddenMessage(type: RequestType, mode: Mode, roles: readonly Role[]): string {
  try {
    authorize(type, mode, roles);
  } catch (err) {
    assert.ok(err instanceof FixpointError);
    assert.equal(err.code, "FORBIDDEN");
    return err.message;
  }
  assert.fail(`${type} in ${mode} mode with ${roles.join(",")} was allowed`);
}

describe("authorize", () => {
  // The table for the requests that touch code and state, one role at a time: what each role
  // may do in each mode. (Request types added later get their own rows here when they matter.)
  const expected: Partial<Record<RequestType, Record<Mode, readonly Role[]>>> = {
    ping: { dev: ROLES, production: ROLES },
    status: { dev: ROLES, production: ROLES },
    push: { dev: ["dev"], production: [] },
    subscribe: { dev: ROLES, production: ROLES },
    call: { dev: ["dev", "admin"], production: ["admin"] },
    eval: { dev: ["dev", "admin"], production: ["admin"] },
    complete: { dev: ["dev", "admin"], production: ["admin"] },
  };

  test("the policy has a row for every request type of the protocol, and no other", () => {
    assert.deepEqual(Object.keys(POLICY).sort(), [...REQUEST_TYPES].sort());
  });

  for (const [type, row] of Object.entries(expected) as [RequestType, Record<Mode, readonly Role[]>][]) {
    for (const mode of MODES) {
      for (const role of ROLES) {
        const ok = row[mode].includes(role);
        test(`${ok ? "lets" : "refuses"} a ${role} key ${type} in ${mode} mode`, () => {
          assert.equal(allowed(type, mode, [role]), ok);
        });
      }
    }
  }

  test("an observe key can status and ping but not push", () => {
    assert.equal(allowed("status", "dev", ["observe"]), true);
    assert.equal(allowed("ping", "dev", ["observe"]), true);
    assert.match(forbiddenMessage("push", "dev", ["observe"]), /push in dev mode needs one of the roles dev; this key has observe/);
  });

  test("a key with several roles is allowed if any of them allows the request", () => {
    assert.equal(allowed("push", "dev", ["observe", "dev"]), true);
    assert.equal(allowed("push", "dev", ["release", "admin", "observe"]), false);
  });

  test("nobody can push to a node in production mode, and the refusal says to use a release", () => {
    const message = forbiddenMessage("push", "production", ROLES);
    assert.match(message, /production mode/);
    assert.match(message, /release/);
  });

  test("refuses a key with no roles even for status, saying it has none", () => {
    assert.match(forbiddenMessage("status", "dev", []), /this key has none/);
    assert.equal(allowed("ping", "production", []), false);
  });

  test("refuses a request type the policy does not list, in every mode (fails closed)", () => {
    const unlisted = "reboot" as unknown as RequestType;
    for (const mode of MODES) assert.match(forbiddenMessage(unlisted, mode, ROLES), /reboot is not allowed/);
  });
});
