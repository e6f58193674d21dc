/** What several devtool commands share: the connection flags and fan-out to nodes. */
import { FixpointError, toFixpointError, type KeyPair } from "../../loader/index.js";
import { styleFor } from "../ui/output.js";
import { type ClientConnection } from "../client/index.js";
import { type OptionSpec, type Parsed } from "../ui/args.js";
import { loadProjectConfig, type ProjectConfig } from "../config/project.js";
import { identityPath, knownNodesPath, loadIdentity } from "../home.js";
import { pinnedMessage, connectTarget, resolveTargets, type Target } from "../nodes/targets.js";
import { eachNode, type NodeOutcome } from "../nodes/fan-out.js";
import { findLocalNode, LOCAL_NODE_LABEL } from "../nodes/local-pointer.js";
import { dirname, join } from "node:path";

export const CONNECTION_OPTIONS = {
  node: { type: "string" },
  identity: { type: "string" },
  config: { type: "string" },
  "accept-new": { type: "boolean" },
  "timeout-ms": { type: "string" },
} as const satisfies OptionSpec;

export const CONNECTION_HELP = `  --node NAME|HOST:PORT  one node (default: every node in fixpoint.json, or the local node
                         of a \`devtool dev\` running in this project)
  --identity FILE        your key (default $FIXPOINT_IDENTITY or ~/.fixpoint/id_ed25519)
  --config FILE          the project file (default: the nearest fixpoint.json)
  --accept-new           pin a node not pinned yet, recording it in ~/.fixpoint/known_nodes
  --timeout-ms N         deadline to connect and finish the handshake (default 5000); it
                         does not cover the answer (see --deadline-ms where there is one)
`;

/** For commands that wait on code running on a node (call, repl). */
export const DEADLINE_OPTION = { "deadline-ms": { type: "string" } } as const satisfies OptionSpec;

export const DEFAULT_DEADLINE_MS = 60_000;

export const DEADLINE_HELP = `  --deadline-ms N        how long to wait for each answer once connected (default 60000);
                         past it the devtool stops waiting and exits 1 with REQUEST_TIMEOUT
                         (the node stops the code itself at its own limits)
`;

/** --deadline-ms, checked. */
export function deadlineFrom(parsed: Parsed): number {
  const text = parsed.values["deadline-ms"];
  if (typeof text !== "string") return DEFAULT_DEADLINE_MS;
  if (!/^\d{1,7}$/.test(text) || Number(text) === 0) throw new FixpointError("USAGE", `--deadline-ms must be a positive integer, got "${text}"`);
  return Number(text);
}

/** The REQUEST_TIMEOUT of a call or evaluation past its deadline, saying which flag sets it. */
export function pastDeadline(what: string, deadlineMs: number): FixpointError {
  return new FixpointError(
    "REQUEST_TIMEOUT",
    `${what} got no answer within ${deadlineMs} ms (--deadline-ms); the devtool stopped waiting, and the node stops the code at its own limits (--module-async-ms, --module-cpu-ms)`,
  );
}

export interface Context {
  identity: KeyPair;
  project: ProjectConfig | null;
  targets: Target[];
  timeoutMs: number | undefined;
  acceptNew: boolean;
  /** For the local node of a `devtool dev`: where it is now (a restarted dev's node has a new port), or null. */
  relocate?: () => Target | null;
}

/**
 * The connection context of a command. `nodeList`: several nodes named at once (`--nodes a,b`
 * of upgrade and rollback), each as --node takes it, in that order.
 */
