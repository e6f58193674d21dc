import { fingerprint, type ResultOf } from "../../loader/index.js";
import { parseCommandLine } from "../ui/args.js";
import { styleFor, type Style } from "../ui/output.js";
import { addressText } from "../nodes/targets.js";
import { CONNECTION_HELP, CONNECTION_OPTIONS, contextFrom, exitStatusOf, fanOut, printFailures } from "./common.js";

export const HELP = `Usage: devtool status [--node NAME|HOST:PORT] [--json] [options]

Shows each node's name, key, mode, release (its number, how long ago it was committed, and
the releases the node holds), readiness (not ready during a guarded restart), uptime, memory,
connections, and its modules: digest, size, whether live, health (for modules with a health
check), life (current, loading, restoring, failed and why) and when their state was last
saved. With no --node, asks every node in fixpoint.json at once. Exits 0 only if every node
answered.

Options:
  --json                 one JSON object per node on stdout, one per line
${CONNECTION_HELP}`;

function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

/** "5m12s ago", from an ISO time; the text itself if it does not parse. */
function ago(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : `${formatDuration(Math.max(0, now - t))} ago`;
}

function size(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : mb(bytes);
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { ...CONNECTION_OPTIONS, json: { type: "boolean" } }, 0);
  if (parsed.values["help"] === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const json = parsed.values["json"] === true;
  const ctx = contextFrom(parsed);
  const outcomes = await fanOut(ctx, (conn) => conn.request("status", {}, { timeoutMs: 10_000 }));
  const out = styleFor(process.stdout);
  // A node of another cluster than the project's is worth a word, not a silent mismatch (issue 12.11).
  const clusterNote = (cluster: string) => (ctx.project === null || ctx.project.cluster === cluster ? "" : " " + out.yellow(`(${ctx.project.file} says cluster ${ctx.project.cluster})`));
  for (const { target, value, error } of outcomes) {
    if (json) {
      const line = value === undefined ? { node: target.label, address: addressText(target.address), error: error?.toData() } : { node: target.label, address: addressText(target.address), ...toJson(value) };
      process.stdout.write(JSON.stringify(line) + "\n");
      continue;
    }
    if (value === undefined) continue;
    process.stdout.write(
      `${out.bold(value.name)} ${out.dim(`${addressText(target.address)} cluster ${value.cluster}`)}${clusterNote(value.cluster)}\n` +
        `  key          ${fingerprint(value.publicKey)}\n` +
        `  mode         ${value.mode === "production" ? out.yellow(value.mode) : out.green(value.mode)}\n` +
        `  release      ${releaseText(out, value)}\n` +
        `  ready        ${value.ready === false ? out.red("no (in a guarded restart: draining or restarting)") : out.green("yes")}\n` +
        `  version      fixpoint ${value.version}, protocol ${value.protocolVersion}, pid ${value.pid}\n` +
        `  uptime       ${formatDuration(value.uptimeMs)} (since ${value.startedAt})\n` +
        `  memory       rss ${mb(value.memory.rss)}, heap ${mb(value.memory.heapUsed)}\n` +
        `  connections  ${value.connections.active} active, ${value.connections.pending} in handshake\n` +
        `  modules      ${value.modules.length === 0 ? out.dim("none") : ""}\n` +
        value.modules
          .map((m) => {
            const health = m.health === undefined ? "" : m.health.ok ? `, ${out.green("healthy")}` : `, ${out.red("UNHEALTHY")}${m.health.detail === undefined ? "" : ` (${m.health.detail})`}`;
            const live = m.running ? out.green(`v${m.version ?? "?"} live`) + health + out.dim(`, ${m.calls ?? 0} calls, heap ${mb(m.heapUsed ?? 0)}`) : out.yellow("not running");
            const life = m.status === undefined || m.status === "current" ? "" : `  ${m.status === "failed" ? out.red(m.status) : out.yellow(m.status)}${m.error === undefined ? "" : ` ${out.bold(m.error.code)}: ${m.error.message}`}`;
            const state = m.state === undefined ? out.dim("state not saved yet") : out.dim(`state ${size(m.state.bytes)} saved ${ago(m.state.savedAt)}`);
            return `    ${m.name.padEnd(20)} ${m.digest.slice(0, 12)}  ${String(m.size).padStart(8)} B  ${live}${life}  ${state}  ${out.dim(`built ${m.builtAt}`)}\n`;
          })
          .join(""),
    );
  }
  printFailures(outcomes);
  return exitStatusOf(outcomes);
}

function releaseText(out: Style, value: ResultOf<"status">): string {
  const r = value.release;
  if (r === undefined) return out.dim("unknown (an older node)");
  const held = r.held.length === 0 ? "" : out.dim(`; holds ${r.held.join(", ")}`);
  if (r.number === undefined) return `${out.dim(value.mode === "production" ? "none yet (its dev modules)" : "none (dev mode: pushed modules)")}${held}`;
  return `${out.bold(String(r.number))}${r.committedAt === undefined ? "" : `, committed ${ago(r.committedAt)} (${r.committedAt})`}${held}`;
}

function toJson(value: ResultOf<"status">): Record<string, unknown> {
  return { ...value, publicKey: Buffer.from(value.publicKey).toString("base64"), fingerprint: fingerprint(value.publicKey) };
}
