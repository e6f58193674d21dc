/**
 * Reading a loader's `--log-format json` output: one JSON object per line, arriving in chunks
 * that may split a line anywhere. Lines that are not JSON objects (a crash's stack, Node's own
 * warnings) go to `other`.
 */
import type { Readable } from "node:stream";

export function onLogLines(stream: Readable, each: (entry: Record<string, unknown>) => void, other: (line: string) => void = () => {}): void {
  let partial = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    for (const line of lines) {
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        other(line);
        continue;
      }
      if (typeof entry === "object" && entry !== null && !Array.isArray(entry)) each(entry as Record<string, unknown>);
      else other(line);
    }
  });
}
