/**
 * The README's command blocks, run in order as a newcomer would type them (issue 12.10): every
 * ```sh block is marked `<!-- readme-test: run … -->` or `<!-- readme-test: skip (why) -->`
 * just above it, and this test follows the README, not a copy of it. A fresh HOME for the
 * whole run; commands go through `sh -c` from the repository's root, `npx` included. Commands
 * ending in `&`, and `--watch`/`--follow` ones (which run until Ctrl-C, each in its own
 * terminal), start in the background and are stopped at the end. The one liberty taken: the
 * README's ports 7420 and 8081 are replaced by free ones, so that the test can run beside
 * anything else on this machine.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { ROOT, tempDir } from "./helpers/processes.js";

interface Block {
  line: number;
  run: boolean;
  commands: string[];
}

/** The ```sh blocks and their marks. */
function readmeBlocks(): Block[] {
  const lines = readFileSync(join(ROOT, "README.md"), "utf8").split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== "```sh") continue;
    const mark = /^<!-- readme-test: (run|skip)\b.*-->$/.exec(lines[i - 1] ?? "");
    assert.ok(mark !== null, `README.md:${i + 1}: a sh block without a <!-- readme-test: run|skip --> mark above it`);
    const commands: string[] = [];
    for (i++; lines[i] !== "```"; i++) {
      // A comment after the command is two spaces or more and a #, as the README writes them.
      const command = lines[i]!.replace(/\s{2,}#.*$/, "").trim();
      if (command !== "") commands.push(command);
    }
    blocks.push({ line: i + 1, run: mark[1] === "run", commands });
  }
  return blocks;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** What a background command prints once it is ready for the next one. */
const READY: [RegExp, RegExp | null][] = [
  [/loader start/, /node\.started/],
  [/--watch/, /watching \d+ module/],
  [/--follow/, /module\.pushed/],
];

interface Background {
  command: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startBackground(command: string, env: NodeJS.ProcessEnv): Background {
  // Its own process group, so that stopping it stops npx and what npx started.
  const child = spawn("sh", ["-c", command], { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (text += c));
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (text += c));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { command, child, output: () => text, exited };
}

async function waitFor(bg: Background, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(bg.output())) {
    if (bg.child.exitCode !== null) assert.fail(`\`${bg.command}\` exited (${bg.child.exitCode}):\n${bg.output()}`);
    if (Date.now() > deadline) assert.fail(`\`${bg.command}\` printed no ${pattern} within ${timeoutMs} ms:\n${bg.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("the README's command blocks run in order on a fresh home directory", { timeout: 180_000 }, async () => {
  const blocks = readmeBlocks();
  assert.ok(blocks.some((b) => b.run), "at least one block is run");
  const home = tempDir("fixpoint-readme-home-");
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, NO_COLOR: "1" };
  for (const name of ["FIXPOINT_HOME", "FIXPOINT_IDENTITY"]) delete env[name];
  const ports = new Map([["7420", String(await freePort())], ["8081", String(await freePort())]]);
  const repoBefore = spawnSync("git", ["status", "--porcelain"], { cwd: ROOT, encoding: "utf8" }).stdout;
  const background: Background[] = [];
  const outputs: { command: string; stdout: string; stderr: string }[] = [];
  try {
    for (const block of blocks.filter((b) => b.run)) {
      for (const written of block.commands) {
        const command = written.replace(/\b(7420|8081)\b/g, (p) => ports.get(p)!);
        if (command.endsWith("&") || /--watch|--follow/.test(command)) {
          const bg = startBackground(command.replace(/\s*&$/, ""), env);
          background.push(bg);
          const ready = READY.find(([which]) => which.test(command))?.[1];
          if (ready !== undefined && ready !== null) await waitFor(bg, ready);
          continue;
        }
        const r = spawnSync("sh", ["-c", command], { cwd: ROOT, env, encoding: "utf8", timeout: 60_000 });
        assert.equal(r.status, 0, `README.md block ending at line ${block.line}: \`${written}\` exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
        outputs.push({ command: written, stdout: r.stdout, stderr: r.stderr });
      }
    }
    const said = (pattern: RegExp) => outputs.find((o) => pattern.test(o.command));
    assert.match(said(/devtool keygen/)?.stdout ?? "", new RegExp(`Wrote identity ${home}/\\.fixpoint/id_ed25519`));
    assert.match(said(/loader init/)?.stdout ?? "", /^ {2}npx loader authorize --data /m, "init's next steps run as the README runs them");
    assert.match(said(/--accept-new/)?.stderr ?? "", /^pinned 127\.0\.0\.1:\d+ with key SHA256:/m);
    assert.match(said(/devtool call/)?.stdout ?? "", /Ada/);
    // The app is served on the README's HTTP port, by this node.
    const res = await fetch(`http://127.0.0.1:${ports.get("8081")}/`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    await res.text();
    assert.equal(spawnSync("git", ["status", "--porcelain"], { cwd: ROOT, encoding: "utf8" }).stdout, repoBefore, "the README's commands wrote nothing into the repository");
  } finally {
    for (const bg of background.reverse()) {
      try {
        process.kill(-bg.child.pid!, "SIGINT");
      } catch {
        // already gone
      }
      const timer = setTimeout(() => process.kill(-bg.child.pid!, "SIGKILL"), 15_000);
      await bg.exited;
      clearTimeout(timer);
    }
  }
});
