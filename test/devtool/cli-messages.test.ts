/**
 * Build errors in the module author's terms, not esbuild's (issue 12.9), and the command line's
 * small mismatches (issue 12.11), through the built devtool: no node is needed, since nothing
 * reaches one.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, tempDir } from "../helpers/processes.js";

function project(files: Record<string, string>): { dir: string; push: (args: string[]) => ReturnType<typeof runCli> } {
  const dir = tempDir("fixpoint-build-");
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const home = join(dir, "home");
  const env = { FIXPOINT_HOME: home, FIXPOINT_IDENTITY: "" };
  assert.equal(runCli("devtool", ["keygen"], { env }).status, 0);
  return { dir, push: (args) => runCli("devtool", ["push", ...args, "--node", "127.0.0.1:1"], { cwd: dir, env }) };
}

describe("devtool push build errors", () => {
  test("an import of a Node built-in says built-ins are not available in a module, and what is", () => {
    const { push } = project({ "files.ts": `import { readFileSync } from "node:fs";\nimport { join } from "path";\nexport default readFileSync(join("a", "b"));\n` });
    const r = push(["files.ts"]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^error BUILD_FAILED: cannot build files\.ts:/m);
    assert.match(r.stderr, /files\.ts:1:30: "node:fs" is a Node built-in: Node built-ins are not available inside a module/);
    assert.match(r.stderr, /files\.ts:2:22: "path" is a Node built-in/);
    assert.match(r.stderr, /A module has console, timers .*fetch-style Request, Response and Headers, and ctx\.call to other modules/);
    assert.doesNotMatch(r.stderr, /Could not resolve/);
  });

  test("top-level await says it is not supported in a module and what to do instead", () => {
    const { push } = project({ "waits.ts": `const config = await Promise.resolve({ a: 1 });\nexport default config;\n` });
    const r = push(["waits.ts"]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /waits\.ts:1:16: top-level await is not supported in a module: .* Move the await into a function/);
    assert.doesNotMatch(r.stderr, /iife/);
  });

  test("a file that does not exist is USAGE, exit 2, naming it, without the help", () => {
    const { push } = project({});
    const r = push(["nosuch.ts"]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, "error USAGE: nosuch.ts: no such file\n");
  });

  test("a module listed in fixpoint.json that does not exist is CONFIG_INVALID naming fixpoint.json", () => {
    const { push } = project({ "fixpoint.json": JSON.stringify({ modules: ["gone.ts"] }) });
    const r = push([]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /error CONFIG_INVALID: .*fixpoint\.json: "modules" lists gone\.ts, which does not exist/);
  });
});

describe("the command line's small mismatches", () => {
  test("an unknown flag gets a did-you-mean and the help; an unknown command a did-you-mean", () => {
    const r = runCli("devtool", ["logs", "--folow"], { env: { FIXPOINT_HOME: tempDir() } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^error USAGE: Unknown option '--folow'; did you mean --follow\?\n\nUsage: devtool logs/);
    const cmd = runCli("devtool", ["stauts"]);
    assert.equal(cmd.status, 2);
    assert.match(cmd.stderr, /unknown command "stauts"; did you mean status\?/);
    const far = runCli("devtool", ["status", "--zzzzzz"], { env: { FIXPOINT_HOME: tempDir() } });
    assert.doesNotMatch(far.stderr, /did you mean/);
    const loader = runCli("loader", ["start", "--dta", "x"]);
    assert.match(loader.stderr, /Unknown option '--dta'; did you mean --data\?/);
  });

  test("keygen over an existing key says so in one line, without the help after it", () => {
    const home = tempDir();
    assert.equal(runCli("devtool", ["keygen"], { env: { FIXPOINT_HOME: home, FIXPOINT_IDENTITY: "" } }).status, 0);
    const again = runCli("devtool", ["keygen"], { env: { FIXPOINT_HOME: home, FIXPOINT_IDENTITY: "" } });
    assert.equal(again.status, 2);
    assert.match(again.stderr, /^error USAGE: .*id_ed25519 already exists; pass --force to replace it[^\n]*\n$/);
  });
});

test("every help text fits in 96 columns, but for its Usage line", () => {
  const helps = [
    ...["dev", "keygen", "status", "push", "logs", "call", "repl", "release", "mode", "upgrade", "rollback"].map((c) => ["devtool", c] as const),
    ...["init", "authorize", "start"].map((c) => ["loader", c] as const),
  ];
  for (const [cli, command] of helps) {
    const r = runCli(cli, [command, "--help"]);
    assert.equal(r.status, 0);
    const long = r.stdout.split("\n").filter((line) => !line.startsWith("Usage:") && line.length > 96);
    assert.deepEqual(long, [], `${cli} ${command} --help`);
  }
});
