/**
 * A node as a developer meets it: status, pushes that are stored by digest and survive a
 * restart, a corrupt store file reported and ignored at boot, log events for subscribers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROTOCOL_VERSIONS, fingerprint, type Data } from "../../loader/index.js";
import { counterSource, signedModule } from "../helpers/modules.js";
import { flushedSnapshot, snapshotDir, startNode } from "../helpers/processes.js";

test("status describes the node: name, key, mode, modules, memory, connections", async () => {
  const node = await startNode();
  try {
    const conn = await node.connect();
    assert.deepEqual(conn.welcome.roles, ["dev", "observe"]);
    const status = await conn.request("status", {});
    assert.equal(status.name, "test-node");
    assert.equal(status.cluster, "default");
    assert.equal(fingerprint(status.publicKey), fingerprint(node.nodeKey));
    assert.equal(status.mode, "dev");
    assert.equal(status.protocolVersion, PROTOCOL_VERSIONS[0]);
    assert.deepEqual(status.modules, []);
    assert.ok(status.memory.rss > 0);
    assert.equal(status.connections.active, 1);
    assert.ok(status.uptimeMs >= 0);
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});

test("a pushed bundle is stored by digest, a second push of the same bytes is a no-op, and both survive a restart", async () => {
  const node = await startNode();
  const { bundle, manifest } = await signedModule("counter", counterSource(), node.dev);
  let conn = await node.connect();
  const first = await conn.request("push", { bundle });
  assert.deepEqual({ ...first, swapMs: 0 }, { name: "counter", digest: manifest.digest, stored: true, changed: true, version: "counter-v1", swapMs: 0 });
  const disk = await flushedSnapshot(node, conn);
  assert.deepEqual(await conn.request("push", { bundle }), { name: "counter", digest: manifest.digest, stored: false, changed: false });
  assert.deepEqual(snapshotDir(node.dataDir), disk, "the second push wrote nothing");
  conn.close();
  assert.equal(await node.stop(), 0);

  const again = await startNode({ dataDir: node.dataDir, dev: node.dev });
  try {
    conn = await again.connect();
    const status = await conn.request("status", {});
    assert.deepEqual(
      status.modules.map((m) => [m.name, m.digest, m.size]),
      [["counter", manifest.digest, manifest.size]],
    );
    conn.close();
  } finally {
    assert.equal(await again.stop(), 0);
  }
});

test("a bundle corrupted on disk is reported at boot and never listed", async () => {
  const node = await startNode();
  const { bundle, manifest } = await signedModule("counter", counterSource("marker-to-corrupt"), node.dev);
  const conn = await node.connect();
  await conn.request("push", { bundle });
  conn.close();
  assert.equal(await node.stop(), 0);

  const file = join(node.dataDir, "store", "bundles", `${manifest.digest}.bundle`);
  const bytes = readFileSync(file);
  const at = bytes.indexOf(Buffer.from("marker-to-corrupt"));
  assert.ok(at > 0);
  bytes[at] = "M".charCodeAt(0);
  writeFileSync(file, bytes);

  const again = await startNode({ dataDir: node.dataDir, dev: node.dev });
  try {
    const problem = await again.waitForLog("store.corrupt");
    assert.equal(problem["code"], "STORE_CORRUPT");
    assert.match(String(problem["reason"]), /BUNDLE_DIGEST_MISMATCH/);
    const c = await again.connect();
    assert.deepEqual((await c.request("status", {})).modules, []);
    c.close();
  } finally {
    assert.equal(await again.stop(), 0);
  }
});

test("a subscriber to log receives the node's events and is not closed as idle", async () => {
  const node = await startNode({ args: ["--idle-timeout-ms", "300"] });
  try {
    const watcher = await node.connect();
    const events: Data[] = [];
    watcher.onEvent((topic, data) => {
      if (topic === "log") events.push(data);
    });
    assert.deepEqual(await watcher.request("subscribe", { topics: ["log"] }), { topics: ["log"] });
    const pusher = await node.connect();
    const { bundle } = await signedModule("greeter", counterSource(), node.dev);
    await pusher.request("push", { bundle });
    pusher.close();
    await new Promise((r) => setTimeout(r, 600)); // beyond the idle timeout
    assert.ok(watcher.isOpen, "the subscriber is still connected");
    const pushed = events.find((e) => (e as { event?: string }).event === "module.pushed") as { level: string; fields: Record<string, unknown> } | undefined;
    assert.ok(pushed !== undefined, JSON.stringify(events));
    assert.equal(pushed.level, "info");
    assert.equal(pushed.fields["module"], "greeter");
    watcher.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});

test("a burst of pushes of one module loads the newest once; those it replaced before they ran answer that they changed nothing", async () => {
  const node = await startNode();
  try {
    const conn = await node.connect();
    const versions = await Promise.all([1, 2, 3, 4, 5].map((v) => signedModule("counter", counterSource(`burst-v${v}`), node.dev)));
    const outcomes = await Promise.all(versions.map((v) => conn.request("push", { bundle: v.bundle })));
    assert.equal(outcomes.at(-1)!.changed, true);
    assert.equal(outcomes.at(-1)!.version, "burst-v5");
    // Each earlier one either loaded (it ran before the next arrived) or was replaced unloaded.
    for (const o of outcomes.slice(0, -1)) assert.ok(o.version !== undefined || (!o.changed && !o.stored), JSON.stringify(o));
    assert.ok(outcomes.filter((o) => o.version !== undefined).length < outcomes.length, "the burst coalesced");
    const status = await conn.request("status", {});
    assert.deepEqual(status.modules.map((m) => [m.name, m.digest, m.running]), [["counter", versions[4]!.manifest.digest, true]]);
    conn.close();
  } finally {
    assert.equal(await node.stop(), 0);
  }
});
