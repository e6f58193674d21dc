/**
 * Issue 12.1: a failure while a node starts must stop what was started and exit with its code,
 * and `devtool dev` must never leave a process behind — with a busy port, with Ctrl-C while
 * its node is still starting, and after a normal Ctrl-C.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { ROOT, runCli, spawnCli, tempDir } from "../helpers/processes.js";

/** Listens on host:port, or resolves null if someone else already does (taken either way). */
function occupy(port: number, host = "127.0.0.1"): Promise<Server | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(null));
    server.listen(port, host, () => resolve(server));
  });
}

/** Every live process below `pid`, from /proc. */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // The parent is the 2nd field after the parenthesised command name.
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(Number(name), ppid);
    } catch {
      // Gone while we looked.
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of parents) if (parent === p) (out.push(child), walk(child));
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const state = readFileSync(`/proc/${pid}/stat`, "utf8");
    return state.slice(state.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function allGone(pids: number[], withinMs = 5000): Promise<number[]> {
  const deadline = Date.now() + withinMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return pids.filter(alive);
}

function exampleApp(): string {
  const app = join(tempDir("fixpoint-dev-ports-"), "app");
  cpSync(join(ROOT, "examples"), app, { recursive: true, filter: (src) => !src.includes(".fixpoint") });
  return app;
}

describe("loader start with a port it cannot have", () => {
  test("exits 2 with CONFIG_INVALID naming EADDRINUSE, and its runtime process is gone", { timeout: 30_000 }, async () => {
    const blocker = await occupy(0);
    const port = (blocker!.address() as { port: number }).port;
    try {
      const data = join(tempDir(), "node");
      assert.equal(runCli("loader", ["init", "--data", data]).status, 0);
      const started = Date.now();
      const loader = spawnCli("loader", ["start", "--data", data, "--listen", "127.0.0.1:0", "--http", `127.0.0.1:${port}`, "--log-format", "json"]);
      const runtime = await loader.waitFor(/"event":"runtime\.up"[^\n]*"pid":(\d+)/);
      const status = await new Promise<number | null>((resolve) => loader.child.once("exit", resolve));
      assert.equal(status, 2, loader.output().stderr);
      assert.ok(Date.now() - started < 15_000);
      assert.match(loader.output().stderr, /error CONFIG_INVALID: cannot serve HTTP on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/);
      assert.deepEqual(await allGone([Number(runtime[1])]), [], "the runtime process was stopped");
    } finally {
      blocker!.close();
    }
  });
});

describe("devtool dev and its local node's processes", () => {
  test("with 127.0.0.1:8080 taken, serves on another port, refuses a second dev in the project, and leaves nothing behind after Ctrl-C", { timeout: 60_000 }, async () => {
    const blocker = await occupy(8080);
    const app = exampleApp();
    const env = { FIXPOINT_HOME: tempDir() };
    const dev = spawnCli("devtool", ["dev", app], { env });
    try {
      const [, port] = (await dev.waitFor(/http:\/\/127\.0\.0\.1:(\d+)\//, 30_000)) as unknown as [string, string];
      assert.notEqual(port, "8080");
      assert.match(dev.output().stderr, /127\.0\.0\.1:8080 is in use; serving HTTP on a free port instead/);
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 200);
      await res.text();

      // Issue 12.12: the first run says where its private keys went, and keeps them out of git.
      assert.match(dev.output().stderr, /Created a local node and a developer key \(private keys\) in \S*\.fixpoint\/; it is git-ignored by \S*\.fixpoint\/\.gitignore/);
      assert.equal(spawnSync("git", ["init", "-q", app]).status, 0);
      const untracked = spawnSync("git", ["-C", app, "status", "--porcelain", "--untracked-files=all"], { encoding: "utf8" }).stdout;
      assert.match(untracked, /index\.ts/);
      assert.doesNotMatch(untracked, /\.fixpoint/, "nothing under .fixpoint/ would be committed");

      const second = runCli("devtool", ["dev", app], { env });
      assert.equal(second.status, 2);
      assert.match(second.stderr, /error ALREADY_RUNNING: a devtool dev already runs for/);

      const below = descendants(dev.child.pid!);
      assert.ok(below.length >= 2, `a loader and its runtime run below dev: ${below}`);
      assert.equal(await dev.stop("SIGINT"), 0);
      assert.deepEqual(await allGone(below), [], "no process left after Ctrl-C");
    } finally {
      await dev.stop("SIGKILL");
      blocker?.close();
    }
  });

  test("a Ctrl-C while the local node is still starting stops the node too", { timeout: 60_000 }, async () => {
    const dev = spawnCli("devtool", ["dev", exampleApp(), "--http", "127.0.0.1:0"], { env: { FIXPOINT_HOME: tempDir() } });
    try {
      // Wait for the loader process to exist, then interrupt dev alone (not its group, as a
      // terminal would), before the node has said it started.
      let below: number[] = [];
      const deadline = Date.now() + 20_000;
      while ((below = descendants(dev.child.pid!)).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.ok(below.length > 0, "dev started a loader");
      assert.equal(await dev.stop("SIGINT"), 0);
      assert.doesNotMatch(dev.output().stdout, /Fixpoint dev/);
      const later = [...new Set([...below, ...descendants(dev.child.pid!)])];
      assert.deepEqual(await allGone(later), [], "no process left");
    } finally {
      await dev.stop("SIGKILL");
    }
  });
});