export function contextFrom(parsed: Parsed, nodeList?: string[]): Context {
  const str = (k: string) => (typeof parsed.values[k] === "string" ? (parsed.values[k] as string) : undefined);
  const timeoutText = str("timeout-ms");
  if (timeoutText !== undefined && (!/^\d{1,7}$/.test(timeoutText) || Number(timeoutText) === 0)) {
    throw new FixpointError("USAGE", `--timeout-ms must be a positive integer, got "${timeoutText}"`);
  }
  const project = loadProjectConfig(str("config"));
  const identityFlag = str("identity");
  // A running `devtool dev` of this project, when nothing else is named (see local-pointer.ts).
  const nodeFlag = str("node");
  if (nodeList === undefined && (project?.nodes.length ?? 0) === 0 && (nodeFlag === undefined || nodeFlag === LOCAL_NODE_LABEL)) {
    const stateDir = join(project === null ? process.cwd() : dirname(project.file), ".fixpoint");
    const local = findLocalNode(stateDir);
    if (local !== null) {
      const identity = identityFlag === undefined ? local.identity : loadIdentity(identityFlag);
      const relocate = () => findLocalNode(stateDir)?.target ?? null;
      return { identity, project, targets: [local.target], timeoutMs: timeoutOf(timeoutText), acceptNew: parsed.values["accept-new"] === true, relocate };
    }
  }
  const targets = nodeList === undefined ? resolveTargets(nodeFlag, project) : listedTargets(nodeList, project);
  let identity: KeyPair;
  try {
    identity = loadIdentity(identityFlag);
  } catch (err) {
    const e = toFixpointError(err);
    if (e.code === "IDENTITY_MISSING") {
      throw new FixpointError("IDENTITY_MISSING", `no identity at ${identityPath(identityFlag)}; create one with \`devtool keygen\` and ask the node's operator to authorize its .pub file`);
    }
    throw e;
  }
  return { identity, project, targets, timeoutMs: timeoutOf(timeoutText), acceptNew: parsed.values["accept-new"] === true };
}

function listedTargets(names: string[], project: ProjectConfig | null): Target[] {
  const targets: Target[] = [];
  for (const name of names) {
    const [target] = resolveTargets(name, project);
    if (targets.some((t) => t.label === target!.label)) throw new FixpointError("USAGE", `--nodes names ${target!.label} twice`);
    targets.push(target!);
  }
  return targets;
}

function timeoutOf(text: string | undefined): number | undefined {
  return text === undefined ? undefined : Number(text);
}

/**
 * Runs `work` against every target concurrently (eachNode: at most NODE_FAN_OUT at once), each
 * on its own connection. On a terminal, anything still running after a second is shown on one
 * progress line until it finishes.
 */
export async function fanOut<T>(ctx: Context, work: (conn: ClientConnection, target: Target) => Promise<T>): Promise<NodeOutcome<T>[]> {
  const err = styleFor(process.stderr);
  const waiting = new Set(ctx.targets.map((t) => t.label));
  const progress = process.stderr.isTTY === true ? startProgress(() => (waiting.size === 0 ? "" : `waiting for ${[...waiting].join(", ")}…`)) : null;
  const outcomes = await eachNode(ctx.targets, async (target) => {
    let conn: ClientConnection | undefined;
    try {
      conn = await connectTarget(
        target,
        ctx.identity,
        {
          knownNodesFile: knownNodesPath(),
          acceptNew: ctx.acceptNew,
          onPinned: (t, key) => process.stderr.write(`${err.yellow("pinned")} ${pinnedMessage(t, key, knownNodesPath())}\n`),
        },
        ctx.timeoutMs,
      );
      return await work(conn, target);
    } finally {
      conn?.close();
      waiting.delete(target.label);
    }
  });
  progress?.stop();
  return outcomes;
}

function startProgress(text: () => string): { stop(): void } {
  let shown = false;
  let timer: NodeJS.Timeout | undefined;
  // Nothing is drawn for work that finishes within the first second.
  const delay = setTimeout(() => {
    timer = setInterval(() => {
      const line = text();
      process.stderr.write(`\r\x1b[2K${line}`);
      shown = line !== "";
    }, 250);
    timer.unref();
  }, 1000);
  delay.unref();
  return {
    stop() {
      clearTimeout(delay);
      clearInterval(timer);
      if (shown) process.stderr.write("\r\x1b[2K");
    },
  };
}

/** Exit status for a fan-out: 0 if all succeeded, else the first failure's status. */
export function exitStatusOf(outcomes: NodeOutcome<unknown>[]): number {
  return outcomes.find((o) => o.error !== undefined)?.error?.exitStatus ?? 0;
}

export function printFailures(outcomes: NodeOutcome<unknown>[]): void {
  const style = styleFor(process.stderr);
  for (const o of outcomes) {
    if (o.error !== undefined) process.stderr.write(`${style.red("error")} ${o.target.label}: ${style.bold(o.error.code)}: ${o.error.message}\n`);
  }
}
