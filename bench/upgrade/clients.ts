/**
 * HTTP clients that retry nothing, as the upgrade benchmark's traffic: a loop sends a GET,
 * waits for its answer (or its failure), pauses, and sends the next. A `fresh` loop opens a
 * new connection per request (agent: false), so it sees whether the node accepts connections
 * throughout; a `keep-alive` loop reuses one connection per node, so it sees what a restart
 * does to an open connection (closed under it while idle, or answered and then closed).
 * Each request picks its node: one node, or the next of several (clients spread over nodes).
 */
import { Agent, request } from "node:http";
import { parseHit } from "./app.js";

/** A request with no answer within this is a failed request (the clients retry nothing). */
export const REQUEST_TIMEOUT_MS = 5000;

export type LoopKind = "fresh" | "keep-alive";

export interface Target {
  host: string;
  port: number;
}

/** GET `path` on `target`; the body of a 200 answer, or why it failed. */
export function getText(target: Target, path: string, agent: Agent | false): Promise<{ body: string } | { failure: string }> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: { body: string } | { failure: string }) => {
      if (!done) (done = true), resolve(r);
    };
    const req = request({ host: target.host, port: target.port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (err: NodeJS.ErrnoException) => finish({ failure: err.code ?? err.message }));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        finish(res.statusCode === 200 ? { body } : { failure: `status ${res.statusCode}` });
      });
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    req.on("error", (err: NodeJS.ErrnoException) => finish({ failure: err.code ?? err.message }));
    req.end();
  });
}

export interface LoopReport {
  kind: LoopKind;
  requests: number;
  /** Connections refused (ECONNREFUSED): the port was closed. */
  refused: number;
  /** Every other failure: reset, hang-up, timeout, a non-200 status, a body not of the app. */
  failed: number;
  reasons: Map<string, number>;
  /**
   * Longest time between two answered requests, ms (includes one request's own latency), or
   * from the last answer to the end of the traffic if that is longer.
   */
  longestGapMs: number;
  /** Longest time one answered request took, ms (a held connection waits this long). */
  slowestMs: number;
  /** Answered requests per "PORT/module" (to check the counters moved by at least this much). */
  answeredPerModule: Map<string, number>;
  /** Versions answered, in order of first appearance. */
  versions: string[];
  /** Per "PORT/module" and version: the lowest and highest counter answered. */
  hitRange: Map<string, Map<string, { min: number; max: number }>>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One client loop. `targets` are tried in turn, one per request (one target: always that one);
 * `modules` likewise for the path. Stop with stop(), which resolves with the report.
 */
export class ClientLoop {
  private running = true;
  private readonly done: Promise<void>;
  private readonly agent: Agent | false;
  private readonly report: LoopReport;
  private lastAnswerAt: number | null = null;

  constructor(
    kind: LoopKind,
    private readonly targets: Target[],
    private readonly modules: string[],
    private readonly pauseMs: number,
  ) {
    // One connection per node for keep-alive (an Agent pools per host:port).
    this.agent = kind === "fresh" ? false : new Agent({ keepAlive: true, maxSockets: 1 });
    this.report = { kind, requests: 0, refused: 0, failed: 0, reasons: new Map(), longestGapMs: 0, slowestMs: 0, answeredPerModule: new Map(), versions: [], hitRange: new Map() };
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    const r = this.report;
    for (let i = 0; this.running; i++) {
      const target = this.targets[i % this.targets.length]!;
      // Every node sees every module: the module moves on once per round of the nodes.
      const module = this.modules[Math.floor(i / this.targets.length) % this.modules.length]!;
      const sent = performance.now();
      const got = await getText(target, `/${module}/`, this.agent);
      const at = performance.now();
      r.requests++;
      const hit = "body" in got ? parseHit(got.body) : null;
      if (hit === null) {
        const why = "failure" in got ? got.failure : `bad body ${JSON.stringify(got.body.slice(0, 60))}`;
        if (why === "ECONNREFUSED") r.refused++;
        else r.failed++;
        r.reasons.set(why, (r.reasons.get(why) ?? 0) + 1);
      } else {
        if (this.lastAnswerAt !== null) r.longestGapMs = Math.max(r.longestGapMs, at - this.lastAnswerAt);
        this.lastAnswerAt = at;
        r.slowestMs = Math.max(r.slowestMs, at - sent);
        const key = `${target.port}/${hit.module}`;
        r.answeredPerModule.set(key, (r.answeredPerModule.get(key) ?? 0) + 1);
        if (!r.versions.includes(hit.version)) r.versions.push(hit.version);
        const ranges = r.hitRange.get(key) ?? r.hitRange.set(key, new Map()).get(key)!;
        const range = ranges.get(hit.version);
        if (range === undefined) ranges.set(hit.version, { min: hit.hits, max: hit.hits });
        else (range.min = Math.min(range.min, hit.hits)), (range.max = Math.max(range.max, hit.hits));
      }
      await sleep(this.pauseMs);
    }
    // A service that never answered again: the gap runs to the end of the traffic.
    if (this.lastAnswerAt !== null) r.longestGapMs = Math.max(r.longestGapMs, performance.now() - this.lastAnswerAt);
  }

