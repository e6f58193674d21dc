/**
 * The node's audit log of REPL evaluations in production mode (DATA/audit.log), one JSON object
 * per line. An evaluation is appended and fsynced *before* it runs, so that code which takes the
 * node down is still on record; its outcome follows as a second line with the same `id`:
 *
 *   {"time":"…","event":"repl.eval","id":"…","key":"SHA256:…","name":"alice@laptop","remote":"…","module":null,"source":"…"}
 *   {"time":"…","event":"repl.outcome","id":"…","outcome":"ok"|"threw"|"error","code":"…","text":"…"}
 *
 * A write that fails is AUDIT_LOG_FAILED, and the evaluation does not run: production code is
 * never run unrecorded.
 */
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { FixpointError } from "../protocol/errors.js";

export interface AuditedEval {
  /** Fingerprint of the key that asked. */
  key: string;
  /** The comment on that key's line in the trust file (usually who it is), or "". */
  name: string;
  remote: string;
  /** The module evaluated in, or null for the connection's scratch context. */
  module: string | null;
  source: string;
}

export type AuditOutcome = { outcome: "ok" | "threw"; text: string } | { outcome: "error"; code: string; text: string };

/** Longest text of an outcome kept in the log; the source is always kept whole. */
const OUTCOME_TEXT_MAX = 2000;

export class AuditLog {
  constructor(readonly file: string) {}

  /** Appends the evaluation and fsyncs; returns the id its outcome is recorded under. Throws AUDIT_LOG_FAILED. */
  recordEval(entry: AuditedEval): string {
    const id = randomUUID();
    this.append({ time: new Date().toISOString(), event: "repl.eval", id, ...entry });
    return id;
  }

  /** Appends the outcome of evaluation `id`. Throws AUDIT_LOG_FAILED. */
  recordOutcome(id: string, outcome: AuditOutcome): void {
    this.append({ time: new Date().toISOString(), event: "repl.outcome", id, ...outcome, text: outcome.text.slice(0, OUTCOME_TEXT_MAX) });
  }

  private append(record: Record<string, unknown>): void {
    let fd: number | undefined;
    try {
      // O_APPEND: each line lands whole at the end even with several writers; 0600: sources may hold secrets.
      fd = openSync(this.file, "a", 0o600);
      writeSync(fd, JSON.stringify(record) + "\n");
      fsyncSync(fd);
    } catch (err) {
      throw new FixpointError("AUDIT_LOG_FAILED", `cannot append to the audit log ${this.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); nothing was run`, { cause: err });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
}
