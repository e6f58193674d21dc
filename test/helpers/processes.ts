/**
 * Real processes for end-to-end tests: the built CLIs (dist/, made by `npm test`'s pretest),
 * a node in a temporary data directory on a free loopback port, and a client connected to it.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { createHash } from "node:crypto";
import { connect, type ClientConnection, type ConnectOptions } from "../../devtool/client/index.js";
import { formatPublicKeyLine, generateKeyPair, parsePublicKey, type KeyPair, type Role } from "../../loader/index.js";
import { onLogLines } from "../../devtool/nodes/log-lines.js";

export const ROOT = resolve(import.meta.dirname, "../..");
const DIST = { loader: join(ROOT, "dist/loader.js"), devtool: join(ROOT, "dist/devtool.js") };

const made: string[] = [];

/**
 * Processes this test file started and has not seen exit. A test that times out or throws
 * before its cleanup would otherwise leave loaders running with no parent (and their runtimes),
 * holding ports and CPU for every later test; they are killed when the test process exits.
 */
const live = new Set<ChildProcess>();
let watching = false;
function watch(child: ChildProcess): void {
  if (!watching) {
    watching = true;
    process.on("exit", () => live.forEach((c) => c.kill("SIGKILL")));
  }
  live.add(child);
  child.on("exit", () => live.delete(child));
}

/** A fresh directory under the system's temp dir, removed when the test process exits. */
export function tempDir(prefix = "fixpoint-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (made.length === 0) process.on("exit", () => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
  made.push(dir);
  return dir;
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a built CLI to completion. */
export function runCli(cli: "loader" | "devtool", args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): CliResult {
  if (!existsSync(DIST[cli])) throw new Error(`${DIST[cli]} is missing: run \`npm run build\` (npm test does it)`);
  const result = spawnSync(process.execPath, [DIST[cli], ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    cwd: options.cwd ?? ROOT,
    input: options.input ?? "",
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Every file under `dir` with its SHA-256, to show that an operation changed nothing on disk.
 * A node's saved module states (store/states/) are left out: they are written on their own
 * schedule (every second while they change), not by the operation under test.
 */
export function snapshotDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (name === "states" && existsSync(join(d, "bundles"))) continue; // a store's saved states
      if (statSync(path).isDirectory()) walk(path);
      else out[relative(dir, path)] = createHash("sha256").update(readFileSync(path)).digest("hex");
    }
  };
  walk(dir);
  return out;
}

/**
 * snapshotDir of a node's data directory once its store is flushed: a push's table write
 * follows at the node's next snapshot (group commit, loader/store/bundle-store.ts), so a
 * "nothing written" check taken right after a push would see that write land later. Waits
 * (at most 5 s) until the table on disk names what the node's status says is current.
 */
export async function flushedSnapshot(node: { dataDir: string }, conn: ClientConnection): Promise<Record<string, string>> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const current = Object.fromEntries((await conn.request("status", {})).modules.map((m) => [m.name, m.digest]));
    const file = join(node.dataDir, "store", "modules.json");
    const onDisk = existsSync(file) ? Object.fromEntries(Object.entries((JSON.parse(readFileSync(file, "utf8")) as { modules: Record<string, { digest: string }> }).modules).map(([n, e]) => [n, e.digest])) : {};
    if (JSON.stringify(Object.entries(onDisk).sort()) === JSON.stringify(Object.entries(current).sort()) || Date.now() > deadline) return snapshotDir(node.dataDir);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface NodeProcess {
  dataDir: string;
  port: number;
  nodeKey: Uint8Array;
  /** A key authorized with `roles` (default dev, observe). */
  dev: KeyPair;
  child: ChildProcess;
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  /** Resolves when a log line with this event appears (or has appeared). */
  waitForLog(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  connect(identity?: KeyPair, extra?: Partial<ConnectOptions>): Promise<ClientConnection>;
  /** SIGTERM, then the exit status. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash, a power cut for the loader), resolved once the process is gone. */
  kill(): Promise<void>;
  alive(): boolean;
}

export interface StartNodeOptions {
  roles?: Role[];
  /** Extra `loader start` flags. */
  args?: string[];
  /** An existing data dir to start (skips init). */
  dataDir?: string;
  /** Extra environment for the loader process. */
  env?: NodeJS.ProcessEnv;
  dev?: KeyPair;
}

/** Where each thread of process `pid` and of its children waits now (Linux /proc), for a report of a hang. */
function threadsOf(pid: number | undefined): string {
  if (pid === undefined) return "(no pid)";
  const describe = (p: string): string => {
    try {
      const state = /^State:\s*(.*)$/m.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? "?";
      const waits = readdirSync(`/proc/${p}/task`).map((t) => {
        const comm = readFileSync(`/proc/${p}/task/${t}/comm`, "utf8").trim();
        return `${comm}:${readFileSync(`/proc/${p}/task/${t}/wchan`, "utf8").trim() || "-"}`;
      });
      return `pid ${p} (${state}) threads ${waits.join(" ")}`;
    } catch (err) {
      return `pid ${p}: ${(err as Error).message}`;
    }
  };
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter((c) => c !== "");
  } catch {
    // no children list on this kernel
  }
  return [String(pid), ...children].map(describe).join("\n");
}

/** `loader init`, `loader authorize` a fresh key, `loader start` on 127.0.0.1:0. */
export async function startNode(options: StartNodeOptions = {}): Promise<NodeProcess> {
  const dev = options.dev ?? generateKeyPair();
  let dataDir = options.dataDir;
  if (dataDir === undefined) {
    dataDir = join(tempDir(), "node");
    const init = runCli("loader", ["init", "--data", dataDir, "--name", "test-node"]);
    if (init.status !== 0) throw new Error(`loader init failed: ${init.stderr}`);
    const auth = runCli("loader", ["authorize", "--data", dataDir, "--key", formatPublicKeyLine(dev.publicKey), "--roles", (options.roles ?? ["dev", "observe"]).join(",")]);
    if (auth.status !== 0) throw new Error(`loader authorize failed: ${auth.stderr}`);
  }
  const nodeKey = parsePublicKey(readFileSync(join(dataDir, "node.pub"), "utf8"), "node.pub");
  const child = spawn(process.execPath, [DIST.loader, "start", "--data", dataDir, "--listen", "127.0.0.1:0", "--log-format", "json", ...(options.args ?? [])], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
  });
  watch(child);
  const logs: Record<string, unknown>[] = [];
  const waiters: { event: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  let stderrText = "";
  child.stderr!.on("data", (chunk: string) => (stderrText += chunk));
  // Read, though the node logs to stderr: a pipe nobody reads fills at 64 KiB, and a process
  // writing to a full pipe blocks (stdout to a pipe is synchronous on Linux).
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stderrText += chunk));
  onLogLines(child.stderr!, (parsed) => {
    logs.push(parsed);
    for (const w of waiters.filter((w) => w.event === parsed["event"])) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(parsed);
    }
  });
  let exited = false;
  let signalled = false;
  const kill = child.kill.bind(child);
  child.kill = (signal?: NodeJS.Signals | number) => ((signalled = true), kill(signal));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => ((exited = true), resolve(code))));
  const waitForLog = (event: string, timeoutMs = 10_000) => {
    const seen = logs.find((l) => l["event"] === event);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${event}" log within ${timeoutMs} ms; stderr:\n${stderrText}`)), timeoutMs);
      waiters.push({ event, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      void exit.then((code) => reject(new Error(`node exited (${code}) before "${event}"; stderr:\n${stderrText}`)));
    });
  };
  const started = await waitForLog("node.started");
  const port = Number(String(started["listen"]).split(":").pop());
  return {
    dataDir,
    port,
    nodeKey,
    dev,
    child,
    logs,
    waitForLog,
    // A generous handshake deadline: on a 2-core CI machine a node just restarted after kill -9
    // shares the cores with its runtime's start and the other test file's nodes (seen: > 5 s).
    connect: (identity = dev, extra = {}) =>
      connect({ host: "127.0.0.1", port, identity, timeoutMs: 20_000, checkNodeKey: (k) => {
        if (!Buffer.from(k).equals(Buffer.from(nodeKey))) throw new Error("node key differs from node.pub");
      }, ...extra }).catch((err: Error) => {
        // A node that never answers its handshake: say where its threads wait (seen once in CI on
        // Node 20, not reproduced since), and the end of its log.
        if ((err as { code?: string }).code === "HANDSHAKE_TIMEOUT") err.message += `\n${threadsOf(child.pid)}\nits log ends:\n${stderrText.slice(-3000)}`;
        throw err;
      }),
    stop: async () => {
      // One signal only: a second one during shutdown is the user insisting, and kills the node.
      if (!exited && child.signalCode === null && !signalled) child.kill("SIGTERM");
      // A node that does not stop within 20 s fails the test instead of hanging the suite.
      const timer = setTimeout(() => {
        process.stderr.write(`node ${child.pid} did not stop within 20 s; killing it. ${threadsOf(child.pid)}\nIts log:\n${stderrText.slice(-4000)}\n`);
        kill("SIGKILL");
      }, 20_000);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
    kill: async () => {
      if (!exited) kill("SIGKILL");
      await exit;
    },
    alive: () => !exited,
  };
}

