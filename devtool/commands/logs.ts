import { FixpointError, fingerprint, parseCommandLine, styleFor, type Data, type Style } from "../../loader/index.js";
import { knownNodesPath } from "../home.js";
import { NodeSessions } from "../nodes/sessions.js";
import { addressText } from "../nodes/targets.js";
import { shutdown, stopSignal } from "../ui/shutdown.js";
import { CONNECTION_HELP, CONNECTION_OPTIONS, contextFrom, exitStatusOf, printFailures } from "./common.js";

export const HELP = `Usage: devtool logs [--node NAME|HOST:PORT] [--follow] [--lines N] [--json] [options]

Shows the node's log: module console output (tagged with the module) and node events
(pushes, swaps, connections, runtime restarts), tagged by node. With no --node, from every
node in fixpoint.json.

Options:
  --follow, -f           keep streaming new lines until Ctrl-C
  --lines N              how many recent lines to show first (default 50; 0 with --follow for none)
  --json                 one JSON object per line
${CONNECTION_HELP}`;

interface Entry {
  time: string;
  level: string;
  event: string;
  fields: Record<string, Data>;
}

function isEntry(value: Data): value is Data & Entry {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) return false;
  const record = value as { readonly [key: string]: Data };
  return typeof record["event"] === "string" && typeof record["time"] === "string" && typeof record["level"] === "string" && typeof record["fields"] === "object";
}

/** One line: "node  [module] text" for module output, "node  event k=v" for node events. */
export function formatEntry(style: Style, node: string, entry: Entry): string {
  const time = style.dim(entry.time.slice(11, 23));
  const level = entry.level === "error" ? style.red("error") : entry.level === "warn" ? style.yellow("warn ") : style.dim(entry.level.padEnd(5));
  if (entry.event === "module.log") {
    return `${time} ${node} ${level} ${style.bold(`[${String(entry.fields["module"])}]`)} ${String(entry.fields["text"])}`;
  }
  const fields = Object.entries(entry.fields)
    .map(([k, v]) => `${k}=${typeof v === "string" && /\s/.test(v) ? JSON.stringify(v) : String(v)}`)
    .join(" ");
  return `${time} ${node} ${level} ${entry.event}${fields === "" ? "" : " " + style.dim(fields)}`;
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { ...CONNECTION_OPTIONS, follow: { type: "boolean", short: "f" }, lines: { type: "string" }, json: { type: "boolean" } }, 0);
  if (parsed.values["help"] === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const linesText = typeof parsed.values["lines"] === "string" ? parsed.values["lines"] : "50";
  if (!/^\d{1,4}$/.test(linesText) || Number(linesText) > 1000) throw new FixpointError("USAGE", `--lines must be a number from 0 to 1000, got "${linesText}"`);
  const lines = Number(linesText);
  const follow = parsed.values["follow"] === true;
  const json = parsed.values["json"] === true;
  const ctx = contextFrom(parsed);
  const out = styleFor(process.stdout);
  const err = styleFor(process.stderr);
  const print = (node: string, data: Data) => {
    if (!isEntry(data)) return;
    const entry: Entry = data;
    process.stdout.write((json ? JSON.stringify({ node, ...entry }) : formatEntry(out, node, entry)) + "\n");
  };
  const sessions = new NodeSessions(ctx.targets, ctx.identity, {
    knownNodesFile: knownNodesPath(),
    acceptNew: ctx.acceptNew,
    onPinned: (t, key) => process.stderr.write(`${err.yellow("pinned")} ${t.label} (${addressText(t.address)}) with key ${fingerprint(key)}\n`),
  }, ctx.timeoutMs);
  if (follow) {
    sessions.onOpen((conn, target) => conn.onEvent((topic, data) => topic === "log" && print(target.label, data)));
  }
  const outcomes = await sessions.each(async (conn, target) => {
    const result = await conn.request("subscribe", { topics: follow ? ["log"] : [], backlog: lines }, { timeoutMs: 10_000 });
    if (!follow) {
      // Without --follow the request only asks for the backlog; topics [] subscribes to nothing.
      return result;
    }
    for (const entry of result.backlog ?? []) print(target.label, entry);
    return result;
  });
  if (!follow) {
    for (const o of outcomes) for (const entry of o.value?.backlog ?? []) print(o.target.label, entry);
    printFailures(outcomes);
    await sessions.close();
    return exitStatusOf(outcomes);
  }
  printFailures(outcomes);
  if (outcomes.every((o) => o.error !== undefined)) {
    await sessions.close();
    return exitStatusOf(outcomes);
  }
  await stopSignal();
  await shutdown(() => sessions.close());
  return 0;
}