  async stop(): Promise<LoopReport> {
    this.running = false;
    await this.done;
    if (this.agent !== false) this.agent.destroy();
    return this.report;
  }
}

/** "none" or "3 (ECONNREFUSED 2, ECONNRESET 1)". */
export function failuresText(r: LoopReport): string {
  const n = r.refused + r.failed;
  return n === 0 ? "0" : `${n} (${[...r.reasons].map(([why, k]) => `${why} ${k}`).join(", ")})`;
}

/**
 * Every module's "<hits> <items>" on `target` (read without counting), by "PORT/module", or
 * null for a module that does not answer.
 */
export async function readCounters(target: Target, modules: string[]): Promise<Map<string, { hits: number; items: number } | null>> {
  const out = new Map<string, { hits: number; items: number } | null>();
  for (const m of modules) {
    const got = await getText(target, `/${m}/count`, false);
    const parts = "body" in got ? /^(\d+) (\d+)$/.exec(got.body) : null;
    out.set(`${target.port}/${m}`, parts === null ? null : { hits: Number(parts[1]), items: Number(parts[2]) });
  }
  return out;
}

/**
 * Whether every module kept its state: its records all there, its counter moved by at least
 * the requests answered meanwhile. "10/10 kept", or what was lost.
 */
export function stateVerdict(
  before: Map<string, { hits: number; items: number } | null>,
  after: Map<string, { hits: number; items: number } | null>,
  answered: Map<string, number>,
): { kept: boolean; text: string } {
  let kept = 0;
  const lost: string[] = [];
  for (const [m, b] of before) {
    const a = after.get(m) ?? null;
    const expected = (b?.hits ?? 0) + (answered.get(m) ?? 0);
    if (b !== null && a !== null && a.items === b.items && a.hits >= expected) kept++;
    else if (lost.length < 2) lost.push(`${m}: hits ${b?.hits ?? "?"}+${answered.get(m) ?? 0} answered → ${a?.hits ?? "?"}, records ${b?.items ?? "?"} → ${a?.items ?? "?"}`);
  }
  const total = before.size;
  return { kept: kept === total, text: kept === total ? `yes (${kept}/${total} counters and records kept)` : `NO (${kept}/${total} kept; ${lost.join("; ")})` };
}

/**
 * Hits the old version answered after the state it handed over was saved: per module, the old
 * version's highest counter minus (the new version's lowest - 1), summed. Each is a request a
 * client saw answered whose effect the new release does not have.
 */
export function hitsAfterSave(reports: LoopReport[], oldVersion: string, newVersion: string): number {
  const ranges = new Map<string, { oldMax: number; newMin: number }>();
  for (const r of reports) {
    for (const [key, byVersion] of r.hitRange) {
      const o = byVersion.get(oldVersion);
      const n = byVersion.get(newVersion);
      const e = ranges.get(key) ?? { oldMax: -Infinity, newMin: Infinity };
      if (o !== undefined) e.oldMax = Math.max(e.oldMax, o.max);
      if (n !== undefined) e.newMin = Math.min(e.newMin, n.min);
      ranges.set(key, e);
    }
  }
  let lost = 0;
  for (const { oldMax, newMin } of ranges.values()) if (Number.isFinite(oldMax) && Number.isFinite(newMin)) lost += Math.max(0, oldMax - (newMin - 1));
  return lost;
}

/** Sums reports of the same kind (several loops, or several nodes). */
export function answeredSum(reports: LoopReport[]): Map<string, number> {
  const sum = new Map<string, number>();
  for (const r of reports) for (const [m, n] of r.answeredPerModule) sum.set(m, (sum.get(m) ?? 0) + n);
  return sum;
}