export interface RunningCli {
  child: ChildProcess;
  /** Everything printed so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves when stdout or stderr matches `pattern` (checked against all output so far). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts a long-running built CLI (push --watch, dev, logs --follow). */
export function spawnCli(cli: "loader" | "devtool", args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): RunningCli {
  const child = spawn(process.execPath, [DIST[cli], ...args], {
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    cwd: options.cwd ?? ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  watch(child);
  let stdout = "";
  let stderr = "";
  const waiters: (() => void)[] = [];
  const notify = () => waiters.splice(0).forEach((w) => w());
  child.stdout!.setEncoding("utf8").on("data", (c: string) => ((stdout += c), notify()));
  child.stderr!.setEncoding("utf8").on("data", (c: string) => ((stderr += c), notify()));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => (notify(), resolve(code))));
  return {
    child,
    output: () => ({ stdout, stderr }),
    waitFor: (pattern, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`)), timeoutMs);
        const check = () => {
          const m = (stdout + "\n" + stderr).match(pattern);
          if (m !== null) {
            clearTimeout(deadline);
            resolve(m);
          } else if (child.exitCode !== null) {
            clearTimeout(deadline);
            reject(new Error(`exited (${child.exitCode}) before ${pattern}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
          } else {
            waiters.push(check);
          }
        };
        check();
      }),
    stop: async (signal = "SIGINT") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => {
        process.stderr.write(`${cli} ${args.join(" ")} did not stop within 20 s; killing it. Output:\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}\n`);
        child.kill("SIGKILL");
      }, 20_000);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  };
}
