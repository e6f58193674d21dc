/**
 * The HTTP side of the dev-loop benchmark: one GET with a deadline, the steady traffic that
 * counts failed requests during edits, and a record of what each URL answered (to tell when
 * the new code serves and whether the hit counter survived).
 */
import { Agent, request } from "node:http";
import { parseAnswer, type Answer } from "./app.js";

/** A request with no answer within this is a failed request. */
export const REQUEST_TIMEOUT_MS = 5000;

export interface Got {
  /** The parsed body of a 200 answer; null if the request failed. */
  answer: Answer | null;
  /** Why it failed (error code, "status 502", "bad body"), when it did. */
  failure?: string;
  /** performance.now() when the answer had arrived in full (or the failure was seen). */
  at: number;
}

export function keepAliveAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets });
}

export function get(url: URL, agent: Agent): Promise<Got> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (got: Omit<Got, "at">) => {
      if (done) return;
      done = true;
      resolve({ ...got, at: performance.now() });
    };
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (err: NodeJS.ErrnoException) => finish({ answer: null, failure: err.code ?? err.message }));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        if (res.statusCode !== 200) return finish({ answer: null, failure: `status ${res.statusCode}` });
        const answer = parseAnswer(body);
        finish(answer === null ? { answer: null, failure: `bad body ${JSON.stringify(body.slice(0, 80))}` } : { answer });
      });
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    req.on("error", (err: NodeJS.ErrnoException) => finish({ answer: null, failure: err.code ?? err.message }));
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Per URL: the highest counter seen under each version, and when a version was first seen. */
export class Seen {
  private readonly byUrl = new Map<string, { maxHits: Map<string, number>; first: Map<string, { at: number; hits: number }> }>();

  record(url: URL, got: Got): void {
    if (got.answer === null) return;
    let entry = this.byUrl.get(url.href);
    if (entry === undefined) this.byUrl.set(url.href, (entry = { maxHits: new Map(), first: new Map() }));
    const { version, hits } = got.answer;
    if ((entry.maxHits.get(version) ?? -1) < hits) entry.maxHits.set(version, hits);
    if (!entry.first.has(version)) entry.first.set(version, { at: got.at, hits });
  }

  maxHits(url: URL, version: string): number | undefined {
    return this.byUrl.get(url.href)?.maxHits.get(version);
  }

  /** The first answer carrying `version`: when it arrived and the counter it showed. */
  first(url: URL, version: string): { at: number; hits: number } | undefined {
    return this.byUrl.get(url.href)?.first.get(version);
  }
}

/**
 * Steady client traffic: `loopsPerUrl` loops per URL, each sending a GET on its own
 * keep-alive connection, waiting for the answer, pausing `pauseMs`, and again. A failed
 * request is counted, and the loop pauses before its next one (no tight retry loop
 * against a server that is down).
 */
export class Traffic {
  requests = 0;
  failures = 0;
  readonly reasons = new Map<string, number>();
  private running = true;
  private readonly loops: Promise<void>[];
  private readonly agents: Agent[] = [];

  constructor(
    urls: URL[],
    loopsPerUrl: number,
    private readonly pauseMs: number,
    private readonly seen: Seen,
  ) {
    this.loops = urls.flatMap((url) =>
      Array.from({ length: loopsPerUrl }, () => {
        const agent = keepAliveAgent(1);
        this.agents.push(agent);
        return this.loop(url, agent);
      }),
    );
  }

  private async loop(url: URL, agent: Agent): Promise<void> {
    while (this.running) {
      const got = await get(url, agent);
      this.requests++;
      this.seen.record(url, got);
      if (got.failure !== undefined) {
        this.failures++;
        this.reasons.set(got.failure, (this.reasons.get(got.failure) ?? 0) + 1);
      }
      await sleep(this.pauseMs);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    for (const a of this.agents) a.destroy();
  }
}

/**
 * Polls `url` until it answers with `version` (or `deadline` passes): back to back on one
 * keep-alive connection with `pauseMs` between requests, retrying after failures (the
 * poller's failures are not counted; the steady traffic's are). Resolves with the time the
 * first answer carrying `version` arrived, or null.
 */
export async function pollFor(url: URL, version: string, seen: Seen, pauseMs: number, deadline: number): Promise<number | null> {
  const agent = keepAliveAgent(1);
  try {
    while (performance.now() < deadline) {
      const got = await get(url, agent);
      seen.record(url, got);
      const first = seen.first(url, version);
      if (first !== undefined) return first.at;
      await sleep(pauseMs);
    }
    return seen.first(url, version)?.at ?? null;
  } finally {
    agent.destroy();
  }
}
