// A CI job that drives a node with the client library ("fixpoint/client"), as a deploy step
// of a pipeline would: push the example modules, call one as a smoke test, check that every
// module on the node is running and healthy, and exit non-zero on any failure, with the
// error's code (the devtool's exit statuses: 1 failed, 2 usage or config, 3 unreachable or
// untrusted).
//
//   FIXPOINT_NODE=127.0.0.1:7420 FIXPOINT_NODE_KEY="ed25519 …" FIXPOINT_IDENTITY=ci.key \
//     node --import tsx examples/ci/deploy.ts
//
// FIXPOINT_NODE_KEY is the node's node.pub (`loader init` printed it): the job trusts exactly
// that node, as ssh's known_hosts would; the CI key needs the dev role on the node.
import { join } from "node:path";
import { connectNode, FixpointError } from "fixpoint/client";

const address = process.env["FIXPOINT_NODE"] ?? "127.0.0.1:7420";
const nodeKey = process.env["FIXPOINT_NODE_KEY"];
const identity = process.env["FIXPOINT_IDENTITY"] ?? "ci.key";
const modules = ["greeter.ts", "index.ts"].map((file) => join(import.meta.dirname, "..", file));

async function deploy(): Promise<number> {
  const node = await connectNode({ address, identity, ...(nodeKey === undefined ? {} : { nodeKey }) });
  try {
    for (const r of await node.push(...modules)) {
      console.log(`pushed ${r.name} ${r.digest.slice(0, 12)} ${r.changed ? `live ${r.version ?? ""}` : "unchanged"}`);
    }
    const greeting = await node.call("greeter", "greet", "CI");
    if (greeting !== "Hello, CI!") {
      console.error(`smoke test failed: greeter.greet("CI") answered ${JSON.stringify(greeting)}`);
      return 1;
    }
    const status = await node.status();
    const down = status.modules.filter((m) => !m.running || m.status === "failed" || m.health?.ok === false);
    for (const m of down) console.error(`module ${m.name} is not serving: ${m.error?.code ?? m.health?.detail ?? m.status ?? "not running"}`);
    console.log(`${status.name}: ${status.modules.length - down.length} of ${status.modules.length} module(s) serving`);
    return down.length === 0 ? 0 : 1;
  } finally {
    await node.close();
  }
}

try {
  process.exitCode = await deploy();
} catch (err) {
  // Errors carry a code from one table; a script matches on it, not on the message.
  if (!(err instanceof FixpointError)) throw err;
  console.error(`deploy failed: ${err.code}: ${err.message}`);
  process.exitCode = err.exitStatus;
}
