import { fingerprint, parseCommandLine, styleFor, type ResultOf } from "../../loader/index.js";
import { addressText } from "../nodes/targets.js";
import { CONNECTION_HELP, CONNECTION_OPTIONS, contextFrom, exitStatusOf, fanOut, printFailures } from "./common.js";

export const HELP = `Usage: devtool status [--node NAME|HOST:PORT] [--json] [options]

Shows each node's name, key, mode, uptime, modules with their digests, health (for
modules with a health check), memory and connections. With no --node, asks every node in
fixpoint.json at once. Exits 0 only if every node answered.

Options:
  --json                 one JSON object per node on stdout, one per line
${CONNECTION_HELP}`;

function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
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
        `  version      fixpoint ${value.version}, protocol ${value.protocolVersion}, pid ${value.pid}\n` +
        `  uptime       ${formatDuration(value.uptimeMs)} (since ${value.startedAt})\n` +
        `  memory       rss ${mb(value.memory.rss)}, heap ${mb(value.memory.heapUsed)}\n` +
        `  connections  ${value.connections.active} active, ${value.connections.pending} in handshake\n` +
        `  modules      ${value.modules.length === 0 ? out.dim("none") : ""}\n` +
        value.modules
          .map((m) => {
            const health = m.health === undefined ? "" : m.health.ok ? `, ${out.green("healthy")}` : `, ${out.red("UNHEALTHY")}${m.health.detail === undefined ? "" : ` (${m.health.detail})`}`;
            const live = m.running ? out.green(`v${m.version ?? "?"} live`) + health + out.dim(`, ${m.calls ?? 0} calls, heap ${mb(m.heapUsed ?? 0)}`) : out.yellow("not running");
            return `    ${m.name.padEnd(20)} ${m.digest.slice(0, 12)}  ${String(m.size).padStart(8)} B  ${live}  ${out.dim(`built ${m.builtAt}`)}\n`;
          })
          .join(""),
    );
  }
  printFailures(outcomes);
  return exitStatusOf(outcomes);
}

function toJson(value: ResultOf<"status">): Record<string, unknown> {
  return { ...value, publicKey: Buffer.from(value.publicKey).toString("base64"), fingerprint: fingerprint(value.publicKey) };
}
