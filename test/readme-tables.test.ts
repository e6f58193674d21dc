/**
 * The README's limits table and its table of rights are checked against the constants and the
 * policy they describe (issue 13), as test/loader/protocol/errors.test.ts does for error codes: a number
 * changed in code and not in the README, or a row lost, fails here.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { isErrorCode } from "../loader/protocol/errors.js";
import * as limits from "../loader/protocol/limits.js";
import { MAX_COMPLETE_SOURCE, MAX_EVAL_SOURCE, REQUEST_TYPES, ROLES, MODES, bundleSchema, releaseSchema } from "../loader/protocol/messages.js";
import { DEFAULT_RUNTIME_LIMITS } from "../loader/protocol/runtime-ipc.js";
import { MAX_RELEASE_MODULES, MAX_RELEASE_NOTES } from "../loader/protocol/release-manifest.js";
import { POLICY } from "../loader/trust/policy.js";
import { MAX_TIMERS } from "../runtime/host/module-limits.js";
import { ROOT } from "./helpers/processes.js";
import { LOADER_NODE_FLAGS } from "../loader/index.js";

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const loaderCli = readFileSync(join(ROOT, "devtool/loader-cli/commands.ts"), "utf8");

/** The rows of the first table after `heading`, as arrays of trimmed cells (header and rule left out). */
function tableAfter(heading: string): string[][] {
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `the README has a "${heading}" section`);
  const lines = readme.slice(start).split("\n");
  const first = lines.findIndex((l) => l.startsWith("|"));
  const rows: string[][] = [];
  for (let i = first + 2; i < lines.length && lines[i]!.startsWith("|"); i++) {
    // Split on unescaped pipes only.
    rows.push(lines[i]!.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()));
  }
  return rows;
}

/** Every constant the limits table must list, by the name its last column gives. */
const CONSTANTS: Record<string, number> = {
  MAX_HANDSHAKE_FRAME_BYTES: limits.MAX_HANDSHAKE_FRAME_BYTES,
  DEFAULT_MAX_FRAME_BYTES: limits.DEFAULT_MAX_FRAME_BYTES,
  MAX_RECORD_MESSAGES: limits.MAX_RECORD_MESSAGES,
  MAX_CBOR_DEPTH: limits.MAX_CBOR_DEPTH,
  MAX_CBOR_ITEMS: limits.MAX_CBOR_ITEMS,
  MAX_IN_FLIGHT: limits.MAX_IN_FLIGHT,
  "bundleSchema.manifest": bundleSchema.fields.manifest.maxLength,
  "releaseSchema.manifest": releaseSchema.fields.manifest.maxLength,
  MAX_RELEASE_MODULES,
  MAX_RELEASE_NOTES,
  "DEFAULT_RUNTIME_LIMITS.maxStateBytes": DEFAULT_RUNTIME_LIMITS.maxStateBytes,
  DEFAULT_MAX_CONNECTIONS: limits.DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_PENDING_HANDSHAKES: limits.DEFAULT_MAX_PENDING_HANDSHAKES,
  DEFAULT_HANDSHAKE_TIMEOUT_MS: limits.DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS: limits.DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_FRAME_TIMEOUT_MS: limits.DEFAULT_FRAME_TIMEOUT_MS,
  DEFAULT_MAX_QUEUED_BYTES: limits.DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_DRAIN_TIMEOUT_MS: limits.DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS: limits.DEFAULT_HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_MISSES: limits.HEARTBEAT_MISSES,
  "DEFAULT_RUNTIME_LIMITS.cpuMs": DEFAULT_RUNTIME_LIMITS.cpuMs,
  "DEFAULT_RUNTIME_LIMITS.asyncMs": DEFAULT_RUNTIME_LIMITS.asyncMs,
  "DEFAULT_RUNTIME_LIMITS.memoryMb": DEFAULT_RUNTIME_LIMITS.memoryMb,
  MAX_TIMERS,
  MAX_EVAL_SOURCE,
  MAX_COMPLETE_SOURCE,
};

describe("the README's limits table", () => {
  const rows = tableAfter("## Limits");

  test("lists every limit once, each with the default its constant has", () => {
    const named = rows.map((r) => /^`([A-Za-z_.]+)`$/.exec(r[4] ?? "")?.[1]);
    assert.deepEqual(named.filter((n) => n === undefined), [], "every row names its constant in the last column");
    assert.deepEqual([...named].sort(), Object.keys(CONSTANTS).sort(), "one row per constant, no other");
    for (const row of rows) {
      const name = /^`(.+)`$/.exec(row[4]!)![1]!;
      const given = /`(\d+)`/.exec(row[1]!);
      assert.ok(given !== null, `${name}: the default column gives the number in backticks`);
      assert.equal(Number(given[1]), CONSTANTS[name], `${name}: the README says ${given[1]}`);
    }
  });

  test("names only codes that exist, and only loader flags that exist", () => {
    for (const row of rows) {
      for (const [, code] of row[3]!.matchAll(/`([A-Z][A-Z_]+)`/g)) assert.ok(isErrorCode(code!) || Object.hasOwn(CONSTANTS, code!), `${row[0]}: ${code} is not an error code`);
      assert.match(row[3]!, /`[A-Z][A-Z_]+`/, `${row[0]}: says which code a client sees`);
      for (const [, flag] of row[2]!.matchAll(/`loader start (--[a-z-]+)`/g)) assert.ok(loaderCli.includes(`"${flag!.slice(2)}"`), `${row[0]}: loader start has no ${flag}`);
    }
  });
});

describe("the README's table of rights", () => {
  const section = "## Security";
  const rows = tableAfter(section).filter((r) => /^`[a-z]+`$/.test(r[0] ?? ""));
  const roles = (cell: string): string[] => (cell === "any" ? [...ROLES] : cell === "none" ? [] : [...cell.matchAll(/`([a-z]+)`/g)].map((m) => m[1]!));

  test("has one row per request type, and each says what POLICY says in each mode", () => {
    assert.deepEqual(rows.map((r) => r[0]!.slice(1, -1)).sort(), [...REQUEST_TYPES].sort());
    assert.deepEqual([...MODES], ["dev", "production"], "the columns are dev, production");
    for (const row of rows) {
      const type = row[0]!.slice(1, -1) as keyof typeof POLICY;
      MODES.forEach((mode, i) => assert.deepEqual(roles(row[i + 1]!).sort(), [...POLICY[type][mode]].sort(), `${type} in ${mode} mode`));
    }
  });
});

describe("the README's service units", () => {
  test("start the loader with the Node.js flags a long-running loader needs (LOADER_NODE_FLAGS)", () => {
    const systemd = readme.split("\n").find((l) => l.startsWith("ExecStart="));
    const kubernetes = readme.split("\n").find((l) => l.includes('args: ["node"'));
    for (const flag of LOADER_NODE_FLAGS) {
      assert.ok(systemd?.includes(` ${flag} `), `the systemd unit's ExecStart passes ${flag}`);
      assert.ok(kubernetes?.includes(`"${flag}"`), `the Kubernetes example's args pass ${flag}`);
    }
  });
});
