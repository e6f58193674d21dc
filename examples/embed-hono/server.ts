/**
 * A host app with a Fixpoint node inside (issue 14): a Hono server with its own routes starts a
 * node in its process, grants the node's modules two of its functions, and mounts the modules'
 * HTTP handlers on /app. Developers push modules to the node's channel as to any node.
 *
 *   DATA=./app-node DEV_KEY="$(cat ~/.fixpoint/id_ed25519.pub)" npx tsx examples/embed-hono/server.ts
 *
 * PORT (default 3000) and LISTEN (the channel, default 127.0.0.1:7420) may be set too.
 */
import { existsSync } from "node:fs";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
// In your app: from "fixpoint/node" (this is that entry's source).
import { createDataDir, startNode } from "../../devtool/embed/index.js";
import { capabilities } from "./capabilities.js";

const dataDir = process.env["DATA"] ?? "./app-node";
const listen = process.env["LISTEN"] ?? "127.0.0.1:7420";
const port = Number(process.env["PORT"] ?? 3000);

if (!existsSync(dataDir)) createDataDir(dataDir, { authorize: [{ key: process.env["DEV_KEY"] ?? "", roles: ["dev", "observe"] }] });
const node = await startNode({ dataDir, listen, capabilities });
node.on("swap", (e) => console.log(`module ${e.module} is now version ${e.version}`));

const app = new Hono();
app.get("/", (c) => c.text("the host app's own page\n"));
app.mount("/app", node.fetchHandler());
const server = serve({ fetch: app.fetch, port }, (info) => {
  console.log(`app on http://127.0.0.1:${info.port}/, node channel on ${node.channel.host}:${node.channel.port}`);
});

process.once("SIGTERM", () => {
  server.close();
  void node.stop().then(() => process.exit(0));
});
