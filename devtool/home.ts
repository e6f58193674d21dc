/**
 * Where the devtool keeps the user's own files: FIXPOINT_HOME, or ~/.fixpoint.
 *
 *   ~/.fixpoint/
 *   ├── id_ed25519       the default identity (mode 0600); FIXPOINT_IDENTITY or --identity picks another
 *   ├── id_ed25519.pub
 *   └── known_nodes      node keys accepted with --accept-new, like ssh's known_hosts
 */
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { readIdentityFile, type KeyPair } from "../loader/index.js";

export function fixpointHome(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env["FIXPOINT_HOME"];
  return fromEnv !== undefined && fromEnv !== "" ? resolve(fromEnv) : join(homedir(), ".fixpoint");
}

export function identityPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined) return resolve(flag);
  const fromEnv = env["FIXPOINT_IDENTITY"];
  if (fromEnv !== undefined && fromEnv !== "") return resolve(fromEnv);
  return join(fixpointHome(env), "id_ed25519");
}

export function loadIdentity(flag: string | undefined): KeyPair {
  return readIdentityFile(identityPath(flag));
}

export function knownNodesPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(fixpointHome(env), "known_nodes");
}
