/**
 * The README's "Drive nodes from your scripts": its TypeScript blocks, as a reader copies them,
 * run against a real node (issue 14). Each ```ts block there is marked
 * `<!-- client-readme-test: run … -->` or `<!-- client-readme-test: skip (why) -->`; a run
 * block goes into a folder of its own with "fixpoint" installed (a link to this package, as
 * npm link makes it), the example greeter.ts, an identity file ci.key the node trusts and the
 * node's node.pub. The one liberty taken, as in test/readme.test.ts: port 7420 becomes the
 * node's.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { formatIdentity } from "../../../loader/index.js";
import { ROOT, startNode, tempDir, type CliResult, type NodeProcess } from "../../helpers/processes.js";

interface Block {
  line: number;
  run: boolean;
  code: string;
}

/** The ```ts blocks of the section and their marks. */
function sectionBlocks(heading: string): Block[] {
  const lines = readFileSync(join(ROOT, "README.md"), "utf8").split("\n");
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `README.md has "${heading}"`);
  const blocks: Block[] = [];
  for (let i = start + 1; i < lines.length && !/^#{1,3} /.test(lines[i]!); i++) {
    if (lines[i] !== "```ts") continue;
    const mark = /^<!-- client-readme-test: (run|skip)\b.*-->$/.exec(lines[i - 1] ?? "");
    assert.ok(mark !== null, `README.md:${i + 1}: a ts block without a <!-- client-readme-test: run|skip --> mark above it`);
    const first = i + 1;
    const code: string[] = [];
    for (i++; lines[i] !== "```"; i++) code.push(lines[i]!);
    blocks.push({ line: first, run: mark[1] === "run", code: code.join("\n") + "\n" });
  }
  return blocks;
}

let node: NodeProcess;

before(async () => {
  node = await startNode();
});

after(async () => {
  await node.stop();
});

function runScript(dir: string, file: string): Promise<CliResult> {
  const tsx = pathToFileURL(join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;
  const child = spawn(process.execPath, ["--import", tsx, file], { cwd: dir, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve) => child.on("close", (status) => (clearTimeout(timer), resolve({ status, stdout, stderr }))));
}

test("the README's client blocks run against a real node as written", async () => {
  const blocks = sectionBlocks("### Drive nodes from your scripts");
  assert.ok(blocks.some((b) => b.run), "at least one block is run");
  for (const block of blocks.filter((b) => b.run)) {
    const dir = tempDir("fixpoint-readme-client-");
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(ROOT, join(dir, "node_modules", "fixpoint"), "dir");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "script", private: true, type: "module" }));
    copyFileSync(join(ROOT, "examples/greeter.ts"), join(dir, "greeter.ts"));
    copyFileSync(join(node.dataDir, "node.pub"), join(dir, "node.pub"));
    writeFileSync(join(dir, "ci.key"), formatIdentity(node.dev), { mode: 0o600 });
    writeFileSync(join(dir, "script.ts"), block.code.replace(/\b7420\b/g, String(node.port)));
    const r = await runScript(dir, "script.ts");
    assert.equal(r.status, 0, `README.md block at line ${block.line} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^live 1$/m);
    assert.match(r.stdout, /^Hello, Ada!$/m);
    assert.match(r.stdout, /^greeter running$/m);
    assert.match(r.stdout, /^module\.pushed$/m, "the log shows the push");
  }
});

test("the README's client block, given a node key other than the node's, prints NODE_KEY_MISMATCH and exits 3", async () => {
  const [block] = sectionBlocks("### Drive nodes from your scripts").filter((b) => b.run);
  const dir = tempDir("fixpoint-readme-client-");
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(ROOT, join(dir, "node_modules", "fixpoint"), "dir");
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "script", private: true, type: "module" }));
  copyFileSync(join(ROOT, "examples/greeter.ts"), join(dir, "greeter.ts"));
  const other = await startNode();
  await other.stop();
  copyFileSync(join(other.dataDir, "node.pub"), join(dir, "node.pub"));
  writeFileSync(join(dir, "ci.key"), formatIdentity(node.dev), { mode: 0o600 });
  writeFileSync(join(dir, "script.ts"), block!.code.replace(/\b7420\b/g, String(node.port)));
  const r = await runScript(dir, "script.ts");
  assert.equal(r.status, 3, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /^NODE_KEY_MISMATCH: /m);
});
