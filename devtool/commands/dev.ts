import { existsSync, readdirSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { entryOfLine, FixpointError, isLogEntry, MODULE_NAME, parseHostPort, toFixpointError, type LogEntry } from "../../loader/index.js";
import { parseCommandLine } from "../ui/args.js";
import { styleFor } from "../ui/output.js";
import { checkListedModules, loadProjectConfig } from "../config/project.js";
import { knownNodesPath, loadIdentity } from "../home.js";
import { startLocalNode, type LocalNode } from "../local-node.js";
import { NodeSessions } from "../nodes/sessions.js";
import { pinnedMessage, addressText, resolveTargets, type Target } from "../nodes/targets.js";
import { LOCAL_NODE_LABEL, findLocalNode, removeLocalPointer, writeLocalPointer } from "../nodes/local-pointer.js";
import { PushWatcher } from "../watch/push-watcher.js";
import { TypeChecker, typeEvents } from "../watch/type-checker.js";
import { formatEntry } from "./logs.js";
import { shutdown, stopSignal } from "../ui/shutdown.js";

export const HELP = `Usage: devtool dev [DIR] [--http HOST:PORT] [--identity FILE]

The dev loop in one command. Pushes every module of the project in DIR (default: the current
directory), watches their files and pushes each change, hot-swapped with its state kept, and
streams the modules' console output and the nodes' events.

Modules are the "modules" of DIR/fixpoint.json, or else every DIR/*.ts named like a module.
With nodes in fixpoint.json it works against them. With none, it starts an embedded local
node: its data and a developer identity live in DIR/.fixpoint/ (created on first run), and it
serves the modules over HTTP on --http (default 127.0.0.1:8080, or a free port if taken).

Options:
  --http HOST:PORT       where the local node serves HTTP (default 127.0.0.1:8080)
  --identity FILE        your key, for nodes from fixpoint.json
                         (default ~/.fixpoint/id_ed25519)
  --accept-new           pin nodes of fixpoint.json not pinned yet
`;

function modulesOf(dir: string, listed: string[]): string[] {
  if (listed.length > 0) return listed;
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && MODULE_NAME.test(f.slice(0, -3)))
    .sort()
    .map((f) => join(dir, f));
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { http: { type: "string" }, identity: { type: "string" }, "accept-new": { type: "boolean" } }, 1);
  if (parsed.values["help"] === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const dir = resolve(parsed.positionals[0] ?? ".");
  if (!existsSync(dir)) throw new FixpointError("USAGE", `${dir} does not exist`);
  const http = typeof parsed.values["http"] === "string" ? parsed.values["http"] : "127.0.0.1:8080";
  if (parseHostPort(http) === null) throw new FixpointError("USAGE", `--http must be HOST:PORT, got "${http}"`);
  const projectFile = join(dir, "fixpoint.json");
  const project = existsSync(projectFile) ? loadProjectConfig(projectFile) : null;
  if (project !== null) checkListedModules(project);
  const files = modulesOf(dir, project?.modules ?? []);
  if (files.length === 0) throw new FixpointError("USAGE", `no modules in ${dir}: add NAME.ts files or list them in fixpoint.json's "modules"`);

  const out = styleFor(process.stdout);
  const err = styleFor(process.stderr);
  const printLog = (node: string, entry: LogEntry) => {
    const event = entry.event;
    // The dev loop shows what a developer acts on: module output, swaps, failures.
    // module.pushed is shown as the ✓ line instead.
    if (event.startsWith("connection.") || event === "node.started" || event === "runtime.up" || event === "module.pushed") return;
    process.stdout.write(formatEntry(out, node, entry) + "\n");
  };

  // Signals are ours from here on, so that a Ctrl-C while the local node is still starting
  // stops it too, instead of killing this process and leaving the node without a parent
  // (issue 12.1).
  const stopping = stopSignal();
  const abort = new AbortController();
  void stopping.then(() => abort.abort());
  const stateDir = join(dir, ".fixpoint");

  let local: LocalNode | null = null;
  let targets: Target[];
  let identity;
  if (project !== null && project.nodes.length > 0) {
    targets = resolveTargets(undefined, project);
    identity = loadIdentity(typeof parsed.values["identity"] === "string" ? parsed.values["identity"] : undefined);
  } else {
    const running = findLocalNode(stateDir);
    if (running !== null) {
      throw new FixpointError("ALREADY_RUNNING", `a devtool dev already runs for ${dir} (its node is at ${addressText(running.target.address)}); use it from another terminal (\`devtool status\`, \`call\`, \`logs\`, \`repl\` in this project) or stop it first`);
    }
    const firstRun = !existsSync(join(stateDir, "node", "config.json"));
    const requested = parseHostPort(http)!;
    const start = (address: string) => startLocalNode({ stateDir, http: address, onLog: (line) => {
        const entry = entryOfLine(line);
        if (entry !== null) printLog("local", entry);
      }, signal: abort.signal, ...(project === null ? {} : { cluster: project.cluster }) });
    try {
      local = await start(http).catch(async (e: unknown) => {
        // The default port taken: any free one rather than failing the newcomer's first
        // command. An --http the user chose, or any other failure, is reported as it is.
        const error = toFixpointError(e);
        if (abort.signal.aborted || typeof parsed.values["http"] === "string" || !error.message.includes("EADDRINUSE")) throw e;
        process.stderr.write(`${err.yellow("note")} ${http} is in use; serving HTTP on a free port instead\n`);
        return start(`${requested.host}:0`);
      });
    } catch (e) {
      if (abort.signal.aborted) return 0;
      throw e;
    }
    identity = local.identity;
    if (firstRun) {
      const where = relative(process.cwd(), stateDir) || stateDir;
      process.stderr.write(
        `Created a local node and a developer key (private keys) in ${where}${sep}; ` + `it is git-ignored by ${join(where, ".gitignore")}. Delete the folder to start afresh.\n`,
      );
    }
    targets = [{ label: LOCAL_NODE_LABEL, address: local.channel, pinned: local.nodeKey }];
    // So that `devtool repl`, `status`, `call` and `logs` in this project find the node.
    writeLocalPointer(stateDir, local.channel, local.nodeKey);
  }

  const sessions = new NodeSessions(targets, identity, {
    knownNodesFile: knownNodesPath(),
    acceptNew: parsed.values["accept-new"] === true,
    onPinned: (t, key) => process.stderr.write(`${err.yellow("pinned")} ${pinnedMessage(t, key, knownNodesPath())}\n`),
  });
  if (local === null) {
    // Remote nodes' logs come over the channel; the local node's come from its stderr.
    sessions.onOpen((conn, target) => {
      // An entry as the node publishes it ({ time, level, event, fields }), not a JSON log line.
      conn.onEvent((topic, data) => topic === "log" && isLogEntry(data) && printLog(target.label, data));
      void conn.request("subscribe", { topics: ["log"] }).catch(() => {});
    });
  }
  const watcher = new PushWatcher(files, sessions, identity, {
    pushed: (r) => {
      for (const { target, value, error } of r.outcomes) {
        if (value !== undefined && (value.changed || value.stored)) {
          process.stdout.write(`${out.green("✓")} ${target.label} ${out.bold(r.module)} ${value.version === undefined ? "" : `v${value.version} `}${out.dim(`${r.digest.slice(0, 12)} live ${r.totalMs.toFixed(0)} ms${r.saved ? " after save" : ""}`)}\n`);
        } else if (error !== undefined) {
          process.stderr.write(`${err.red("✗")} ${target.label} ${err.bold(r.module)} ${err.bold(error.code)}: ${error.message}\n  ${err.dim("the previous version keeps serving, with its state")}\n`);
        }
      }
    },
    buildFailed: (module, message) => process.stderr.write(`${err.red("✗")} ${err.bold(module)} build failed, nothing pushed:\n${message}\n`),
    skipped: () => {},
    fixed: (module) => process.stderr.write(`${err.green("✓")} ${err.bold(module)} builds again; the version running is this same code\n`),
  });
  const types = new TypeChecker(dir, files, typeEvents(err));
  const stop = async (interrupted = false) => {
    types.close();
    await watcher.close();
    await sessions.close();
    if (local !== null) removeLocalPointer(stateDir);
    // A Ctrl-C in the terminal reached the local node too (same process group): let it finish.
    if (local !== null && interrupted) await Promise.race([local.exited, new Promise((r) => setTimeout(r, 3000))]);
    await local?.stop();
  };
  const exited = local === null ? new Promise<never>(() => {}) : local.exited.then(() => "exited" as const);
  let why: "SIGINT" | "SIGTERM" | "EPIPE" | "exited" | "started";
  try {
    why = await Promise.race([stopping, exited, watcher.start().then(() => "started" as const)]);
  } catch (e) {
    await stop();
    throw e;
  }
  if (why === "started") {
    // After the first pushes, so that it never competes with them.
    types.start();
    process.stdout.write(
      `\n${out.bold("Fixpoint dev")}: ${files.length} module(s) from ${relative(process.cwd(), dir) || "."} on ${targets.map((t) => t.label).join(", ")}\n` +
        (local?.http === null || local === null ? "" : `  ${out.green(`http://${local.http!.host}:${local.http!.port}/`)}\n`) +
        `  edit a module and save: it is live in milliseconds, its state kept. Ctrl-C stops.\n\n`,
    );
    why = await Promise.race([stopping, exited]);
  }
  await shutdown(
    () => stop(why === "SIGINT"),
    () => local?.child.kill("SIGKILL"),
    12_000,
  );
  if (why === "exited") {
    process.stderr.write(`${err.red("error")} the local node stopped; see its log above\n`);
    return 1;
  }
  return 0;
}
