/**
 * Structured logging for library code: one event name plus fields. Library code never writes
 * to the terminal itself; the CLI decides the format (text or JSON lines) and the stream.
 *
 * A log entry has one shape, LogEntry: `{ time, level, event, fields }`. It crosses the
 * channel as it is (topic "log", read by `devtool logs`); a JSON log line
 * (`loader start --log-format json`) is the same entry with its fields beside the other three,
 * as log shippers expect, and `entryOfLine` reads one back.
 */
import { check, data, object, oneOf, record, string, type Infer } from "./schema.js";

/** Levels, least severe first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** The one shape of a log entry, as a node publishes it and `devtool logs` reads it. */
export const logEntrySchema = object({
  /** ISO 8601, UTC, by the node's clock. */
  time: string(64),
  level: oneOf(LOG_LEVELS),
  event: string(256),
  fields: record(data(), 1000),
});
export type LogEntry = Infer<typeof logEntrySchema>;

/** An entry for `event` now, without the fields that are undefined. */
export function logEntry(level: LogLevel, event: string, fields: LogFields = {}): LogEntry {
  const kept: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) kept[k] = v;
  return { time: new Date().toISOString(), level, event, fields: kept };
}

/** Whether `value` is a log entry (one that came over the channel, say). */
export function isLogEntry(value: unknown): value is LogEntry {
  try {
    check(logEntrySchema, value, "entry");
    return true;
  } catch {
    return false;
  }
}

/** An entry as one JSON log line: time, level and event first, then its fields (a field named like one of those three is left out). */
export function logLine(entry: LogEntry): string {
  const line: Record<string, unknown> = { time: entry.time, level: entry.level, event: entry.event };
  for (const [k, v] of Object.entries(entry.fields)) if (!Object.hasOwn(line, k)) line[k] = v;
  return JSON.stringify(line);
}

/** A parsed JSON log line as an entry again, or null if it is not one. */
export function entryOfLine(line: Record<string, unknown>): LogEntry | null {
  const { time, level, event, ...fields } = line;
  const entry = { time, level, event, fields };
  return isLogEntry(entry) ? entry : null;
}

export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
}

export const silentLogger: Logger = { log() {} };

/** A logger writing one line per event: "time level event k=v …" or a JSON object. */
export function streamLogger(write: (line: string) => void, format: "text" | "json", minLevel: LogLevel = "info"): Logger {
  const min = LOG_LEVELS.indexOf(minLevel);
  return {
    log(level, event, fields = {}) {
      if (LOG_LEVELS.indexOf(level) < min) return;
      const entry = logEntry(level, event, fields);
      if (format === "json") {
        write(logLine(entry) + "\n");
        return;
      }
      const parts = Object.entries(entry.fields)
        .map(([k, v]) => `${k}=${typeof v === "string" && /[\s"=]/.test(v) ? JSON.stringify(v) : String(v)}`);
      write(`${entry.time} ${level.padEnd(5)} ${event}${parts.length > 0 ? " " + parts.join(" ") : ""}\n`);
    },
  };
}
