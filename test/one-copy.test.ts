/**
 * Facts written once (issue 10): copies of them drifted, so a test looks for copies. Each fact
 * has its one home; any other source file that spells it out is listed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ROOT } from "./helpers/processes.js";
import { DEFAULT_RUNTIME_LIMITS } from "../loader/protocol/runtime-ipc.js";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : /\.(ts|js|mjs)$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

const FILES = ["loader", "runtime", "devtool", "scripts"].flatMap((dir) => sources(join(ROOT, dir))).map((file) => [relative(ROOT, file), readFileSync(file, "utf8")] as const);

const FACTS: { fact: string; home: string; copy: RegExp; homeHasIt?: false }[] = [
  { fact: "the module-name pattern (MODULE_NAME)", home: "loader/protocol/messages.ts", copy: /\[a-z\]\[a-z0-9-\]/ },
  { fact: "the log levels (LOG_LEVELS)", home: "loader/protocol/log.ts", copy: /"debug",\s*"info",\s*"warn",\s*"error"/ },
  // Its home says `HEARTBEAT_MISSES = 3`; a copy multiplies an interval by a number.
  { fact: "the heartbeat's miss count (HEARTBEAT_MISSES)", home: "loader/protocol/limits.ts", copy: /heartbeat\w*\s*\*\s*\d|\d\s*\*\s*\w*heartbeat/i, homeHasIt: false },
  { fact: "the esbuild options for isolate code (ISOLATE_SCRIPT_OPTIONS)", home: "runtime/isolate/script-build.js", copy: /platform:\s*"neutral"|format:\s*"iife"/ },
  { fact: "the default module limits (DEFAULT_RUNTIME_LIMITS)", home: "loader/protocol/runtime-ipc.ts", copy: new RegExp(`memoryMb:\\s*${DEFAULT_RUNTIME_LIMITS.memoryMb}\\b`) },
];

for (const { fact, home, copy, homeHasIt } of FACTS) {
  test(`${fact} is written only in ${home}`, () => {
    const found = FILES.filter(([, text]) => copy.test(text)).map(([file]) => file);
    assert.deepEqual(found, homeHasIt === false ? [] : [home]);
  });
}
