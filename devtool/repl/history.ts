/**
 * REPL history per node, kept across sessions: ~/.fixpoint/repl_history/<node> (FIXPOINT_HOME
 * moves it), one entered line per line, newest last, mode 0600 (inputs can hold secrets).
 * Lines are appended as they are entered, so two sessions on one node both keep theirs.
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fixpointHome } from "../home.js";

/** Lines kept, and offered to readline. */
export const HISTORY_SIZE = 1000;

export function historyPath(nodeLabel: string, env: NodeJS.ProcessEnv = process.env): string {
  // The label is a name from fixpoint.json or HOST:PORT: make it one safe file name.
  return join(fixpointHome(env), "repl_history", nodeLabel.replace(/[^A-Za-z0-9._-]/g, "_"));
}

export class History {
  constructor(readonly file: string) {}

  /** Newest first, as readline wants it; trims the file when it has grown past twice the size. */
  load(): string[] {
    let lines: string[];
    try {
      lines = readFileSync(this.file, "utf8").split("\n").filter((l) => l.trim() !== "");
    } catch {
      return [];
    }
    if (lines.length > HISTORY_SIZE * 2) {
      lines = lines.slice(-HISTORY_SIZE);
      try {
        writeFileSync(this.file, lines.join("\n") + "\n", { mode: 0o600 });
      } catch {
        // a read-only home keeps its long file
      }
    }
    return lines.slice(-HISTORY_SIZE).reverse();
  }

  /** Appends one entered line; a failure to write is not worth ending the session for. */
  add(line: string): void {
    if (line.trim() === "") return;
    try {
      mkdirSync(join(this.file, ".."), { recursive: true, mode: 0o700 });
      appendFileSync(this.file, line.replace(/\n/g, " ") + "\n", { mode: 0o600 });
    } catch {
      // see above
    }
  }
}
