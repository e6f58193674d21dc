/** What `upgrade` and `rollback` share: connecting to every target, running the rollout, printing it. */
import { FixpointError, toFixpointError } from "../../loader/index.js";
import { styleFor, type Style } from "../ui/output.js";
import { type ClientConnection } from "../client/index.js";
import { type Parsed } from "../ui/args.js";
import { knownNodesPath } from "../home.js";
import { connectTarget, pinnedMessage } from "../nodes/targets.js";
import { runRollout, type NodeFate, type RolloutEvent, type RolloutOptions, type RolloutReport } from "../release/index.js";
import { CONNECTION_OPTIONS, DEADLINE_OPTION, contextFrom, printFailures, type Context } from "./common.js";
import type { NodeOutcome as Outcome } from "../nodes/fan-out.js";

export const ROLLING_OPTIONS = { ...CONNECTION_OPTIONS, ...DEADLINE_OPTION, nodes: { type: "string" } } as const;

export const ROLLING_CONNECTION_HELP = `  --nodes A,B,…          the nodes, in the order to restart them: names in fixpoint.json or
                         HOST:PORT (default: every node in fixpoint.json, in its order);
                         --node is the same
  --deadline-ms N        how long to wait for one node's answer to a stage or a restart
                         (default 60000)
  --identity FILE        your key (default $FIXPOINT_IDENTITY or ~/.fixpoint/id_ed25519)
  --config FILE          the project file (default: the nearest fixpoint.json)
  --accept-new           pin a node not pinned yet, recording it in ~/.fixpoint/known_nodes
  --timeout-ms N         deadline to connect and finish the handshake (default 5000)
`;

/** The connection context, with --nodes (or --node) as an ordered list. */
export function rollingContext(parsed: Parsed): Context {
  const text = [parsed.values["nodes"], parsed.values["node"]].filter((v): v is string => typeof v === "string");
  if (text.length > 1) throw new FixpointError("USAGE", "give --nodes or --node, not both");
  const names = text[0]?.split(",").map((n) => n.trim());
  if (names !== undefined && names.some((n) => n === "")) throw new FixpointError("USAGE", `--nodes must be names or HOST:PORT separated by commas, got "${text[0]}"`);
  return contextFrom(parsed, names);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)}s`;

function describeFate(style: Style, fate: NodeFate, number: number): string {
  switch (fate.kind) {
    case "upgraded":
      return fate.from === fate.to
        ? style.green(`already on release ${fate.to}`)
        : `${style.green(`${fate.from === 0 ? "dev modules" : `release ${fate.from}`} → ${fate.to}`)} ${style.dim(`out of service ${fate.outOfServiceMs.toFixed(0)} ms`)}`;
    case "rolled-back":
      return `${style.red("rolled back")} ${style.bold(fate.error.code)}: ${fate.error.message}`;
    case "refused":
      return `${style.red("refused")} ${style.bold(fate.error.code)}: ${fate.error.message}`;
    case "unknown":
      return `${style.red("no answer")} ${style.bold(fate.error.code)}: ${fate.error.message}; see \`devtool status\``;
    case "untouched":
      return style.yellow(`untouched${fate.staged ? ` (release ${number} staged)` : ""}`);
  }
}

/** One progress line per node and step, as they happen. */
function progressLine(style: Style, e: RolloutEvent, number: number, rollback: boolean): string | null {
  const when = style.dim(`+${seconds(e.at)}`.padStart(8));
  const took = e.ms === undefined ? "" : style.dim(`  ${e.ms.toFixed(0)} ms`);
  switch (e.step) {
    case "stage":
    case "check":
      return null;
    case "staged":
      return `${when} ${e.node}  staged release ${number}${e.bundlesSent === 0 ? " (it had every bundle)" : `, ${e.bundlesSent} bundle(s) sent`}${took}`;
    case "checked":
      return e.unhealthy === undefined
        ? `${when} ${e.node}  ${e.checked === 0 ? "no other node to check" : `${e.checked} other node(s) ready and healthy`}${took}`
        : `${when} ${e.node}  ${style.red("not restarted")}: ${e.unhealthy.node}: ${e.unhealthy.why}${took}`;
    case "restart":
      return `${when} ${e.node}  ${rollback ? `rolling back to release ${number}` : `restarting on release ${number}`}…`;
    case "done":
      return `${when} ${e.node}  ${describeFate(style, e.fate!, number)}${took}`;
  }
}

/**
 * Connects to every target (all or nothing: a rollout that cannot reach a node does not
 * start), runs the rollout with its progress on stdout, prints what happened on each node,
 * and returns the exit status: 0 only if every node is on release `number`.
 */
export async function runRolling(ctx: Context, o: Omit<RolloutOptions, "onEvent">): Promise<number> {
  const out = styleFor(process.stdout);
  const err = styleFor(process.stderr);
  const connected: Outcome<ClientConnection>[] = await Promise.all(
    ctx.targets.map(async (target) => {
      try {
        const conn = await connectTarget(
          target,
          ctx.identity,
          { knownNodesFile: knownNodesPath(), acceptNew: ctx.acceptNew, onPinned: (t, key) => process.stderr.write(`${err.yellow("pinned")} ${pinnedMessage(t, key, knownNodesPath())}\n`) },
          ctx.timeoutMs,
        );
        return { target, value: conn };
      } catch (e) {
        return { target, error: toFixpointError(e) };
      }
    }),
  );
  try {
    if (connected.some((c) => c.error !== undefined)) {
      printFailures(connected);
      process.stderr.write(`${err.red("error")} ${o.rollback ? "rollback" : "upgrade"} not started: every node must be reachable first; nothing was sent\n`);
      return connected.find((c) => c.error !== undefined)!.error!.exitStatus;
    }
    const nodes = connected.map((c) => ({ label: c.target.label, conn: c.value! }));
    process.stdout.write(
      out.bold(o.rollback ? `rollback to release ${o.number}` : `upgrade to release ${o.number}`) +
        ` on ${nodes.length} node(s): ${nodes.map((n) => n.label).join(", ")}` +
        out.dim(`, ${o.maxUnavailable ?? 1} at a time\n`),
    );
    const report = await runRollout(nodes, {
      ...o,
      onEvent: (e) => {
        const line = progressLine(out, e, o.number, o.rollback);
        if (line !== null) process.stdout.write(line + "\n");
      },
    });
    printReport(report, o.number, o.rollback);
    return report.stopped === null && report.fates.every((f) => f.fate.kind === "upgraded") ? 0 : (report.stopped?.exitStatus ?? 1);
  } finally {
    for (const c of connected) c.value?.close();
  }
}

function printReport(report: RolloutReport, number: number, rollback: boolean): void {
  const out = styleFor(process.stdout);
  const err = styleFor(process.stderr);
  const width = Math.max(...report.fates.map((f) => f.node.length));
  const what = rollback ? `rollback to release ${number}` : `upgrade to release ${number}`;
  process.stdout.write(
    `\n${report.stopped === null ? out.green(`${what} done`) : out.red(`${what} stopped`)} in ${seconds(report.ms)}\n` +
      report.fates.map((f) => `  ${f.node.padEnd(width)}  ${describeFate(out, f.fate, number)}\n`).join(""),
  );
  if (report.stopped !== null) process.stderr.write(`${err.red("error")} ${err.bold(report.stopped.code)}: ${report.stopped.message}\n`);
}
