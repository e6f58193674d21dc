/**
 * For the devtool's production tests: nodes in production mode with one key of every role, a
 * project folder naming them, the devtool run without blocking the test's event loop (the nodes'
 * log pipes keep draining meanwhile), and a counter module in versions.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatIdentity, formatPublicKeyLine, generateKeyPair, type Data, type KeyPair, type ResultOf, type Role } from "../../loader/index.js";
import { ROOT, startNode, tempDir, type CliResult, type NodeProcess } from "./processes.js";

export const ALL_ROLES: Role[] = ["dev", "observe", "release", "admin"];

/** A counter module, unhealthy once `sicken` is called; `extra` replaces its health check. */
export const counter = (version: string, extra = "") => `import { defineModule } from "fixpoint";
export default defineModule({
  version: ${JSON.stringify(version)},
  state: { hits: 0, poisoned: false, sick: false },
  migrate: (old: any) => ({ hits: old.hits ?? old.count ?? 0, poisoned: old.poisoned === true, sick: old.sick === true }),
  functions: {
    hit: (ctx) => ++ctx.state.hits,
    hits: (ctx) => ctx.state.hits,
    version: () => ${JSON.stringify(version)},
    poison: (ctx) => { ctx.state.poisoned = true; },
    sicken: (ctx) => { ctx.state.sick = true; },
  },
  ${extra || 'health: (ctx) => ctx.state.sick === true ? { ok: false, detail: "sick" } : true,'}
});
`;

/** Version 2 keeps its count under another name: its migrate hook moves it. */
export const counterV2 = `import { defineModule } from "fixpoint";
export default defineModule({
  version: "2",
  state: { count: 0 },
  migrate: (old: any) => ({ count: old.count ?? old.hits ?? 0 }),
  functions: { count: (ctx) => ctx.state.count, hits: (ctx) => ctx.state.count, version: () => "2" },
});
`;

export interface Project {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** Runs the built devtool in the project folder to its end. */
  devtool(args: string[]): Promise<CliResult>;
  /** Writes counter.ts. */
  write(source: string): void;
}

/** Runs the built devtool to completion without blocking the event loop. */
export function devtool(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CliResult> {
  const child = spawn(process.execPath, [join(ROOT, "dist/devtool.js"), ...args], { cwd: options.cwd, env: { ...process.env, NO_COLOR: "1", ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const timer = setTimeout(() => child.kill("SIGKILL"), 150_000);
  return new Promise((resolve) => child.on("close", (status) => (clearTimeout(timer), resolve({ status, stdout, stderr }))));
}

/** A project folder with `counter.ts` in its modules, the nodes as n1, n2… in fixpoint.json, and `key` as the user's identity. */
export function projectFor(nodes: NodeProcess[], key: KeyPair, config: Record<string, unknown> = {}): Project {
  const dir = tempDir("fixpoint-production-");
  const home = join(dir, "home");
  mkdirSync(home);
  writeFileSync(join(home, "id_ed25519"), formatIdentity(key), { mode: 0o600 });
  writeFileSync(
    join(dir, "fixpoint.json"),
    JSON.stringify({ modules: ["counter.ts"], nodes: nodes.map((n, i) => ({ name: `n${i + 1}`, address: `127.0.0.1:${n.port}`, key: formatPublicKeyLine(n.nodeKey) })), ...config }),
  );
  const env = { FIXPOINT_HOME: home, FIXPOINT_IDENTITY: "" };
  return { dir, env, devtool: (args) => devtool(args, { cwd: dir, env }), write: (source) => writeFileSync(join(dir, "counter.ts"), source) };
}

/** Asserts exit status 0 and returns stdout. */
export function ok(r: CliResult, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Nodes in production mode, each trusting one key with every role, and a project naming them. */
export async function productionNodes(count: number, args: string[] = []): Promise<{ nodes: NodeProcess[]; key: KeyPair; project: Project }> {
  const key = generateKeyPair();
  // One at a time: five nodes starting at once on a loaded two-core machine miss startNode's
  // deadline. A start that fails stops the ones already running, or they would keep the test
  // process alive.
  const nodes: NodeProcess[] = [];
  try {
    for (let i = 0; i < count; i++) nodes.push(await startNode({ roles: ALL_ROLES, dev: key, args: ["--mode", "production", ...args] }));
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  return { nodes, key, project: projectFor(nodes, key) };
}

/** Calls counter.FN on `node` over its own connection (faster than a devtool process each time). */
export async function call(node: NodeProcess, fn: string): Promise<Data | undefined> {
  const conn = await node.connect();
  try {
    return (await conn.request("call", { module: "counter", fn, args: [] }, { timeoutMs: 30_000 })).value;
  } finally {
    conn.close();
  }
}

export async function status(node: NodeProcess): Promise<ResultOf<"status">> {
  const conn = await node.connect();
  try {
    return await conn.request("status", {}, { timeoutMs: 30_000 });
  } finally {
    conn.close();
  }
}

/** Releases counter v1 and rolls it out to every node at once, then hits it `hits` times on each. */
export async function firstRelease(p: Project, nodes: NodeProcess[], hits: number): Promise<void> {
  p.write(counter("1"));
  ok(await p.devtool(["release", "create", "--notes", "first"]), "release create");
  ok(await p.devtool(["upgrade", "--max-unavailable", String(nodes.length)]), "upgrade to release 1");
  for (const node of nodes) for (let i = 0; i < hits; i++) await call(node, "hit");
}
