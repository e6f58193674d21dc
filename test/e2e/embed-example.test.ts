/**
 * examples/embed-hono as a user runs it (issue 14): a Hono app starting a node in its own
 * process, granting capabilities and mounting the modules on /app; a module pushed over the
 * channel answers through the app's server and keeps its data in the app. The README's
 * "Embed Fixpoint in your app" lines are checked to be the example's own.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { formatPublicKeyLine, generateKeyPair } from "../../loader/index.js";
import { connect } from "../../devtool/client/index.js";
import { signedModule } from "../helpers/modules.js";
import { ROOT, tempDir } from "../helpers/processes.js";

const EXAMPLE = "examples/embed-hono";

test("the README's embedding lines are the example's own", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8").split("\n");
  const mark = readme.indexOf(`<!-- readme-embed: ${EXAMPLE}/server.ts -->`);
  assert.ok(mark > 0, "the README marks its embedding block");
  assert.equal(readme[mark + 1], "```ts");
  const end = readme.indexOf("```", mark + 2);
  const block = readme.slice(mark + 2, end).join("\n");
  assert.ok(block.split("\n").length >= 5);
  assert.ok(readFileSync(join(ROOT, EXAMPLE, "server.ts"), "utf8").includes(block), `README block not in ${EXAMPLE}/server.ts:\n${block}`);
});

test("the example type-checks: the host app against the node's API, its module against ctx.host's types taken from the app's capabilities", () => {
  const r = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", `${EXAMPLE}/tsconfig.json`], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test("the Hono example embeds a node: a pushed module answers on /app through the app's server and uses the app's capabilities", { timeout: 120_000 }, async () => {
  const dev = generateKeyPair();
  const child = spawn(process.execPath, ["--import", "tsx", join(EXAMPLE, "server.ts")], {
    cwd: ROOT,
    env: { ...process.env, DATA: join(tempDir(), "app-node"), DEV_KEY: formatPublicKeyLine(dev.publicKey), PORT: "0", LISTEN: "127.0.0.1:0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (output += c));
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const waitFor = async (pattern: RegExp): Promise<RegExpMatchArray> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const m = pattern.exec(output);
      if (m !== null) return m;
      if (Date.now() > deadline || child.exitCode !== null) assert.fail(`no ${pattern} in the app's output:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    const [, appPort, channelPort] = await waitFor(/app on http:\/\/127\.0\.0\.1:(\d+)\/, node channel on 127\.0\.0\.1:(\d+)/);
    const app = `http://127.0.0.1:${appPort}`;
    const conn = await connect({ host: "127.0.0.1", port: Number(channelPort), identity: dev, timeoutMs: 20_000, checkNodeKey: () => {} });
    const { bundle } = await signedModule("orders", readFileSync(join(ROOT, EXAMPLE, "modules/orders.ts"), "utf8"), dev);
    await conn.request("push", { bundle }, { timeoutMs: 30_000 });
    conn.close();
    await waitFor(/module orders is now version 1/);

    assert.equal(await (await fetch(`${app}/`)).text(), "the host app's own page\n");
    assert.deepEqual(await (await fetch(`${app}/app/orders`)).json(), { orders: [], views: 1 });
    const created = await fetch(`${app}/app/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ item: "tea", quantity: 2 }) });
    assert.equal(created.status, 201);
    assert.deepEqual(await created.json(), { id: 1, item: "tea", quantity: 2 });
    assert.deepEqual(await (await fetch(`${app}/app/orders`)).json(), { orders: [{ id: 1, item: "tea", quantity: 2 }], views: 3 });
  } finally {
    child.kill("SIGTERM");
    assert.equal(await exited, 0, output);
  }
});
