/**
 * A node's data directory:
 *
 *   DATA/
 *   ├── config.json     name, cluster, listen address, mode (config.ts)
 *   ├── node.key        the node's Ed25519 identity, mode 0600
 *   ├── node.pub        its public key, one line
 *   ├── trust           the keys this node accepts and their roles (trust-file.ts)
 *   ├── audit.log       every REPL evaluation in production mode, appended and fsynced before
 *   │                   it runs, then its outcome (audit-log.ts); created on first use
 *   ├── node.lock       the pid of the node running on this directory, while it runs
 *   └── store/          bundles by digest, the current-module table (bundle-store.ts) and
 *                       each module's saved state (state-store.ts)
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { FixpointError } from "../protocol/errors.js";
import type { KeyPair } from "../protocol/crypto/ed25519.js";
import { readIdentityFile } from "../protocol/crypto/keys.js";

export interface DataDirPaths {
  dir: string;
  config: string;
  key: string;
  pub: string;
  trust: string;
  store: string;
  audit: string;
  lock: string;
}

export function dataDirPaths(dir: string): DataDirPaths {
  const abs = resolve(dir);
  return { dir: abs, config: join(abs, "config.json"), key: join(abs, "node.key"), pub: join(abs, "node.pub"), trust: join(abs, "trust"), store: join(abs, "store"), audit: join(abs, "audit.log"), lock: join(abs, "node.lock") };
}

export function readNodeIdentity(paths: DataDirPaths): KeyPair {
  return readIdentityFile(paths.key);
}


/** Data directories held by nodes in this process (a pid alone cannot tell two of them apart). */
const heldHere = new Set<string>();

/**
 * Takes the data directory for one running node: two nodes writing one store would interleave
 * their tables and states. The lock file holds the owner's pid; one left by a process that no
 * longer runs (`kill -9`, a reboot) is taken over. Returns the release function.
 */
export function lockDataDir(paths: DataDirPaths): () => void {
  const busy = (pid: number) =>
    new FixpointError("NODE_LOCKED", `${paths.dir} is in use by a running node (pid ${pid}); stop it first, or start this one on another --data directory`);
  if (heldHere.has(paths.dir)) throw busy(process.pid);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(paths.lock, "wx", 0o644);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw err;
      const pid = Number.parseInt(readFileSync(paths.lock, "utf8"), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) throw busy(pid);
      rmSync(paths.lock, { force: true }); // left by a node that is gone
    }
  }
  heldHere.add(paths.dir);
  return () => {
    heldHere.delete(paths.dir);
    rmSync(paths.lock, { force: true });
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
