/**
 * The embedded local node of `devtool dev`: a real `loader` process on loopback, with its data
 * directory and a developer identity under the project's .fixpoint/ folder, created and
 * authorized on first run. Its key is pinned from its own node.pub, so there is nothing to
 * accept by hand.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FixpointError, LOADER_NODE_FLAGS, formatIdentity, isErrorCode, generateKeyPair, parsePublicKey, readIdentityFile, type KeyPair } from "../loader/index.js";
import { authorizeKey, initDataDir } from "./node-admin.js";
import { packageRoot } from "../loader/protocol/version.js";
import { onLogLines } from "./nodes/log-lines.js";

export interface LocalNode {
  identity: KeyPair;
  nodeKey: Uint8Array;
  channel: { host: string; port: number };
  http: { host: string; port: number } | null;
  child: ChildProcess;
  /** Resolves with the exit code when the node process ends. */
  exited: Promise<number | null>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export interface LocalNodeOptions {
  /** The project's .fixpoint/ folder. */
  stateDir: string;
  /** "HOST:PORT" for HTTP; port 0 picks a free one. */
  http: string;
  /** The cluster of a node created now: the project's, so that status agrees with fixpoint.json. */
  cluster?: string;
  /** Every node log line, as parsed JSON. */
  onLog(entry: Record<string, unknown>): void;
  /** Aborting (Ctrl-C during startup) stops the node process and rejects. */
  signal?: AbortSignal;
}

/**
 * The loader's own coded error from its last "error CODE: message" line, so that the caller
 * can tell a busy port (CONFIG_INVALID … EADDRINUSE) from a crash.
 */
function loaderError(code: number | null, stderr: string): FixpointError {
  const match = /^error ([A-Z_]+): (.*)$/m.exec(stderr);
  if (match !== null && isErrorCode(match[1]!)) return new FixpointError(match[1], match[2]!);
  return new FixpointError("INTERNAL", `the local node exited (${code}) before it started:\n${stderr}`);
}

function loaderScript(): string {
  const script = join(packageRoot(), "dist", "loader.js");
  if (!existsSync(script)) throw new FixpointError("INTERNAL", `${script} is missing; run \`npm run build\``);
  return script;
}

/** Creates the node and the identity if missing; returns the identity. */
function ensureNode(stateDir: string, cluster = "default"): KeyPair {
  const dataDir = join(stateDir, "node");
  const keyFile = join(stateDir, "dev.key");
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  // The folder holds private keys, inside the user's project: keep it out of git (issue 12.12).
  const ignore = join(stateDir, ".gitignore");
  if (!existsSync(ignore)) writeFileSync(ignore, "# Written by devtool dev: the local node's data and private keys. Never commit them.\n*\n");
  let identity: KeyPair;
  if (existsSync(keyFile)) {
    identity = readIdentityFile(keyFile);
  } else {
    identity = generateKeyPair();
    writeFileSync(keyFile, formatIdentity(identity), { mode: 0o600 });
  }
  if (!existsSync(join(dataDir, "config.json"))) {
    // The loader's own code, in this process: no `loader init`/`authorize` processes to run and read.
    const { paths } = initDataDir(dataDir, { name: "local", cluster });
    authorizeKey(paths.trust, identity.publicKey, ["dev", "observe", "admin"], "devtool dev");
  }
  return identity;
}

export async function startLocalNode(options: LocalNodeOptions): Promise<LocalNode> {
  const identity = ensureNode(options.stateDir, options.cluster);
  const dataDir = join(options.stateDir, "node");
  const nodeKey = parsePublicKey(readFileSync(join(dataDir, "node.pub"), "utf8"), join(dataDir, "node.pub"));
  const child = spawn(process.execPath, [...LOADER_NODE_FLAGS, loaderScript(), "start", "--data", dataDir, "--listen", "127.0.0.1:0", "--http", options.http, "--log-format", "json"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const started = new Promise<Record<string, unknown>>((resolve, reject) => {
    onLogLines(
      child.stderr!,
      (entry) => {
        if (entry["event"] === "node.started") resolve(entry);
        options.onLog(entry);
      },
      (line) => (stderr += line + "\n"),
    );
    child.once("exit", (code) => reject(loaderError(code, stderr)));
  });
  const abort = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  };
  options.signal?.addEventListener("abort", abort);
  let entry: Record<string, unknown>;
  try {
    entry = await started;
  } finally {
    options.signal?.removeEventListener("abort", abort);
  }
  const parse = (text: unknown) => {
    const [host, port] = String(text).split(/:(?=\d+$)/);
    return { host: host!, port: Number(port) };
  };
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    identity,
    nodeKey,
    channel: parse(entry["listen"]),
    http: entry["http"] === undefined ? null : parse(entry["http"]),
    child,
    exited: exit,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exit;
    },
  };
}
