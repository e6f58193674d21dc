/**
 * The processes the dev-loop benchmark starts: Fixpoint nodes (the built `loader` CLI),
 * `devtool push` (one-shot or --watch), and the peers `node --watch` and nodemon. Every
 * child is registered here and stopped by its pid (or its own process group, for the
 * watchers that start a server child) by `stopAll`, also when the benchmark fails.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { LOADER_NODE_FLAGS, formatPublicKeyLine, parsePublicKey } from "../../loader/index.js";
import { onLogLines } from "../../devtool/nodes/log-lines.js";
import { get, keepAliveAgent } from "./http.js";

export const ROOT = resolve(import.meta.dirname, "../..");
const LOADER = join(ROOT, "dist/loader.js");
export const DEVTOOL = join(ROOT, "dist/devtool.js");
const NODEMON = join(ROOT, "node_modules/nodemon/bin/nodemon.js");

interface Tracked {
  child: ChildProcess;
  /** Started with its own process group (detached): signal the group. */
  group: boolean;
  exited: Promise<void>;
}

const children = new Set<Tracked>();

function track(child: ChildProcess, group: boolean): Tracked {
  const t: Tracked = { child, group, exited: new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once("exit", () => r()))) };
  children.add(t);
  void t.exited.then(() => children.delete(t));
  return t;
}

function signal(t: Tracked, sig: NodeJS.Signals): void {
  try {
    if (t.group && t.child.pid !== undefined) process.kill(-t.child.pid, sig);
    else t.child.kill(sig);
  } catch {
    // already gone
  }
}

/** SIGTERM, then SIGKILL after `graceMs`. */
async function stop(t: Tracked, graceMs = 5000): Promise<void> {
  if (!children.has(t)) return;
  signal(t, "SIGTERM");
  const timer = setTimeout(() => signal(t, "SIGKILL"), graceMs);
  await t.exited;
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((t) => stop(t)));
}

/** Last resort on an abrupt exit: no waiting possible, SIGKILL what is left. */
export function killAllNow(): void {
  for (const t of children) signal(t, "SIGKILL");
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a !== null ? a.port : 0;
      s.close(() => resolvePort(port));
    });
  });
}

/** Resident set size of a process, bytes (VmRSS from /proc). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (m === null) throw new Error(`bench: no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** The parent pid of `pid`, from /proc/PID/stat (field 4, after the parenthesized name). */
export function parentPid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** The pids of `pid`'s children (its main thread's, which is where Node forks them). */
export function childPids(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
}

