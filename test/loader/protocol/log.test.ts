/**
 * One shape of a log entry (loader/log.ts): `{ time, level, event, fields }` as a node publishes
 * it, and the same entry as a JSON log line with its fields beside the other three.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { entryOfLine, isLogEntry, logEntry, logLine, streamLogger } from "../../../loader/protocol/log.js";

test("an entry leaves out undefined fields, and a JSON log line reads back as the same entry", () => {
  const entry = logEntry("warn", "module.failed", { module: "counter", code: "MODULE_ERROR", ms: 3, gone: undefined });
  assert.deepEqual(Object.keys(entry), ["time", "level", "event", "fields"]);
  assert.deepEqual(entry.fields, { module: "counter", code: "MODULE_ERROR", ms: 3 });
  assert.ok(isLogEntry(entry));
  const line = JSON.parse(logLine(entry)) as Record<string, unknown>;
  assert.deepEqual(Object.keys(line), ["time", "level", "event", "module", "code", "ms"]);
  assert.deepEqual(entryOfLine(line), entry);
});

test("streamLogger's JSON lines are logLine's, and a field named like time, level or event cannot replace them", () => {
  const lines: string[] = [];
  streamLogger((l) => lines.push(l), "json").log("info", "node.started", { listen: "127.0.0.1:1", event: "spoofed", level: "error" });
  const line = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(line["event"], "node.started");
  assert.equal(line["level"], "info");
  assert.equal(entryOfLine(line)?.fields["listen"], "127.0.0.1:1");
});

test("isLogEntry refuses what is not an entry: a flat JSON line, an unknown level, an unknown key", () => {
  const entry = logEntry("info", "x");
  assert.equal(isLogEntry({ time: entry.time, level: "info", event: "x", module: "m" }), false);
  assert.equal(isLogEntry({ ...entry, level: "loud" }), false);
  assert.equal(isLogEntry({ ...entry, extra: 1 }), false);
  assert.equal(entryOfLine({ level: "info", event: "x" }), null);
});
