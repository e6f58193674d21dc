/**
 * Module limits have one definition, the loader's (DEFAULT_RUNTIME_LIMITS and
 * ISOLATE_LIMIT_BOUNDS in loader/protocol/runtime-ipc.ts): the runtime's defaults and the
 * bounds of a module's own limits come from it, and the texts that state them agree with it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_RUNTIME_LIMITS, ISOLATE_LIMIT_BOUNDS } from "../../loader/protocol/runtime-ipc.js";
import { DEFAULT_ISOLATE_LIMITS, moduleLimits } from "../../runtime/host/module-limits.js";
import { throwsCode } from "../helpers/expect-code.js";
import { ROOT } from "../helpers/processes.js";

const KEYS = ["memoryMb", "cpuMs", "asyncMs"] as const;

test("the runtime's default isolate limits are the loader's defaults", () => {
  assert.deepEqual(DEFAULT_ISOLATE_LIMITS, { memoryMb: DEFAULT_RUNTIME_LIMITS.memoryMb, cpuMs: DEFAULT_RUNTIME_LIMITS.cpuMs, asyncMs: DEFAULT_RUNTIME_LIMITS.asyncMs });
  assert.equal(moduleLimits(undefined, DEFAULT_ISOLATE_LIMITS, "m"), DEFAULT_ISOLATE_LIMITS);
});

test("a module's own limits are accepted at the loader's bounds and refused past them with MODULE_LOAD_FAILED naming them", () => {
  for (const key of KEYS) {
    const [least, most] = ISOLATE_LIMIT_BOUNDS[key];
    assert.equal(moduleLimits({ [key]: least }, DEFAULT_ISOLATE_LIMITS, "m")[key], least);
    assert.equal(moduleLimits({ [key]: most }, DEFAULT_ISOLATE_LIMITS, "m")[key], most);
    for (const bad of [least - 1, most + 1, least + 0.5]) {
      throwsCode(() => moduleLimits({ [key]: bad }, DEFAULT_ISOLATE_LIMITS, "m"), "MODULE_LOAD_FAILED", `.${key} must be an integer from ${least} to ${most}`);
    }
  }
  throwsCode(() => moduleLimits({ heapMb: 64 }, DEFAULT_ISOLATE_LIMITS, "m"), "MODULE_LOAD_FAILED", 'unknown key "heapMb"', "memoryMb, cpuMs, asyncMs");
});

test("the module API's doc comments and the README state the loader's bounds", () => {
  const api = readFileSync(join(ROOT, "runtime/api.ts"), "utf8");
  for (const key of KEYS) {
    const [least, most] = ISOLATE_LIMIT_BOUNDS[key];
    assert.ok(new RegExp(`, ${least}\\.\\.${most}\\b[^\\n]*\\n\\s*${key}\\?: number;`).test(api), `runtime/api.ts documents ${key} as ${least}..${most}`);
  }
  const readme = readFileSync(join(ROOT, "README.md"), "utf8").replace(/\s+/g, " ");
  const [memory, cpu, async] = KEYS.map((key) => ISOLATE_LIMIT_BOUNDS[key].join("–"));
  assert.ok(readme.includes(`memory ${memory}, CPU ${cpu}, async ${async}`), "the README states the bounds");
  for (const [flag, key] of [["--module-memory-mb", "memoryMb"], ["--module-cpu-ms", "cpuMs"], ["--module-async-ms", "asyncMs"]] as const) {
    assert.ok(new RegExp(`${flag}\`[^;)]*?default ${DEFAULT_RUNTIME_LIMITS[key]}\\b`).test(readme), `the README states ${flag}'s default as ${DEFAULT_RUNTIME_LIMITS[key]}`);
  }
});
