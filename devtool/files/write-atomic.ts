/**
 * Crash-safe writes for the files the devtool writes (a new node's data directory, trust and
 * known-node files, a project's releases), synchronously: the same steps as the loader's
 * `writeFileAtomicAsync` (loader/store/atomic.ts) — a temporary file beside the target, fsync,
 * rename over the target, fsync the folder — so a crash leaves the old file or the new one.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { tempFileFor } from "../../loader/index.js";

export function writeFileAtomic(file: string, data: Uint8Array | string, mode = 0o644): void {
  const tmp = tempFileFor(file);
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const fd = openSync(tmp, "wx", mode);
  try {
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
  fsyncDir(dirname(file));
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
