/**
 * Host capabilities (issue 14): a node started inside this test process (the host app) grants
 * its modules a few functions; module code, in the real runtime process's isolates, reaches
 * them as ctx.host.NAME.FN(...), with copies crossing both ways and coded errors for a name not
 * granted, a host function that throws, and one that hangs.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { generateKeyPair, type Data } from "../../loader/index.js";
import { startNode, type NodeHandle } from "../../devtool/embed/start-node.js";
import { createDataDir } from "../../devtool/node-admin.js";
import { connect, type ClientConnection } from "../../devtool/client/index.js";
import { signedModule } from "../helpers/modules.js";
import { tempDir } from "../helpers/processes.js";

const dev = generateKeyPair();

const moduleSource = `import { defineModule } from "fixpoint";
declare module "fixpoint" {
  interface FixpointHost {
    db: { query(sql: string, params?: unknown[]): Promise<{ rows: { id: number; at: Date }[]; sql: string }> };
    metrics: { increment(name: string): Promise<number>; fail(why: string): Promise<void>; hang(): Promise<void>; giveFunction(): Promise<unknown> };
  }
}
const outcome = async (f: () => Promise<unknown>) => {
  try { return { ok: await f() }; } catch (e) { const err = e as Error & { code?: string }; return { name: err.name, code: err.code, message: err.message, stack: String(err.stack) }; }
};
export default defineModule({
  functions: {
    query: (ctx, sql: string) => ctx.host.db.query(sql, [1, new Map([["k", 2]])]),
    count: (ctx) => ctx.host.metrics.increment("hits"),
    fail: (ctx) => outcome(() => ctx.host.metrics.fail("disk full")),
    hang: (ctx) => outcome(() => ctx.host.metrics.hang()),
    giveFunction: (ctx) => outcome(() => ctx.host.metrics.giveFunction()),
    notGranted: (ctx) => outcome(async () => (ctx.host as unknown as Record<string, Record<string, () => unknown>>)["payments"]!["charge"]!()),
    notGrantedFn: (ctx) => outcome(async () => (ctx.host.db as unknown as Record<string, () => unknown>)["drop"]!()),
    names: (ctx) => ({ capabilities: Object.keys(ctx.host), db: Object.keys(ctx.host.db), has: "payments" in ctx.host, json: JSON.stringify({ host: ctx.host }) }),
  },
});
`;

describe("host capabilities", () => {
  let node: NodeHandle;
  let conn: ClientConnection;
  const seen: unknown[][] = [];
  let hits = 0;

  before(async () => {
    const dataDir = createDataDir(join(tempDir(), "node"), { authorize: [{ key: dev.publicKey, roles: ["dev", "observe"] }] });
    node = await startNode({
      dataDir,
      listen: "127.0.0.1:0",
      capabilityTimeoutMs: 300,
      capabilities: {
        db: {
          query: async (sql: string, params: unknown[]) => {
            seen.push([sql, params]);
            return { rows: [{ id: 1, at: new Date(0) }], sql };
          },
        },
        metrics: {
          increment: () => ++hits,
          fail: (why: string) => {
            throw new Error(`host says: ${why}`);
          },
          hang: () => new Promise(() => {}),
          giveFunction: () => () => 1,
        },
      },
    });
    conn = await connect({ host: "127.0.0.1", port: node.channel.port, identity: dev, timeoutMs: 20_000, checkNodeKey: () => {} });
    const { bundle } = await signedModule("caps", moduleSource, dev);
    await conn.request("push", { bundle }, { timeoutMs: 30_000 });
  });

  after(async () => {
    conn?.close();
    await node?.stop();
  });

  const call = async (fn: string, ...args: Data[]) => ((await conn.request("call", { module: "caps", fn, args })) as { value?: unknown }).value;

  test("a module calls a granted capability with copied arguments and gets a copy of its result", async () => {
    assert.deepEqual(await call("query", "select 1"), { rows: [{ id: 1, at: new Date(0).toISOString() }], sql: "select 1" });
    assert.deepEqual(seen.at(-1), ["select 1", [1, new Map([["k", 2]])]], "a Map crossed as a Map");
    assert.equal(await call("count"), 1);
    assert.equal(await call("count"), 2);
  });

  test("ctx.host holds exactly the granted capabilities and functions, and JSON.stringify of it does not throw", async () => {
    assert.deepEqual(await call("names"), { capabilities: ["db", "metrics"], db: ["query"], has: false, json: '{"host":{"db":{},"metrics":{}}}' });
  });

  test("asking for a capability or a function the node does not grant throws CAPABILITY_NOT_GRANTED naming what it grants", async () => {
    const cap = (await call("notGranted")) as { code: string; message: string };
    assert.equal(cap.code, "CAPABILITY_NOT_GRANTED");
    assert.match(cap.message, /"payments".*grants db: query; metrics: increment, fail, hang, giveFunction/);
    const fn = (await call("notGrantedFn")) as { code: string; message: string };
    assert.equal(fn.code, "CAPABILITY_NOT_GRANTED");
    assert.match(fn.message, /"db\.drop"/);
  });

  test("a capability that throws gives the module an ordinary error with its message, and none of the host's stack", async () => {
    const r = (await call("fail")) as { name: string; code: string; message: string; stack: string };
    assert.equal(r.name, "Error");
    assert.equal(r.code, "CAPABILITY_FAILED");
    assert.equal(r.message, "host says: disk full");
    assert.doesNotMatch(r.stack, /embed-capabilities\.test|node:internal|start-node/);
  });

  test("a capability that hangs is cut off after capabilityTimeoutMs with CAPABILITY_TIMEOUT, and the module carries on", async () => {
    const started = Date.now();
    const r = (await call("hang")) as { code: string; message: string };
    assert.equal(r.code, "CAPABILITY_TIMEOUT");
    assert.match(r.message, /metrics\.hang did not answer within 300 ms/);
    assert.ok(Date.now() - started < 3000);
    assert.equal(typeof (await call("count")), "number");
  });

  test("a result that cannot be copied (a function) is CAPABILITY_FAILED, not a crash", async () => {
    const r = (await call("giveFunction")) as { code: string; message: string };
    assert.equal(r.code, "CAPABILITY_FAILED");
    assert.match(r.message, /cannot be copied/);
  });
});
