/**
 * Structured logging for library code: one event name plus fields. Library code never writes
 * to the terminal itself; the CLI decides the format (text or JSON lines) and the stream.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
}

export const silentLogger: Logger = { log() {} };

/** A logger writing one line per event: "time level event k=v …" or a JSON object. */
export function streamLogger(write: (line: string) => void, format: "text" | "json", minLevel: LogLevel = "info"): Logger {
  const order: LogLevel[] = ["debug", "info", "warn", "error"];
  const min = order.indexOf(minLevel);
  return {
    log(level, event, fields = {}) {
      if (order.indexOf(level) < min) return;
      const time = new Date().toISOString();
      if (format === "json") {
        write(JSON.stringify({ time, level, event, ...fields }) + "\n");
        return;
      }
      const parts = Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${typeof v === "string" && /[\s"=]/.test(v) ? JSON.stringify(v) : String(v)}`);
      write(`${time} ${level.padEnd(5)} ${event}${parts.length > 0 ? " " + parts.join(" ") : ""}\n`);
    },
  };
}
