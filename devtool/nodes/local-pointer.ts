/**
 * How the other devtool commands find the embedded node of a running `devtool dev`: while it
 * runs, dev writes PROJECT/.fixpoint/local.json with the node's channel address, its key and
 * dev's pid, and removes it when it stops. `devtool status`, `call`, `logs` and `repl` in that
 * project, with no nodes in fixpoint.json and no --node, then talk to that node as "local",
 * with the project's dev identity (the key dev authorized there) — as a second terminal next
 * to `npm start` expects. A file left by a dev that died is ignored (its pid is gone).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeBase64Exact, parseHostPort, readIdentityFile, type HostPort, type KeyPair } from "../../loader/index.js";
import type { Target } from "./targets.js";

export const LOCAL_NODE_LABEL = "local";

interface Pointer {
  address: string;
  key: string;
  pid: number;
}

function pointerFile(stateDir: string): string {
  return join(stateDir, "local.json");
}

export function writeLocalPointer(stateDir: string, address: HostPort, key: Uint8Array): void {
  const pointer: Pointer = { address: `${address.host}:${address.port}`, key: Buffer.from(key).toString("base64"), pid: process.pid };
  writeFileSync(pointerFile(stateDir), JSON.stringify(pointer) + "\n", { mode: 0o600 });
}

export function removeLocalPointer(stateDir: string): void {
  rmSync(pointerFile(stateDir), { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The running local node of the project whose state folder is `stateDir`, with the identity to use; null if none runs. */
export function findLocalNode(stateDir: string): { target: Target; identity: KeyPair } | null {
  const file = pointerFile(stateDir);
  const keyFile = join(stateDir, "dev.key");
  if (!existsSync(file) || !existsSync(keyFile)) return null;
  let pointer: Partial<Pointer>;
  try {
    pointer = JSON.parse(readFileSync(file, "utf8")) as Partial<Pointer>;
  } catch {
    return null;
  }
  if (typeof pointer.pid !== "number" || !alive(pointer.pid) || typeof pointer.address !== "string" || typeof pointer.key !== "string") return null;
  const address = parseHostPort(pointer.address);
  const key = decodeBase64Exact(pointer.key, 32);
  if (address === null || key === null) return null;
  return { target: { label: LOCAL_NODE_LABEL, address, pinned: key }, identity: readIdentityFile(keyFile) };
}
