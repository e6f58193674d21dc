import { FixpointError, isLogEntry, LOG_LEVELS, MODULE_NAME, MODULE_NAME_RULE, toFixpointError, type Data, type LogEntry, type LogLevel } from "../../loader/index.js";
import { parseCommandLine } from "../ui/args.js";
import { styleFor, type Style } from "../ui/output.js";
import { type ClientConnection } from "../client/index.js";
import { knownNodesPath } from "../home.js";
import { NodeSessions } from "../nodes/sessions.js";
import { pinnedMessage, connectTarget, type PinOptions, type Target } from "../nodes/targets.js";
import { shutdown, stopSignal } from "../ui/shutdown.js";
import { CONNECTION_HELP, CONNECTION_OPTIONS, contextFrom, exitStatusOf, printFailures, type Context } from "./common.js";

export const HELP = `Usage: devtool logs [--node NAME|HOST:PORT] [--follow] [--lines N] [--module M] [--level L] [--json] [options]

Shows the node's log: module console output (tagged with the module) and node events
(pushes, swaps, runtime restarts), tagged by node. With no --node, from every node in
fixpoint.json. Connections opened and closed in order are left out; one closed with an
error is shown.

--follow keeps following as \`pm2 logs\` does: when a node stops or restarts, it says so on
stderr, reconnects when the node is back and goes on with the lines it missed meanwhile.

Options:
  --follow, -f           keep streaming new lines until Ctrl-C, across node restarts
  --lines N              how many recent lines to show first (default 50; with --follow,
                         0 for none)
  --module M             only module M: its console output and the node's events about it
  --level L              only lines at level L or above: debug, info, warn or error
  --json                 one JSON object per line
${CONNECTION_HELP}`;

/**
 * What a log reader wants to see. Every devtool command opens and closes a connection, so the
 * node logs two lines for each; they drown what the reader came for (issue 12.11). A
 * connection closed with an error code is kept: that one means something went wrong.
 */
export function isNoise(event: string, fields: Record<string, Data | undefined>): boolean {
  return event === "connection.opened" || (event === "connection.closed" && (fields["code"] === undefined || fields["code"] === "CHANNEL_CLOSED"));
}

export interface EntryFilter {
  module?: string;
  /** Minimum level. */
  level?: LogLevel;
}

export function passes(entry: LogEntry, filter: EntryFilter): boolean {
  if (isNoise(entry.event, entry.fields)) return false;
  if (filter.module !== undefined && entry.fields["module"] !== filter.module) return false;
  if (filter.level !== undefined && LOG_LEVELS.indexOf(entry.level) < LOG_LEVELS.indexOf(filter.level)) return false;
  return true;
}

