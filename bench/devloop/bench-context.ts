/** What the dev-loop benchmark's sections share: a scratch folder, the developer identity, the goals. */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type ClientConnection } from "../../devtool/client/index.js";
import { formatIdentity, formatPublicKeyLine, generateKeyPair, type KeyPair } from "../../loader/index.js";
import { writeFileAtomic } from "../../devtool/files/write-atomic.js";
import { ROOT, type FixpointNode } from "./processes.js";

export interface GoalRow {
  goal: string;
  measured: string;
  met: boolean;
}

export interface BenchContext {
  /** A fresh temporary folder, removed at the end. */
  work: string;
  /** FIXPOINT_HOME for every devtool run: holds the identity. */
  home: string;
  /** The developer key, authorized (dev, observe) on every node. */
  identity: KeyPair;
  goals: GoalRow[];
  out(text?: string): void;
}

export function createContext(): BenchContext {
  // Not under the system temp dir: esbuild lists every ancestor directory of the files it
  // builds on every rebuild, and a shared machine's /tmp can hold thousands of entries (seen
  // here: 4,300 entries made a 2 ms rebuild take 8 ms). A user's project sits in a folder like
  // this one, under a home or work directory.
  const work = mkdtempSync(join(ROOT, ".bench-work-"));
  const home = join(work, "home");
  const identity = generateKeyPair();
  mkdirSync(home, { recursive: true, mode: 0o700 });
  writeFileAtomic(join(home, "id_ed25519"), formatIdentity(identity), 0o600);
  return { work, home, identity, goals: [], out: (text = "") => console.log(text) };
}

/** A project folder whose fixpoint.json lists `nodes` with their keys pinned. */
export function writeProject(dir: string, nodes: FixpointNode[]): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "fixpoint.json"),
    JSON.stringify({ cluster: "default", nodes: nodes.map((n) => ({ name: n.name, address: n.address, key: formatPublicKeyLine(n.key) })) }, null, 2) + "\n",
  );
}

/** A channel connection to `node`, checking its key. */
export function dial(ctx: BenchContext, node: FixpointNode): Promise<ClientConnection> {
  const at = node.address.lastIndexOf(":");
  return connect({
    host: node.address.slice(0, at),
    port: Number(node.address.slice(at + 1)),
    identity: ctx.identity,
    checkNodeKey: (key) => {
      if (!Buffer.from(key).equals(Buffer.from(node.key))) throw new Error(`bench: node ${node.name} proved another key`);
    },
  });
}

/** The app module's URL on a node: "/app" routes to module "app". */
export function appUrl(node: FixpointNode): URL {
  return new URL("app", node.httpUrl);
}
