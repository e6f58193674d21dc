/**
 * The trust file as the running node sees it: re-read when it changes on disk (as sshd reads
 * authorized_keys at each login), so `loader authorize` takes effect without a restart. If an
 * edit makes it malformed, the node keeps the last good version and logs the error with its line.
 */
import { statSync } from "node:fs";
import { toFixpointError } from "../protocol/errors.js";
import type { Logger } from "../protocol/log.js";
import type { Role } from "../protocol/messages.js";
import { readTrustFile, rolesOf, type TrustEntry } from "../protocol/trust-file.js";

export class TrustCache {
  private entries: TrustEntry[];
  private stamp: string;

  /** Reads the file now; throws TRUST_FILE_INVALID so that a node never starts on a bad file. */
  constructor(
    private readonly file: string,
    private readonly logger: Logger,
  ) {
    this.stamp = this.currentStamp();
    this.entries = readTrustFile(file);
  }

  private currentStamp(): string {
    const s = statSync(this.file, { throwIfNoEntry: false });
    return s === undefined ? "missing" : `${s.mtimeMs}:${s.size}:${s.ino}`;
  }

  private refresh(): void {
    const stamp = this.currentStamp();
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    try {
      this.entries = readTrustFile(this.file);
      this.logger.log("info", "trust.reloaded", { keys: this.entries.length });
    } catch (err) {
      const error = toFixpointError(err);
      this.logger.log("error", "trust.invalid", { code: error.code, reason: error.message, keeping: "last good trust file" });
    }
  }

  rolesOf(publicKey: Uint8Array): Role[] | null {
    this.refresh();
    return rolesOf(this.entries, publicKey);
  }

  /** The comment on the key's line (who it is, for the audit log), or "". */
  commentOf(publicKey: Uint8Array): string {
    const key = Buffer.from(publicKey);
    return this.entries.find((e) => key.equals(Buffer.from(e.publicKey)))?.comment ?? "";
  }
}