/** One line: "node  [module] text" for module output, "node  event k=v" for node events. */
export function formatEntry(style: Style, node: string, entry: LogEntry): string {
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
  const parsed = parseCommandLine(
    args,
    { ...CONNECTION_OPTIONS, follow: { type: "boolean", short: "f" }, lines: { type: "string" }, json: { type: "boolean" }, module: { type: "string" }, level: { type: "string" } },
    0,
  );
  if (parsed.values["help"] === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const linesText = typeof parsed.values["lines"] === "string" ? parsed.values["lines"] : "50";
  if (!/^\d{1,4}$/.test(linesText) || Number(linesText) > 1000) throw new FixpointError("USAGE", `--lines must be a number from 0 to 1000, got "${linesText}"`);
  const filter: EntryFilter = {};
  const moduleFlag = parsed.values["module"];
  if (typeof moduleFlag === "string") {
    if (!MODULE_NAME.test(moduleFlag)) throw new FixpointError("USAGE", `--module must be a module name (${MODULE_NAME_RULE}), got "${moduleFlag}"`);
    filter.module = moduleFlag;
  }
  const levelFlag = parsed.values["level"];
  if (typeof levelFlag === "string") {
    const level = LOG_LEVELS.find((l) => l === levelFlag);
    if (level === undefined) throw new FixpointError("USAGE", `--level must be one of ${LOG_LEVELS.join(", ")}, got "${levelFlag}"`);
    filter.level = level;
  }
  const lines = Number(linesText);
  const follow = parsed.values["follow"] === true;
  const json = parsed.values["json"] === true;
  const ctx = contextFrom(parsed);
  const out = styleFor(process.stdout);
  const err = styleFor(process.stderr);
  const print = (node: string, entry: LogEntry) => process.stdout.write((json ? JSON.stringify({ node, ...entry }) : formatEntry(out, node, entry)) + "\n");
  // The backlog is asked in full (the node keeps 1000 lines) and the last N that pass the filters are shown.
  const recent = (backlog: LogEntry[]): LogEntry[] => (lines === 0 ? [] : backlog.filter((e) => passes(e, filter)).slice(-lines));
  const pin: PinOptions = {
    knownNodesFile: knownNodesPath(),
    acceptNew: ctx.acceptNew,
    onPinned: (t, key) => process.stderr.write(`${err.yellow("pinned")} ${pinnedMessage(t, key, knownNodesPath())}\n`),
  };
  if (!follow) {
    const sessions = new NodeSessions(ctx.targets, ctx.identity, pin, ctx.timeoutMs);
    const outcomes = await sessions.each((conn) => conn.request("subscribe", { topics: [], backlog: 1000 }, { timeoutMs: 10_000 }));
    for (const o of outcomes) for (const entry of recent((o.value?.backlog ?? []).filter(isLogEntry))) print(o.target.label, entry);
    printFailures(outcomes);
    await sessions.close();
    return exitStatusOf(outcomes);
  }

  const stopping = stopSignal();
  const followers = ctx.targets.map((target) => new Follower(target, ctx, pin, (entry) => passes(entry, filter) && print(target.label, entry), (text) => process.stderr.write(`${err.yellow("logs")} ${text}\n`)));
  const ended = Promise.all(
    followers.map(async (f) => {
      const error = await f.run(recent);
      return { target: f.target, ...(error === null ? {} : { error }) };
    }),
  );
  const why = await Promise.race([stopping.then(() => "stopped" as const), ended.then(() => "ended" as const)]);
  if (why === "ended") {
    // Every node failed, at the start or with an error reconnecting cannot cure.
    const outcomes = await ended;
    printFailures(outcomes);
    return exitStatusOf(outcomes);
  }
  await shutdown(async () => {
    for (const f of followers) f.stop();
    await ended;
  });
  return 0;
}

/** Retry delays after a lost connection, the last one repeated. */
const RETRY_MS = [100, 250, 500, 1000, 2000];

/**
 * Errors that a reconnect cannot cure: the node no longer trusts us, or is not the node we
 * pinned. Anything else (refused connection, node shutting down, heartbeat lost) is a node
 * stopping or restarting, and is waited out.
 */
const FINAL_CODES = new Set(["UNKNOWN_IDENTITY", "NODE_KEY_MISMATCH", "NODE_KEY_UNPINNED", "FORBIDDEN", "PROTOCOL_VERSION", "IDENTITY_INVALID", "IDENTITY_MISSING"]);

/** Follows one node's log across lost connections and node restarts. */
class Follower {
  private conn: ClientConnection | null = null;
  private stopped = false;
  private wake: () => void = () => {};
  /** The time of the last entry shown, and the entries at that time (a reconnect's backlog overlaps). */
  private lastTime = "";
  private atLastTime = new Set<string>();

  constructor(
    readonly target: Target,
    private readonly ctx: Context,
    private readonly pin: PinOptions,
    private readonly show: (entry: LogEntry) => void,
    private readonly say: (text: string) => void,
  ) {}

  stop(): void {
    this.stopped = true;
    this.conn?.close();
    this.wake();
  }

  private showOnce(entry: LogEntry): void {
    const key = JSON.stringify(entry);
    if (entry.time < this.lastTime || (entry.time === this.lastTime && this.atLastTime.has(key))) return;
    if (entry.time !== this.lastTime) this.atLastTime.clear();
    this.lastTime = entry.time;
    this.atLastTime.add(key);
    this.show(entry);
  }

  /** Resolves with null when stopped, or with the error that ended following. */
  async run(firstLines: (backlog: LogEntry[]) => LogEntry[]): Promise<FixpointError | null> {
    let first = true;
    let lost: string | null = null;
    let attempt = 0;
    while (!this.stopped) {
      try {
        // The local node of a restarted `devtool dev` listens on a new port.
        const target = this.ctx.relocate?.() ?? this.target;
        const conn = await connectTarget(target, this.ctx.identity, this.pin, this.ctx.timeoutMs);
        this.conn = conn;
        if (this.stopped) conn.close();
        const closed = new Promise<FixpointError | null>((resolve) => conn.onClose(resolve));
        const early: LogEntry[] = [];
        let live = false;
        conn.onEvent((topic, data) => {
          if (topic !== "log" || !isLogEntry(data)) return;
          if (live) this.showOnce(data);
          else early.push(data);
        });
        // Everything the node still holds: at first its last lines are shown; after a
        // reconnect, what was missed meanwhile (newer than the last line seen, by the node's clock).
        const result = await conn.request("subscribe", { topics: ["log"], backlog: 1000 }, { timeoutMs: 10_000 });
        const backlog = (result.backlog ?? []).filter(isLogEntry);
        if (first) {
          for (const entry of firstLines(backlog)) this.showOnce(entry);
          const newest = backlog.at(-1)?.time;
          if (newest !== undefined && newest > this.lastTime) {
            this.lastTime = newest;
            this.atLastTime = new Set(backlog.filter((e) => e.time === newest).map((e) => JSON.stringify(e)));
          }
        } else {
          for (const entry of backlog) this.showOnce(entry);
        }
        for (const entry of early) this.showOnce(entry);
        live = true;
        if (lost !== null) this.say(`${this.target.label}: reconnected`);
        first = false;
        lost = null;
        attempt = 0;
        const reason = await closed;
        this.conn = null;
        if (this.stopped) break;
        lost = reason === null ? "closed" : `${reason.code}: ${reason.message}`;
        this.say(`${this.target.label}: connection lost (${lost}); reconnecting when the node is back (Ctrl-C stops)`);
      } catch (e) {
        if (this.stopped) break;
        const error = toFixpointError(e);
        if (first || FINAL_CODES.has(error.code)) return error;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]);
        this.wake = () => (clearTimeout(timer), resolve());
      });
    }
    return null;
  }
}
