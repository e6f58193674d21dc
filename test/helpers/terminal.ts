/**
 * A real terminal for tests: tmux runs a command on a pseudo-terminal, the test types with
 * send-keys and reads the screen with capture-pane. Each Terminal uses a tmux server of its
 * own (its own socket), killed by close().
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";

export const TMUX = "/usr/bin/tmux";
/** For `describe(..., { skip })`: why terminal tests cannot run here, or false. */
export const NO_TMUX: string | false = existsSync(TMUX) ? false : "tmux is not installed";

let count = 0;

export class Terminal {
  private readonly socket = `fixpoint-test-${process.pid}-${count++}`;

  private tmux(...args: string[]): string {
    return execFileSync(TMUX, ["-L", this.socket, ...args], { encoding: "utf8", timeout: 10_000 });
  }

  /** Starts `command` (a shell command line) in a new window of `columns` × `rows`. */
  open(session: string, command: string, columns = 150, rows = 50): void {
    this.tmux("new-session", "-d", "-s", session, "-x", String(columns), "-y", String(rows), command);
  }

  /** The screen as text (with `escapes`, its colour codes too); tmux trims trailing spaces. */
  screen(session: string, escapes = false): string {
    return this.tmux("capture-pane", "-p", ...(escapes ? ["-e"] : []), "-t", session);
  }

  async waitFor(session: string, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = this.screen(session);
      if (pattern.test(text)) return text;
      if (Date.now() > deadline) assert.fail(`no ${pattern} on the screen within ${timeoutMs} ms:\n${text}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Presses keys by tmux name ("C-c", "Enter", "Tab"). */
  keys(session: string, ...keys: string[]): void {
    this.tmux("send-keys", "-t", session, ...keys);
  }

  /** Types `text` literally. */
  type(session: string, text: string): void {
    this.tmux("send-keys", "-t", session, "-l", text);
  }

  close(): void {
    try {
      this.tmux("kill-server");
    } catch {
      // no server left
    }
    // tmux leaves its socket file behind.
    rmSync(join(process.env["TMUX_TMPDIR"] ?? "/tmp", `tmux-${process.getuid?.() ?? 0}`, this.socket), { force: true });
  }
}