function runLoader(args: string[]): void {
  const r = spawnSync(process.execPath, [LOADER, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`bench: loader ${args[0]} failed (${r.status}): ${r.stderr}`);
}

export interface FixpointNode {
  name: string;
  dataDir: string;
  /** Channel address, "127.0.0.1:PORT". */
  address: string;
  httpUrl: URL;
  key: Uint8Array;
  loaderPid: number;
  /** The runtime child's pid, from the runtime.up log line (checked against /proc). */
  runtimePid: number;
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

/** `loader init` and `loader authorize` the bench's key (with `roles`, default dev and observe) on a new data directory. */
export function initFixpointNode(dataDir: string, name: string, devPublicKey: Uint8Array, roles: string[] = ["dev", "observe"]): void {
  runLoader(["init", "--data", dataDir, "--name", name]);
  runLoader(["authorize", "--data", dataDir, "--key", formatPublicKeyLine(devPublicKey), "--roles", roles.join(",")]);
}

export interface StartOptions {
  /** Node flags for the loader process (e.g. --cpu-prof); the runtime it forks does not get them. */
  nodeArgs?: string[];
  /** Data directory already initialized (a restart): skip `loader init` and `loader authorize`. */
  existing?: boolean;
  /** Roles of the bench's key (default dev, observe). */
  roles?: string[];
  /** Extra `loader start` flags. */
  args?: string[];
}

/** `loader init`, `loader authorize` the bench's key, `loader start` with HTTP, both on free loopback ports. */
export async function startFixpointNode(dataDir: string, name: string, devPublicKey: Uint8Array, options: StartOptions = {}): Promise<FixpointNode> {
  if (options.existing !== true) initFixpointNode(dataDir, name, devPublicKey, options.roles);
  const key = parsePublicKey(readFileSync(join(dataDir, "node.pub"), "utf8"), "node.pub");
  // Started as the README's service units start it (LOADER_NODE_FLAGS), plus the bench's own flags.
  const child = spawn(process.execPath, [...LOADER_NODE_FLAGS, ...(options.nodeArgs ?? []), LOADER, "start", "--data", dataDir, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-format", "json", ...(options.args ?? [])], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const t = track(child, false);
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  const started = new Promise<Record<string, unknown>>((resolveStarted, reject) => {
    child.stderr!.on("data", (chunk: string) => {
      if (stderr.length < 100_000) stderr += chunk;
    });
    onLogLines(child.stderr!, (parsed) => {
      // Keep what the bench reads; a node pushed 1000 times logs a lot.
      if (parsed["event"] !== "module.log") logs.push(parsed);
      if (parsed["event"] === "node.started") resolveStarted(parsed);
    });
    void t.exited.then(() => reject(new Error(`bench: node ${name} exited before it started:\n${stderr}`)));
    setTimeout(() => reject(new Error(`bench: node ${name} did not start within 60 s:\n${stderr}`)), 60_000).unref();
  });
  const line = await started;
  const up = logs.find((l) => l["event"] === "runtime.up");
  const runtimePid = Number(up?.["pid"]);
  if (!Number.isInteger(runtimePid) || parentPid(runtimePid) !== child.pid) throw new Error(`bench: node ${name}: runtime pid ${runtimePid} is not a child of the loader ${child.pid}`);
  return {
    name,
    dataDir,
    address: String(line["listen"]),
    httpUrl: new URL(`http://${String(line["http"])}/`),
    key,
    loaderPid: child.pid!,
    runtimePid,
    logs,
    stop: () => stop(t),
  };
}

/** Waits until `url` answers 200 with a parsable body. */
export async function waitServing(url: URL, timeoutMs = 30_000): Promise<void> {
  const agent = keepAliveAgent(1);
  const deadline = performance.now() + timeoutMs;
  try {
    while (performance.now() < deadline) {
      if ((await get(url, agent)).answer !== null) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    agent.destroy();
  }
  throw new Error(`bench: ${url.href} did not answer within ${timeoutMs} ms`);
}

export interface Peer {
  pid: number;
  stop(): Promise<void>;
  output(): string;
}

function startTool(command: string[], cwd: string, env: NodeJS.ProcessEnv, group: boolean): Peer {
  const child = spawn(process.execPath, command, { cwd, env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"], detached: group });
  const t = track(child, group);
  let output = "";
  const keep = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  return { pid: child.pid!, stop: () => stop(t), output: () => output };
}

/** `node --watch server.js` in `dir` on `port` (own process group: it starts the server as a child). */
export function startNodeWatch(dir: string, port: number): Peer {
  return startTool(["--watch", "server.js"], dir, { PORT: String(port) }, true);
}

/** `nodemon server.js` in `dir` on `port`, with nodemon's defaults (no delay, watches the folder). */
export function startNodemon(dir: string, port: number): Peer {
  return startTool([NODEMON, "server.js"], dir, { PORT: String(port) }, true);
}

/** `node server.js` without any watcher (the plain peer of the HTTP rate). */
export function startPlainServer(dir: string, port: number): Peer {
  return startTool(["server.js"], dir, { PORT: String(port) }, false);
}

/** `devtool push FILE [--node N] --watch`, run in the project folder with the bench's FIXPOINT_HOME. */
export function startPushWatch(projectDir: string, file: string, nodeArgs: string[], home: string): Peer {
  return startTool([DEVTOOL, "push", file, ...nodeArgs, "--watch"], projectDir, { FIXPOINT_HOME: home }, false);
}

/** One `devtool push FILE [--node N]` process; resolves with its exit status and output. */
export function pushOnce(projectDir: string, file: string, nodeArgs: string[], home: string): Promise<{ status: number | null; output: string }> {
  const child = spawn(process.execPath, [DEVTOOL, "push", file, ...nodeArgs], { cwd: projectDir, env: { ...process.env, NO_COLOR: "1", FIXPOINT_HOME: home }, stdio: ["ignore", "pipe", "pipe"] });
  const t = track(child, false);
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c.toString("utf8")));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString("utf8")));
  return t.exited.then(() => ({ status: child.exitCode, output }));
}

/** Whether the built devtool's `push` knows --watch (it is being written alongside this bench). */
export function pushHasWatch(): boolean {
  const r = spawnSync(process.execPath, [DEVTOOL, "push", "--help"], { encoding: "utf8", timeout: 30_000 });
  return /--watch\b/.test(r.stdout);
}
