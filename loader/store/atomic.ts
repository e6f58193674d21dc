/**
 * Crash-safe file writes: write a temporary file beside the target, fsync it, rename it over
 * the target, fsync the directory. A crash at any point leaves either the old file or the new
 * one, never a torn one. Temporary files left by a crash start with ".tmp-" and are ignored.
 */
import { close, closeSync, fsync, fsyncSync, open, openSync, rename, renameSync, unlink, unlinkSync, write, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
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
 * the push path, where a synchronous fsync would stall every other connection meanwhile. Built
 * on fs's callbacks rather than fs/promises' FileHandle, which cost the loader's thread about
 * half as much again per write (bench/.work measurements, issue 10's CPU per push).
 */
export async function writeFileAtomicAsync(file: string, data: Uint8Array | string, mode = 0o644, durable = true): Promise<void> {
  const dir = dirname(file);
  const tmp = join(dir, `.tmp-${basename(file)}-${randomBytes(6).toString("hex")}`);
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const fd = await call<number>((cb) => open(tmp, "wx", mode, cb));
  try {
    for (let offset = 0; offset < bytes.length; ) offset += await call<number>((cb) => write(fd, bytes, offset, bytes.length - offset, null, cb));
    if (durable) await call((cb) => fsync(fd, cb));
  } catch (err) {
    await call((cb) => close(fd, cb)).catch(() => {});
    await call((cb) => unlink(tmp, cb)).catch(() => {});
    throw err;
  }
  await call((cb) => close(fd, cb));
  try {
    await call((cb) => rename(tmp, file, cb));
  } catch (err) {
    await call((cb) => unlink(tmp, cb)).catch(() => {});
    throw err;
  }
  if (durable) await syncFiles([dir]);
}

/**
 * fsyncs files (or directories) written earlier without it: `durable = false` above leaves a
 * whole file under its name for a process that dies, but not yet for a machine that does.
 * Files gone since are skipped.
 */
export async function syncFiles(paths: string[]): Promise<void> {
  for (const path of paths) {
    const fd = await call<number>((cb) => open(path, "r", cb)).catch((err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? null : Promise.reject(err)));
    if (fd === null) continue;
    try {
      await call((cb) => fsync(fd, cb));
    } finally {
      await call((cb) => close(fd, cb));
    }
  }
}

/** One fs callback call as a promise of its result. */
function call<T = void>(start: (cb: (err: NodeJS.ErrnoException | null, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => start((err, value) => (err === null ? resolve(value as T) : reject(err))));
}
