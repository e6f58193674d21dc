/**
 * `devtool release create/list/show` and `devtool mode`, with real processes: releases kept in
 * the project and checked when read; a node switched to production by an admin key only.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeCbor, encodeCbor, formatIdentity, formatPublicKeyLine, generateKeyPair } from "../../loader/index.js";
import { runCli, startNode } from "../helpers/processes.js";
import { ALL_ROLES, counter, ok, projectFor, status } from "../helpers/production.js";
import { HELP as RELEASE_HELP } from "../../devtool/commands/release.js";
import { HELP as UPGRADE_HELP } from "../../devtool/commands/upgrade.js";
import { HELP as ROLLBACK_HELP } from "../../devtool/commands/rollback.js";
import { HELP as MODE_HELP } from "../../devtool/commands/mode.js";

test("release, upgrade, rollback and mode print their help with --help, and refuse an unknown flag by name with their help", { timeout: 120_000 }, async () => {
  const p = projectFor([], generateKeyPair());
  for (const [command, help] of [["release", RELEASE_HELP], ["upgrade", UPGRADE_HELP], ["rollback", ROLLBACK_HELP], ["mode", MODE_HELP]] as const) {
    assert.equal(ok(await p.devtool([command, "--help"]), `${command} --help`), help);
    const bad = await p.devtool([command, "--max-unavailabel", "2"]);
    assert.equal(bad.status, 2, `${command}: ${bad.stderr}`);
    assert.match(bad.stderr, /USAGE: Unknown option '--max-unavailabel'/);
    assert.ok(bad.stderr.includes(help), `${command}'s help follows the error`);
  }
  const listed = ok(await p.devtool(["--help"]), "devtool --help");
  for (const command of ["release", "upgrade", "rollback", "mode"]) assert.match(listed, new RegExp(`^  ${command} `, "m"));
  const width = await p.devtool(["upgrade", "--max-unavailable", "0"]);
  assert.equal(width.status, 2);
  assert.match(width.stderr, /--max-unavailable must be a positive integer/);
});

test("release create builds every module of fixpoint.json into a signed, numbered release kept in the project; list and show describe it", { timeout: 120_000 }, async () => {
  const p = projectFor([], generateKeyPair(), { cluster: "shop", modules: ["counter.ts", "greeter.ts"] });
  p.write(counter("1"));
  writeFileSync(join(p.dir, "greeter.ts"), `import { defineModule } from "fixpoint";\nexport default defineModule({ functions: { hi: () => "hi" } });\n`);

  const first = ok(await p.devtool(["release", "create", "--notes", "first cut"]), "release create");
  assert.match(first, /counter +[0-9a-f]{12} +\d+ B/);
  assert.match(first, /release 1 for cluster shop: 2 module\(s\), signed by SHA256:/);
  p.write(counter("1b"));
  assert.match(ok(await p.devtool(["release", "create"]), "second release create"), /release 2 for cluster shop/);

  const releases = join(p.dir, ".fixpoint", "releases");
  assert.ok(existsSync(join(releases, "2", "release")));
  // Build artifacts beside private keys: the folder keeps itself out of git.
  assert.match(readFileSync(join(p.dir, ".fixpoint", ".gitignore"), "utf8"), /^\*$/m);

  const lines = ok(await p.devtool(["release", "list"]), "release list").trimEnd().split("\n");
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /^ +2 +\d{4}-\d\d-\d\dT\S+Z +SHA256:\S+ +counter [0-9a-f]{12}, greeter [0-9a-f]{12}$/);
  assert.match(lines[1]!, /^ +1 .* "first cut"$/);

  const show = ok(await p.devtool(["release", "show", "1"]), "release show");
  assert.match(show, /release 1 for cluster shop/);
  assert.match(show, /notes +first cut/);
  assert.match(show, /counter +[0-9a-f]{64} +\d+ B/);
  assert.match(show, /greeter +[0-9a-f]{64} +\d+ B/);
  const json = JSON.parse(ok(await p.devtool(["release", "list", "--json"]), "release list --json").split("\n")[0]!) as { number: number; modules: { name: string }[] };
  assert.deepEqual([json.number, json.modules.map((m) => m.name)], [1, ["counter", "greeter"]]);

  // A release edited on disk is refused here, before any node sees it.
  const file = join(releases, "1", "release");
  const kept = decodeCbor(readFileSync(file)) as { manifest: Uint8Array; signature: Uint8Array };
  const edited = Buffer.from(Buffer.from(kept.manifest).toString("utf8").replace("first cut", "first CUT"));
  writeFileSync(file, encodeCbor({ manifest: edited, signature: kept.signature }));
  const tampered = await p.devtool(["release", "show", "1"]);
  assert.equal(tampered.status, 1);
  assert.match(tampered.stderr, /RELEASE_SIGNATURE_INVALID/);

  // A module that does not build leaves no release behind.
  p.write("export default 1 +;\n");
  const broken = await p.devtool(["release", "create"]);
  assert.equal(broken.status, 1);
  assert.match(broken.stderr, /BUILD_FAILED/);
  assert.ok(!existsSync(join(releases, "3")));
  assert.equal((await p.devtool(["release", "show", "7"])).status, 2);
  assert.equal((await p.devtool(["release", "publish"])).status, 2);
});

test("devtool mode switches a node to production for an admin key, and is FORBIDDEN to any other; upgrade refuses a node in dev mode before sending anything", { timeout: 120_000 }, async () => {
  const key = generateKeyPair();
  const node = await startNode({ roles: ALL_ROLES, dev: key });
  const p = projectFor([node], key);
  try {
    const developer = generateKeyPair();
    assert.equal(runCli("loader", ["authorize", "--data", node.dataDir, "--key", formatPublicKeyLine(developer.publicKey), "--roles", "dev,observe,release"]).status, 0);
    const developerFile = join(p.dir, "developer.key");
    writeFileSync(developerFile, formatIdentity(developer), { mode: 0o600 });

    // A node in dev mode is no target for a release: the upgrade stops before anything is sent.
    p.write(counter("1"));
    ok(await p.devtool(["release", "create"]), "release create");
    const early = await p.devtool(["upgrade"]);
    assert.equal(early.status, 1);
    assert.match(early.stderr, /FORBIDDEN: upgrade not started: n1: this node is in dev mode/);
    assert.doesNotMatch(early.stdout, /staged/);
    assert.deepEqual((await status(node)).release?.held, []);

    const refused = await p.devtool(["mode", "--node", "n1", "production", "--identity", developerFile]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /n1: FORBIDDEN: mode in dev mode needs one of the roles admin/);
    assert.equal((await status(node)).mode, "dev");

    assert.equal(ok(await p.devtool(["mode", "--node", "n1", "production"]), "mode production").trim(), "n1  dev → production");
    assert.equal((await status(node)).mode, "production");
    // Production takes code only as releases: a push is refused, saying what to use.
    const push = await p.devtool(["push"]);
    assert.equal(push.status, 1);
    assert.match(push.stderr, /FORBIDDEN: .*devtool release create/);
    assert.equal(ok(await p.devtool(["mode", "production"]), "mode again").trim(), "n1  production → production (unchanged)");
    assert.equal((await p.devtool(["mode", "staging"])).status, 2);
  } finally {
    await node.stop();
  }
});
