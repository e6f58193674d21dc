/**
 * The client library (devtool/client, "fixpoint/client") against real nodes: what a script
 * does with a node, and what it gets for bad input, each failure as a coded FixpointError.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connectNode, readProjectRelease, rollingRollback, rollingUpgrade, type LogEntry, type NodeClient } from "../../../devtool/client/index.js";
import { formatIdentity, formatPublicKeyLine, generateKeyPair, type KeyPair } from "../../../loader/index.js";
import { FixpointError, type ErrorCode } from "../../../loader/protocol/errors.js";
import { startNode, tempDir, type NodeProcess } from "../../helpers/processes.js";
import { counter, ok, productionNodes } from "../../helpers/production.js";

/** Awaits `work` and asserts it rejected with a FixpointError of `code`; returns the error. */
async function expectCode(work: Promise<unknown>, code: ErrorCode): Promise<FixpointError> {
  const caught = await work.then(
    (value) => assert.fail(`expected ${code}, got a value: ${String(value)}`),
    (err: unknown) => err,
  );
  assert.ok(caught instanceof FixpointError, `expected a FixpointError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, `expected ${code}, got ${caught.code}: ${caught.message}`);
  return caught;
}

let node: NodeProcess;
let dir: string;
let known: string;

before(async () => {
  node = await startNode();
  dir = tempDir("fixpoint-client-");
  known = join(dir, "known_nodes");
  writeFileSync(
    join(dir, "greeter.ts"),
    `import { defineModule } from "fixpoint";
export default defineModule({
  version: "1",
  state: { greeted: 0 },
  functions: {
    greet: (ctx, name: string) => { ctx.state.greeted++; console.log("greeting " + name); return "Hello, " + name + "!"; },
    greeted: (ctx) => ctx.state.greeted,
    fail: () => { throw new Error("on purpose"); },
  },
});
`,
  );
});

after(async () => {
  await node.stop();
});

const pinned = (extra: Record<string, unknown> = {}) => connectNode({ address: `127.0.0.1:${node.port}`, identity: node.dev, nodeKey: node.nodeKey, knownNodes: false, timeoutMs: 20_000, ...extra });

test("pushes a module file, calls it, and sees it in the node's status", async () => {
  const client = await pinned();
  try {
    const [pushed] = await client.push(join(dir, "greeter.ts"));
    assert.equal(pushed?.name, "greeter");
    assert.equal(pushed?.changed, true);
    assert.equal(await client.call("greeter", "greet", "Ada"), "Hello, Ada!");
    assert.equal(await client.call("greeter", "greeted"), 1);
    const status = await client.status();
    assert.deepEqual(
      status.modules.map((m) => [m.name, m.running]),
      [["greeter", true]],
    );
    assert.equal(await client.mode(), "dev");
    assert.deepEqual([...client.roles].sort(), ["dev", "observe"]);
    // The same bytes again change nothing.
    const [again] = await client.push(join(dir, "greeter.ts"));
    assert.equal(again?.changed, false);
  } finally {
    await client.close();
  }
});

test("a function that throws rejects with MODULE_ERROR, an unknown one with FUNCTION_NOT_FOUND, and the client stays usable", async () => {
  const client = await pinned();
  try {
    await client.push(join(dir, "greeter.ts"));
    await expectCode(client.call("greeter", "fail"), "MODULE_ERROR");
    await expectCode(client.call("greeter", "nope"), "FUNCTION_NOT_FOUND");
    await expectCode(client.call("absent", "greet"), "MODULE_NOT_FOUND");
    // A function as an argument cannot cross the wire: refused here, nothing sent.
    await expectCode(client.call("greeter", "greet", (() => 1) as never), "ARGUMENTS_INVALID");
    await expectCode(client.call("Not A Module", "greet"), "USAGE");
    assert.equal(await client.call("greeter", "greet", "Grace"), "Hello, Grace!");
  } finally {
    await client.close();
  }
});

test("eval answers with the value as the REPL prints it, in a module's isolate with `module`, and EVAL_THREW for code that throws", async () => {
  const client = await pinned();
  try {
    await client.push(join(dir, "greeter.ts"));
    assert.equal(await client.eval("let x = 20; x + 22"), "42");
    assert.equal(await client.eval("x * 2"), "40", "the scratch context keeps its variables for the client's life");
    assert.match(await client.eval("typeof state", { module: "greeter" }), /object/);
    const err = await expectCode(client.eval("throw new Error('nope')"), "EVAL_THREW");
    assert.match(err.message, /nope/);
  } finally {
    await client.close();
  }
});

test("logs without follow yields the recent entries, filtered by module and level, and ends", async () => {
  const client = await pinned();
  try {
    await client.push(join(dir, "greeter.ts"));
    await client.call("greeter", "greet", "Logs");
    const entries: LogEntry[] = [];
    for await (const entry of client.logs({ module: "greeter" })) entries.push(entry);
    assert.ok(entries.some((e) => e.event === "module.log" && e.fields["text"] === "greeting Logs"), JSON.stringify(entries));
    assert.ok(entries.every((e) => e.fields["module"] === "greeter"));
    const warnings: LogEntry[] = [];
    for await (const entry of client.logs({ level: "warn" })) warnings.push(entry);
    assert.ok(warnings.every((e) => e.level === "warn" || e.level === "error"));
    await assert.rejects(async () => {
      for await (const _ of client.logs({ level: "loud" as never }));
    }, (e: { code?: string }) => e.code === "USAGE");
  } finally {
    await client.close();
  }
});

test("logs with follow yields new entries as the node logs them, and ends cleanly when the client closes", async () => {
  const client = await pinned();
  await client.push(join(dir, "greeter.ts"));
  const seen: string[] = [];
  const following = (async () => {
    for await (const entry of client.logs({ follow: true, module: "greeter" })) {
      if (entry.event === "module.log") seen.push(String(entry.fields["text"]));
    }
    return "ended";
  })();
  // A second client calls, so that the follower's connection only reads.
  const caller = await pinned();
  try {
    for (let i = 0; i < 50 && !seen.includes("greeting Follow"); i++) {
      await caller.call("greeter", "greet", "Follow");
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(seen.includes("greeting Follow"), `followed: ${JSON.stringify(seen)}`);
  } finally {
    await caller.close();
  }
  await client.close();
  assert.equal(await following, "ended");
});

test("a loop that breaks out of following stops the subscription, and the client goes on", async () => {
  const client = await pinned();
  try {
    await client.push(join(dir, "greeter.ts"));
    const loop = (async () => {
      for await (const entry of client.logs({ follow: true, module: "greeter" })) if (entry.event === "module.log") break;
      return "broke";
    })();
    for (let i = 0; i < 50; i++) {
      const done = await Promise.race([loop, new Promise((r) => setTimeout(() => r(null), 100))]);
      if (done === "broke") break;
      await client.call("greeter", "greet", "Break");
    }
    assert.equal(await loop, "broke");
    assert.equal(await client.call("greeter", "greet", "After"), "Hello, After!");
  } finally {
    await client.close();
  }
});

test("a bad address is USAGE before anything is attempted; an unknown option is named", async () => {
  for (const address of ["localhost", "127.0.0.1:99999", "", ":", "127.0.0.1:0"]) {
    const err = await expectCode(connectNode({ address, identity: node.dev, nodeKey: node.nodeKey }), "USAGE");
    assert.match(err.message, /HOST:PORT/);
  }
  await expectCode(connectNode({ address: { host: "127.0.0.1", port: -1 }, identity: node.dev }), "USAGE");
  const err = await expectCode(connectNode({ address: `127.0.0.1:${node.port}`, identity: node.dev, nodekey: node.nodeKey } as never), "USAGE");
  assert.match(err.message, /unknown option "nodekey"/);
  await expectCode(connectNode({ address: `127.0.0.1:${node.port}`, identity: node.dev, timeoutMs: -5 }), "USAGE");
});

test("a node no one listens on is CONNECT_FAILED", async () => {
  const stopped = await startNode();
  const port = stopped.port;
  await stopped.stop();
  await expectCode(connectNode({ address: `127.0.0.1:${port}`, identity: node.dev, nodeKey: stopped.nodeKey }), "CONNECT_FAILED");
});

test("an unpinned node key is NODE_KEY_UNPINNED, a different one NODE_KEY_MISMATCH, and neither reveals the identity", async () => {
  const empty = join(tempDir(), "known_nodes");
  const unpinned = await expectCode(connectNode({ address: `127.0.0.1:${node.port}`, identity: node.dev, knownNodes: empty }), "NODE_KEY_UNPINNED");
  assert.match(unpinned.message, /nodeKey|acceptNew/);
  await expectCode(connectNode({ address: `127.0.0.1:${node.port}`, identity: node.dev, knownNodes: false }), "NODE_KEY_UNPINNED");
  const other = generateKeyPair().publicKey;
  const mismatch = await expectCode(connectNode({ address: `127.0.0.1:${node.port}`, identity: node.dev, nodeKey: other }), "NODE_KEY_MISMATCH");
  assert.match(mismatch.message, /the nodeKey option/);
  // A malformed pin is the caller's mistake, said as such.
  await expectCode(connectNode({ address: `127.0.0.1:${node.port}`, identity: node.dev, nodeKey: "ed25519 not-a-key" }), "IDENTITY_INVALID");
  // Several pins (a key being replaced): any one of them will do.
  const client = await connectNode({ address: `127.0.0.1:${node.port}`, identity: node.dev, nodeKey: [formatPublicKeyLine(other), formatPublicKeyLine(node.nodeKey)], knownNodes: false });
  await client.close();
  const denied = node.logs.filter((l) => l["event"] === "connection.closed" && l["code"] === "UNKNOWN_IDENTITY");
  assert.equal(denied.length, 0, "the node never saw an identity it refused");
});

test("acceptNew records the key in knownNodes on first contact, and later connections are checked against it", async () => {
  const file = join(tempDir(), "known_nodes");
  const pinnedKeys: Uint8Array[] = [];
  const first = await connectNode({ address: `127.0.0.1:${node.port}`, identity: node.dev, knownNodes: file, acceptNew: true, onPinned: (k) => pinnedKeys.push(k) });
  await first.close();
  assert.equal(pinnedKeys.length, 1);
  assert.match(readFileSync(file, "utf8"), new RegExp(`^127\\.0\\.0\\.1:${node.port} ed25519 `, "m"));
  const second = await connectNode({ address: `127.0.0.1:${node.port}`, identity: node.dev, knownNodes: file });
  assert.ok(Buffer.from(second.nodeKey).equals(Buffer.from(node.nodeKey)));
  await second.close();
});

test("an identity the node does not trust is refused by the node with UNKNOWN_IDENTITY; a missing or loose identity file is IDENTITY_MISSING or IDENTITY_INVALID", async () => {
  await expectCode(pinned({ identity: generateKeyPair() }), "UNKNOWN_IDENTITY");
  await expectCode(pinned({ identity: join(dir, "no-such.key") }), "IDENTITY_MISSING");
  const loose = join(dir, "loose.key");
  writeFileSync(loose, formatIdentity(node.dev), { mode: 0o644 });
  await expectCode(pinned({ identity: loose }), "IDENTITY_INVALID");
  const file = join(dir, "dev.key");
  writeFileSync(file, formatIdentity(node.dev), { mode: 0o600 });
  const client = await pinned({ identity: file });
  await client.close();
  await expectCode(pinned({ identity: { publicKey: new Uint8Array(3) } as unknown as KeyPair }), "IDENTITY_INVALID");
});

test("a call past deadlineMs rejects with REQUEST_TIMEOUT, and the client goes on", async () => {
  const slow = join(dir, "slow.ts");
  writeFileSync(slow, `import { defineModule } from "fixpoint";\nexport default defineModule({ version: "1", state: {}, functions: { wait: () => new Promise((r) => setTimeout(() => r("late"), 3000)), now: () => "now" } });\n`);
  const client = await pinned({ deadlineMs: 300 });
  try {
    await client.push(slow);
    const t0 = performance.now();
    await expectCode(client.call("slow", "wait"), "REQUEST_TIMEOUT");
    assert.ok(performance.now() - t0 < 2500, "the client stopped waiting at its deadline");
    assert.equal(await client.call("slow", "now"), "now");
  } finally {
    await client.close();
  }
});

test("following the log of a node that shuts down throws the node's reason", async () => {
  const other = await startNode();
  const client = await connectNode({ address: `127.0.0.1:${other.port}`, identity: other.dev, nodeKey: other.nodeKey, knownNodes: false, timeoutMs: 20_000 });
  const ended = (async () => {
    for await (const _ of client.logs({ follow: true }));
  })().then(
    () => assert.fail("the loop ended as if the client had closed"),
    (err: unknown) => err,
  );
  // The subscription is made once the node has answered a request after it.
  await client.status();
  await other.stop();
  const reason = await ended;
  assert.ok(reason instanceof FixpointError, String(reason));
  assert.ok(["SHUTTING_DOWN", "CHANNEL_CLOSED"].includes(reason.code), `${reason.code}: ${reason.message}`);
  await client.close();
});

test("a request after close is CHANNEL_CLOSED, and close is idempotent", async () => {
  const client = await pinned();
  await client.close();
  await client.close();
  assert.equal(client.isOpen, false);
  await expectCode(client.status(), "CHANNEL_CLOSED");
});

test("rollingUpgrade rolls a project's release out to nodes in production, node at a time, and rollingRollback returns them", { timeout: 240_000 }, async () => {
  const { nodes, key, project } = await productionNodes(2);
  const clients: NodeClient[] = [];
  try {
    project.write(counter("1"));
    ok(await project.devtool(["release", "create"]), "release create 1");
    project.write(counter("2"));
    ok(await project.devtool(["release", "create"]), "release create 2");
    for (const [i, n] of nodes.entries()) clients.push(await connectNode({ address: `127.0.0.1:${n.port}`, identity: key, nodeKey: n.nodeKey, label: `n${i + 1}`, knownNodes: false, timeoutMs: 20_000 }));
    const first = readProjectRelease({ config: join(project.dir, "fixpoint.json"), number: 1 });
    const steps: string[] = [];
    const report = await rollingUpgrade(clients, first, { maxUnavailable: 2, onEvent: (e) => steps.push(`${e.node}:${e.step}`) });
    assert.equal(report.stopped, null, String(report.stopped?.message));
    assert.deepEqual(report.fates.map((f) => [f.node, f.fate.kind]), [["n1", "upgraded"], ["n2", "upgraded"]]);
    assert.ok(steps.includes("n1:staged") && steps.includes("n2:done"), steps.join(" "));
    const newest = readProjectRelease({ config: join(project.dir, "fixpoint.json") });
    assert.equal(newest.number, 2);
    const second = await rollingUpgrade(clients, newest);
    assert.equal(second.stopped, null, String(second.stopped?.message));
    assert.equal(await clients[0]!.call("counter", "version"), "2");
    const back = await rollingRollback(clients, 1);
    assert.equal(back.stopped, null, String(back.stopped?.message));
    for (const c of clients) assert.equal(await c.call("counter", "version"), "1");
    // A release the nodes do not hold: refused before any node goes down.
    const refused = await rollingRollback(clients, 7);
    assert.equal(refused.stopped?.code, "RELEASE_NOT_STAGED");
    assert.ok(refused.fates.every((f) => f.fate.kind === "refused"));
    await expectCode(clients[0]!.upgrade(0), "USAGE");
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(nodes.map((n) => n.stop()));
  }
  assert.ok(existsSync(project.dir));
});
