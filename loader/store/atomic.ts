/**
 * Crash-safe file writes: write a temporary file beside the target, fsync it, rename it over
 * the target, fsync the directory. A crash at any point leaves either the old file or the new
 * one, never a torn one. Temporary files left by a crash start with ".tmp-" and are ignored.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export function writeFileAtomic(file: string, data: Uint8Array | string, mode = 0o644): void {
  const dir = dirname(file);
  const tmp = join(dir, `.tmp-${basename(file)}-${randomBytes(6).toString("hex")}`);
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
  fsyncDir(dir);
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The same, without blocking the event loop: the node writes bundles and its module table on
 * the push path, where a synchronous fsync would stall every other connection meanwhile.
 */
export async function writeFileAtomicAsync(file: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
  const dir = dirname(file);
  const tmp = join(dir, `.tmp-${basename(file)}-${randomBytes(6).toString("hex")}`);
  const handle = await open(tmp, "wx", mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  const dirHandle = await open(dir, "r");
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
