/**
 * The peers of the guarded restart: the same app as one plain node:http server (bench/upgrade/
 * app.ts), restarted by PM2's `reload` in cluster mode, and by a plain stop-and-start.
 *
 * PM2 is not a dependency of the project: it is installed at run time into bench/.work
 * (git-ignored) if missing, and runs with its own PM2_HOME under the bench's work folder, so it
 * never meets a user's PM2 daemon; `pm2 kill` ends its daemon at the end.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT, freePort, startPlainServer, type Peer } from "../devloop/processes.js";
import { writePlainApp } from "./app.js";
import { getText, type Target } from "./clients.js";

export const PM2_VERSION = "7.0.4";
const PM2_PREFIX = join(ROOT, "bench/.work");
const PM2_BIN = join(PM2_PREFIX, "node_modules/pm2/bin/pm2");
const APP_NAME = "fixpoint-bench-app";

/** Waits until the app answers on `target`. */
export async function waitAnswering(target: Target, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const got = await getText(target, "/m0/count", false);
    if ("body" in got) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`bench: the app on port ${target.port} did not answer within ${timeoutMs} ms`);
}

/** Fills every module's records over HTTP. */
export async function fillAll(target: Target, modules: string[], items: number): Promise<void> {
  for (const m of modules) {
    const got = await getText(target, `/${m}/fill/${items}`, false);
    if (!("body" in got) || got.body !== `filled ${items}`) throw new Error(`bench: filling ${m} failed: ${JSON.stringify(got)}`);
  }
}

/** PM2's CLI, installed into bench/.work if missing; the reason if it cannot be. */
export function ensurePm2(out: (text: string) => void): { bin: string } | { why: string } {
  if (existsSync(PM2_BIN)) return { bin: PM2_BIN };
  out(`installing pm2@${PM2_VERSION} into bench/.work (not a dependency of the project)…`);
  mkdirSync(PM2_PREFIX, { recursive: true });
  const r = spawnSync("npm", ["install", "--no-save", "--no-audit", "--no-fund", "--prefix", PM2_PREFIX, `pm2@${PM2_VERSION}`], { encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0 || !existsSync(PM2_BIN)) return { why: `npm install pm2@${PM2_VERSION} failed (${r.error?.message ?? `status ${r.status}`}): ${(r.stderr ?? "").trim().split("\n").slice(-3).join(" / ")}` };
  return { bin: PM2_BIN };
}

/** The app under PM2 in cluster mode (one instance, as one Fixpoint node runs one runtime). */
export class Pm2App {
  private constructor(
    private readonly bin: string,
    private readonly home: string,
    readonly target: Target,
    readonly dir: string,
  ) {}

  static async start(bin: string, work: string): Promise<Pm2App> {
    const dir = join(work, "pm2-app");
    const home = join(work, "pm2-home");
    mkdirSync(dir, { recursive: true });
    mkdirSync(home, { recursive: true });
    writePlainApp(dir, "v1");
    const port = await freePort();
    const app = new Pm2App(bin, home, { host: "127.0.0.1", port }, dir);
    await app.run(["start", join(dir, "server.js"), "--name", APP_NAME, "-i", "1", "--update-env"], { PORT: String(port) });
    await waitAnswering(app.target);
    return app;
  }

  /** Runs the PM2 CLI without blocking this process's event loop (the clients run here). */
  run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ ms: number; output: string }> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [this.bin, ...args], { cwd: this.dir, env: { ...process.env, PM2_HOME: this.home, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout.on("data", (c: Buffer) => (output += c.toString("utf8")));
      child.stderr.on("data", (c: Buffer) => (output += c.toString("utf8")));
      child.on("error", reject);
      child.on("exit", (code) => (code === 0 ? resolve({ ms: performance.now() - started, output }) : reject(new Error(`pm2 ${args.join(" ")} exited ${code}:\n${output.slice(-2000)}`))));
    });
  }

  /**
   * `pm2 reload` after writing `version` into server.js: PM2's zero-downtime restart in cluster
   * mode; resolves with how long the command took, ms.
   */
  async reload(version: string): Promise<number> {
    writePlainApp(this.dir, version);
    return (await this.run(["reload", APP_NAME])).ms;
  }

  /** `pm2 kill`: stops the app and this PM2_HOME's daemon. */
  async kill(): Promise<void> {
    await this.run(["kill"]).catch(() => undefined);
  }
}

/**
 * Last resort, for a bench that stops early: `pm2 kill` for the PM2_HOME under `work`, if one
 * was made (its daemon is detached and would outlive the bench).
 */
export function killPm2Sync(work: string): void {
  const home = join(work, "pm2-home");
  if (existsSync(PM2_BIN) && existsSync(home)) spawnSync(process.execPath, [PM2_BIN, "kill"], { env: { ...process.env, PM2_HOME: home }, stdio: "ignore", timeout: 30_000 });
}

/** The app as a plain process, restarted by stopping it (SIGTERM, graceful) and starting it again. */
export class PlainApp {
  private peer: Peer;

  private constructor(
    readonly dir: string,
    readonly target: Target,
  ) {
    this.peer = startPlainServer(dir, target.port);
  }

  static async start(work: string): Promise<PlainApp> {
    const dir = join(work, "plain-app");
    mkdirSync(dir, { recursive: true });
    writePlainApp(dir, "v1");
    const app = new PlainApp(dir, { host: "127.0.0.1", port: await freePort() });
    await waitAnswering(app.target);
    return app;
  }

  /** Writes `version` into server.js, then stop, start, until it answers again; resolves with how long that took, ms. */
  async restart(version: string): Promise<number> {
    writePlainApp(this.dir, version);
    const started = performance.now();
    await this.peer.stop();
    this.peer = startPlainServer(this.dir, this.target.port);
    await waitAnswering(this.target);
    return performance.now() - started;
  }

  stop(): Promise<void> {
    return this.peer.stop();
  }
}
