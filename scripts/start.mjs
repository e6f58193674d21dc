// `npm start`: a local node you can talk to, from a fresh clone, in one command.
//
// On first run it creates, under .fixpoint/ in this checkout: a node (.fixpoint/node), a
// developer identity authorized on it (.fixpoint/home/id_ed25519) and the node's pin. Then it
// starts the node on 127.0.0.1 (port 7420, or a free one), pushes the example modules, shows
// `devtool status`, and keeps the node running with its log on this terminal until Ctrl-C.
// Everything goes through the real CLIs in dist/, as a user would run them.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { createServer } from "node:net";

const root = resolve(import.meta.dirname, "..");
const state = join(root, ".fixpoint");
const dataDir = join(state, "node");
const home = join(state, "home");
const env = { ...process.env, FIXPOINT_HOME: home, FIXPOINT_IDENTITY: join(home, "id_ed25519") };
const cli = (name, args, opts = {}) => spawnSync(process.execPath, [join(root, "dist", `${name}.js`), ...args], { env, stdio: "inherit", ...opts });
const must = (result, what) => {
  if (result.status !== 0) {
    console.error(`npm start: ${what} failed (exit ${result.status})`);
    process.exit(result.status ?? 1);
  }
};

const freePort = (preferred) =>
  new Promise((done) => {
    const probe = createServer();
    probe.once("error", () => {
      const any = createServer();
      any.listen(0, "127.0.0.1", () => {
        const { port } = any.address();
        any.close(() => done(port));
      });
    });
    probe.listen(preferred, "127.0.0.1", () => probe.close(() => done(preferred)));
  });

if (!existsSync(join(home, "id_ed25519"))) must(cli("devtool", ["keygen", "--comment", "npm-start"], { stdio: ["ignore", "ignore", "inherit"] }), "devtool keygen");
if (!existsSync(join(dataDir, "config.json"))) {
  must(cli("loader", ["init", "--data", dataDir, "--name", "local"], { stdio: ["ignore", "ignore", "inherit"] }), "loader init");
  must(cli("loader", ["authorize", "--data", dataDir, "--key", join(home, "id_ed25519.pub"), "--roles", "dev,observe"], { stdio: ["ignore", "ignore", "inherit"] }), "loader authorize");
}

const port = await freePort(7420);
const address = `127.0.0.1:${port}`;
const node = spawn(process.execPath, [join(root, "dist", "loader.js"), "start", "--data", dataDir, "--listen", address], { env, stdio: ["ignore", "inherit", "pipe"] });
let started = false;
await new Promise((ready, fail) => {
  node.stderr.on("data", (chunk) => {
    process.stderr.write(chunk);
    if (!started && chunk.toString().includes("node.started")) {
      started = true;
      ready();
    }
  });
  node.once("exit", (code) => fail(new Error(`the node exited with ${code} before it started`)));
}).catch((err) => {
  console.error(`npm start: ${err.message}`);
  process.exit(1);
});

const examples = join(root, "examples", "hello");
const modules = readdirSync(examples).filter((f) => f.endsWith(".ts")).map((f) => join(examples, f));
// The node was made by this script, so its key can be pinned on first contact.
must(cli("devtool", ["push", ...modules, "--node", address, "--accept-new"]), "devtool push");
must(cli("devtool", ["status", "--node", address]), "devtool status");
console.log(`\nNode "local" is listening on ${address}. Try, in another terminal:\n  FIXPOINT_HOME=${home} node dist/devtool.js status --node ${address}\nCtrl-C stops it.\n`);

const stop = () => node.kill("SIGTERM");
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
node.on("exit", (code) => process.exit(code ?? 0));
