/**
 * The `fixpoint` bin (issue 14): one name no other package's bin takes, dispatching
 * `fixpoint loader …` to the loader's CLI and `fixpoint COMMAND …` to the devtool's, with
 * their output and exit statuses unchanged.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ROOT, runCli, tempDir, type CliResult } from "../helpers/processes.js";
import { dispatch } from "../../devtool/fixpoint-cli/dispatch.js";

function fixpoint(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [join(ROOT, "dist/fixpoint.js"), ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1", ...env }, cwd: tempDir(), timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("package.json names the fixpoint bin beside loader and devtool", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string> };
  assert.deepEqual(pkg.bin, { loader: "dist/loader.js", devtool: "dist/devtool.js", fixpoint: "dist/fixpoint.js" });
});

test("the build leaves every bin an executable file, as `npx devtool` in the repository runs it directly", () => {
  // npm test's pretest builds dist/; a fresh clone's build writes new files 0644
  // unless the build sets the mode (CI on a fresh machine failed here once).
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string> };
  for (const file of Object.values(pkg.bin)) {
    assert.equal(statSync(join(ROOT, file)).mode & 0o111, 0o111, `${file} is executable`);
  }
});

test("dispatches `loader …` to the loader, any other word to the devtool, and answers --help and --version itself", () => {
  assert.deepEqual(dispatch(["loader", "start", "--data", "d"]), { cli: "loader", args: ["start", "--data", "d"] });
  assert.deepEqual(dispatch(["dev", "examples"]), { cli: "devtool", args: ["dev", "examples"] });
  assert.deepEqual(dispatch(["devtool", "push", "a.ts"]), { cli: "devtool", args: ["push", "a.ts"] });
  assert.deepEqual(dispatch(["push", "--help"]), { cli: "devtool", args: ["push", "--help"] });
  for (const own of [[], ["--help"], ["-h"], ["help"], ["--version"]]) assert.equal(dispatch(own), null);
});

test("fixpoint --help lists both tools' commands and exits 0; with no arguments it exits 2", () => {
  const help = fixpoint(["--help"]);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^Usage: fixpoint loader <command>/);
  assert.match(help.stdout, /init, authorize, keys, revoke, start/);
  assert.match(help.stdout, /dev, keygen, status, push, logs, call, repl, release, upgrade, rollback, mode/);
  const bare = fixpoint([]);
  assert.equal(bare.status, 2);
  assert.equal(bare.stdout, help.stdout);
  assert.equal(fixpoint(["--version"]).stdout, runCli("devtool", ["--version"]).stdout);
  // The lists are the devtool's and the loader's own, in their order.
  const devtoolCommands = [...runCli("devtool", ["--help"]).stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]);
  assert.match(help.stdout, new RegExp(`^  ${devtoolCommands.join(", ")}$`, "m"));
  const loaderCommands = [...runCli("loader", ["--help"]).stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]);
  assert.match(help.stdout, new RegExp(`^  ${loaderCommands.join(", ")}$`, "m"));
});

test("fixpoint loader and fixpoint COMMAND print what loader and devtool print, with their exit statuses", () => {
  for (const [args, cli, rest] of [
    [["loader", "--help"], "loader", ["--help"]],
    [["loader", "start", "--help"], "loader", ["start", "--help"]],
    [["loader", "strat"], "loader", ["strat"]],
    [["push", "--help"], "devtool", ["push", "--help"]],
    [["dev", "--help"], "devtool", ["dev", "--help"]],
    [["pusj"], "devtool", ["pusj"]],
    [["status", "--node", "nowhere:1:2"], "devtool", ["status", "--node", "nowhere:1:2"]],
  ] as const) {
    const ours = fixpoint([...args]);
    const theirs = runCli(cli, [...rest], { cwd: tempDir() });
    assert.equal(ours.status, theirs.status, `fixpoint ${args.join(" ")}`);
    assert.equal(ours.stdout, theirs.stdout, `fixpoint ${args.join(" ")}`);
    assert.equal(ours.stderr, theirs.stderr, `fixpoint ${args.join(" ")}`);
  }
});

test("fixpoint loader init makes a node and fixpoint keygen an identity, as loader and devtool do", () => {
  const home = tempDir();
  const data = join(tempDir(), "node");
  const init = fixpoint(["loader", "init", "--data", data, "--name", "via-fixpoint"]);
  assert.equal(init.status, 0, init.stderr);
  assert.match(readFileSync(join(data, "config.json"), "utf8"), /via-fixpoint/);
  const keygen = fixpoint(["keygen"], { FIXPOINT_HOME: home, FIXPOINT_IDENTITY: "" });
  assert.equal(keygen.status, 0, keygen.stderr);
  assert.match(keygen.stdout, new RegExp(`Wrote identity ${home}/id_ed25519`));
});
