/**
 * The dev loop under bad input, each case against a real loader process with modules pushed
 * over the real channel. In every case the failure comes back as a coded error, the version
 * that was serving keeps serving with its state unchanged (checked with a call), and the node
 * keeps serving. Cases that take the runtime process down run on a node of their own.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { FixpointError, formatIdentity, formatPublicKeyLine, generateKeyPair, type ErrorCode, type KeyPair } from "../../loader/index.js";
import { signBundle, type ClientConnection } from "../../devtool/client/index.js";
import { buildSource, signedModule } from "../helpers/modules.js";
import { flushedSnapshot, runCli, snapshotDir, startNode, tempDir, type NodeProcess } from "../helpers/processes.js";
import { isolatedVmPackageFor } from "../../runtime/host/ivm.js";

/**
 * A counter whose functions misbehave on request. `atLoad` is top-level code run when the
 * version loads; `migrate` is the body of its migrate hook.
 */
function moduleSource(version: string, options: { atLoad?: string; migrate?: string } = {}): string {
  return [
    `import { defineModule } from "fixpoint";`,
    options.atLoad ?? "",
    `export default defineModule({`,
    `  version: ${JSON.stringify(version)},`,
    `  state: { hits: 0 },`,
    options.migrate === undefined ? "" : `  migrate: (previous: unknown) => { ${options.migrate} },`,
    `  functions: {`,
    `    hit: (ctx) => ++ctx.state.hits,`,
    `    hits: (ctx) => ctx.state.hits,`,
    `    fail: () => { throw new Error("the call failed on purpose"); },`,
    `    spin: () => { for (;;) if (Date.now() < 0) break; },`,
    `    hoard: () => { const kept: string[] = []; for (;;) kept.push("x".repeat(1 << 16) + kept.length); },`,
    `    huge: () => new Array(2 ** 26).fill(0).length,`,
    `    give: () => () => "a function",`,
    `  },`,
    `  http: (request, ctx) => Response.json({ version: ${JSON.stringify(version)}, hits: ++ctx.state.hits, path: new URL(request.url).pathname }),`,
    `});`,
    ``,
  ].join("\n");
}

/** The 1-based line of `source` holding `needle`. */
function lineOf(source: string, needle: string): number {
  const index = source.split("\n").findIndex((l) => l.includes(needle));
  assert.ok(index >= 0, `no line holds ${needle}`);
  return index + 1;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function call(conn: ClientConnection, module: string, fn: string, ...args: string[]): Promise<unknown> {
  return (await conn.request("call", { module, fn, args })).value;
}

/** Pushes `source` as module `name`, signed by `key`; returns the version's digest. */
async function push(conn: ClientConnection, key: KeyPair, name: string, source: string): Promise<string> {
  const { bundle, manifest } = await signedModule(name, source, key);
  const result = await conn.request("push", { bundle });
  assert.equal(result.changed, true);
  return manifest.digest;
}

/** Awaits `work`, which must fail with a coded error; returns the error. */
async function failure(work: Promise<unknown>): Promise<FixpointError> {
  try {
    await work;
  } catch (err) {
    assert.ok(err instanceof FixpointError, `not a FixpointError: ${String(err)}`);
    return err;
  }
  assert.fail("expected a coded error, and it succeeded");
}

/** Awaits `work`, which must fail with `code`; returns the error. */
async function failsWith(work: Promise<unknown>, code: ErrorCode): Promise<FixpointError> {
  const err = await failure(work);
  assert.equal(err.code, code, err.message);
  return err;
}

/** The version the node runs as `name` is `digest`/`version`, answering with `hits` in its state. */
async function assertServes(node: NodeProcess, conn: ClientConnection, name: string, expected: { digest: string; version: string; hits: number }): Promise<void> {
  assert.equal(await call(conn, name, "hits"), expected.hits, `${name}'s state`);
  const listed = (await conn.request("status", {})).modules.find((m) => m.name === name);
  assert.ok(listed !== undefined, `${name} is listed`);
  assert.deepEqual([listed.digest, listed.running, listed.version], [expected.digest, true, expected.version], `${name} runs the version that was serving`);
  assert.ok(node.alive(), "the node process is still running");
}

/** Pushes version v1 of a fresh module and hits it `hits` times. */
async function running(node: NodeProcess, conn: ClientConnection, name: string, hits: number, options: { atLoad?: string } = {}): Promise<{ digest: string; version: string; hits: number }> {
  const digest = await push(conn, node.dev, name, moduleSource(`${name}-v1`, options));
  for (let i = 0; i < hits; i++) await call(conn, name, "hit");
  return { digest, version: `${name}-v1`, hits };
}

/** The events logged after index `from`, in order. */
const eventsSince = (node: NodeProcess, from: number) => node.logs.slice(from).map((l) => String(l["event"]));

/** Waits until every one of `events` has been logged after index `from`. */
async function waitForEvents(node: NodeProcess, from: number, events: string[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!events.every((e) => eventsSince(node, from).includes(e))) {
    if (Date.now() > deadline) assert.fail(`expected ${events.join(", ")} in the log, got ${eventsSince(node, from).join(", ")}`);
    await sleep(20);
  }
}

describe("a node in dev mode under bad input", () => {
  let node: NodeProcess;
  let conn: ClientConnection;
  let httpBase: string;

  before(async () => {
    node = await startNode({ args: ["--module-cpu-ms", "200", "--http", "127.0.0.1:0"] });
    conn = await node.connect();
    const started = await node.waitForLog("node.started");
    assert.match(String(started["http"]), /^127\.0\.0\.1:[1-9]\d*$/, "--http with port 0 reports the port it got");
    httpBase = `http://${String(started["http"])}`;
  });
  after(async () => {
    conn.close();
    assert.equal(await node.stop(), 0);
  });

  test("a version that throws at load is MODULE_LOAD_FAILED at its TypeScript line, and the old one serves on", async () => {
    const before = await running(node, conn, "load-throws", 2);
    const source = moduleSource("load-throws-v2", { atLoad: `function readConfig(): never {\n  throw new Error("no config at load");\n}\nreadConfig();` });
    const err = await failsWith(push(conn, node.dev, "load-throws", source), "MODULE_LOAD_FAILED");
    const line = lineOf(source, `throw new Error("no config at load")`);
    assert.ok(err.message.includes("no config at load"), err.message);
    assert.ok(err.message.includes(`load-throws.ts:${line}:`), `the stack is mapped to load-throws.ts:${line}:\n${err.message}`);
    assert.ok(err.location?.file.endsWith("load-throws.ts") === true && err.location.line === line, JSON.stringify(err.location));
    await assertServes(node, conn, "load-throws", before);
  });

  test("a version whose migrate throws is MIGRATION_FAILED, and the old one serves on with its state", async () => {
    const before = await running(node, conn, "bad-migrate", 3);
    const source = moduleSource("bad-migrate-v2", { migrate: `throw new Error("cannot read the old shape");` });
    const err = await failsWith(push(conn, node.dev, "bad-migrate", source), "MIGRATION_FAILED");
    assert.ok(err.message.includes("cannot read the old shape"), err.message);
    assert.ok(err.message.includes(`bad-migrate.ts:${lineOf(source, "cannot read the old shape")}:`), err.message);
    await assertServes(node, conn, "bad-migrate", before);
  });

  test("a version that loops forever at load is MODULE_TIMEOUT, and the old one serves on", async () => {
    const before = await running(node, conn, "load-spins", 1);
    const started = performance.now();
    await failsWith(push(conn, node.dev, "load-spins", moduleSource("load-spins-v2", { atLoad: "for (;;) if (Date.now() < 0) break;" })), "MODULE_TIMEOUT");
    assert.ok(performance.now() - started < 5000, "stopped at --module-cpu-ms, not later");
    await assertServes(node, conn, "load-spins", before);
  });

  test("a call that throws is MODULE_ERROR with its stack at the TypeScript line, and the module serves on", async () => {
    const before = await running(node, conn, "call-throws", 2);
    const err = await failsWith(call(conn, "call-throws", "fail"), "MODULE_ERROR");
    const line = lineOf(moduleSource("x"), "the call failed on purpose");
    assert.ok(err.message.includes("the call failed on purpose"), err.message);
    assert.ok(err.message.includes(`call-throws.ts:${line}:`), `the stack is mapped to call-throws.ts:${line}:\n${err.message}`);
    assert.equal(err.location?.line, line);
    await assertServes(node, conn, "call-throws", before);
  });

  test("a call that loops forever is MODULE_TIMEOUT, and the next call finds the state intact", async () => {
    const before = await running(node, conn, "call-spins", 4);
    await failsWith(call(conn, "call-spins", "spin"), "MODULE_TIMEOUT");
    assert.equal(await call(conn, "call-spins", "hit"), 5);
    await assertServes(node, conn, "call-spins", { ...before, hits: 5 });
  });

  test("a bundle for an invalid module name is BUNDLE_INVALID, and nothing is stored", async () => {
    const before = await running(node, conn, "named", 1);
    const disk = await flushedSnapshot(node, conn);
    const built = await buildSource("named", moduleSource("named-v2"));
    const { bundle } = signBundle("Bad_Name", Buffer.from(built.code), Buffer.from(built.sourceMap), node.dev);
    const err = await failsWith(conn.request("push", { bundle }), "BUNDLE_INVALID");
    assert.ok(err.message.includes("name"), err.message);
    assert.deepEqual(snapshotDir(node.dataDir), disk, "nothing written");
    assert.equal((await conn.request("status", {})).modules.some((m) => m.name === "Bad_Name"), false);
    await assertServes(node, conn, "named", before);
  });

  test("a push from a key with only observe is FORBIDDEN, and nothing is stored", async () => {
    const before = await running(node, conn, "watched", 2);
    const observer = generateKeyPair();
    const auth = runCli("loader", ["authorize", "--data", node.dataDir, "--key", formatPublicKeyLine(observer.publicKey), "--roles", "observe"]);
    assert.equal(auth.status, 0, auth.stderr);
    const disk = await flushedSnapshot(node, conn);
    const watcher = await node.connect(observer);
    try {
      assert.deepEqual(watcher.welcome.roles, ["observe"]);
      const { bundle } = await signedModule("watched", moduleSource("watched-v2"), node.dev);
      const err = await failsWith(watcher.request("push", { bundle }), "FORBIDDEN");
      assert.ok(err.message.includes("dev") && err.message.includes("observe"), err.message);
    } finally {
      watcher.close();
    }
    assert.deepEqual(snapshotDir(node.dataDir), disk, "nothing written");
    await assertServes(node, conn, "watched", before);
  });

  test("a call to a missing module is MODULE_NOT_FOUND, to a missing function FUNCTION_NOT_FOUND naming those there are", async () => {
    const before = await running(node, conn, "lookup", 1);
    await failsWith(call(conn, "nobody-home", "hit"), "MODULE_NOT_FOUND");
    const err = await failsWith(call(conn, "lookup", "nope"), "FUNCTION_NOT_FOUND");
    assert.ok(err.message.includes(`"nope"`), err.message);
    for (const fn of ["hit", "hits", "fail", "give"]) assert.ok(err.message.includes(fn), `names ${fn}: ${err.message}`);
    await assertServes(node, conn, "lookup", before);
  });

  test("a call whose result cannot be copied (a function) is RESULT_NOT_COPYABLE, and the module serves on", async () => {
    const before = await running(node, conn, "gives", 2);
    const err = await failsWith(call(conn, "gives", "give"), "RESULT_NOT_COPYABLE");
    assert.ok(err.message.includes("plain data"), err.message);
    await assertServes(node, conn, "gives", before);
  });

  describe("through the devtool CLI", () => {
    const home = tempDir("fixpoint-home-");
    const identity = join(tempDir(), "id_ed25519");
    const devtool = (args: string[], cwd = tempDir()) =>
      runCli("devtool", [...args, "--node", `127.0.0.1:${node.port}`, "--accept-new"], { cwd, env: { FIXPOINT_HOME: home, FIXPOINT_IDENTITY: identity } });

    before(() => writeFileSync(identity, formatIdentity(node.dev), { mode: 0o600 }));

    test("`devtool call` with an argument that is not JSON exits 2 with ARGUMENTS_INVALID", async () => {
      const before = await running(node, conn, "cli-args", 3);
      const r = devtool(["call", "cli-args", "hit", "three"]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /^error ARGUMENTS_INVALID: argument 1 \("three"\) is not JSON/m);
      const ok = devtool(["call", "cli-args", "hits"]);
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(ok.stdout.trim(), "3");
      await assertServes(node, conn, "cli-args", before);
    });

    test("`devtool push` of a source with a syntax error exits 1 with BUILD_FAILED at file:line, and pushes nothing", async () => {
      const before = await running(node, conn, "typo", 2);
      const project = tempDir("fixpoint-project-");
      const source = moduleSource("typo-v2").replace("    hits: (ctx) => ctx.state.hits,", "    hits: (ctx) => ctx.state.hits +,");
      writeFileSync(join(project, "typo.ts"), source);
      const disk = await flushedSnapshot(node, conn);
      const status = (await conn.request("status", {})).modules.map((m) => [m.name, m.digest, m.storedAt]);
      const r = devtool(["push", "typo.ts"], project);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^error BUILD_FAILED: /m);
      assert.ok(r.stderr.includes(`typo.ts:${lineOf(source, "ctx.state.hits +,")}:`), r.stderr);
      assert.deepEqual(snapshotDir(node.dataDir), disk, "nothing written");
      assert.deepEqual((await conn.request("status", {})).modules.map((m) => [m.name, m.digest, m.storedAt]), status);
      await assertServes(node, conn, "typo", before);
    });
  });

  test("HTTP answers /NAME/ and /, and steady traffic through 20 swaps neither fails nor loses a count", async () => {
    const versions = await Promise.all(Array.from({ length: 21 }, (_, i) => signedModule("index", moduleSource(`index-v${i}`), node.dev)));
    await conn.request("push", { bundle: versions[0]!.bundle });
    type Answer = { version: string; hits: number; path: string };
    const get = async (path: string): Promise<Answer> => {
      const response = await fetch(httpBase + path);
      assert.equal(response.status, 200, await response.clone().text());
      return (await response.json()) as Answer;
    };
    assert.deepEqual(await get("/index/"), { version: "index-v0", hits: 1, path: "/index/" });
    assert.deepEqual(await get("/"), { version: "index-v0", hits: 2, path: "/" });

    const answers: Answer[][] = [[], []];
    const failures: string[] = [];
    let stop = false;
    const client = async (path: string, into: Answer[]) => {
      while (!stop) {
        try {
          into.push(await get(path));
        } catch (err) {
          failures.push(`${path}: ${String(err)}`);
        }
      }
    };
    const clients = [client("/", answers[0]!), client("/index/a/path", answers[1]!)];
    const total = () => answers[0]!.length + answers[1]!.length + failures.length;
    for (const v of versions.slice(1)) {
      await conn.request("push", { bundle: v.bundle });
      // Traffic reaches every version before the next swap.
      const seen = total();
      while (total() < seen + 4) await sleep(1);
    }
    stop = true;
    await Promise.all(clients);

    assert.deepEqual(failures, []);
    const all = answers.flat();
    assert.deepEqual(
      all.map((a) => a.hits).sort((a, b) => a - b),
      Array.from({ length: all.length }, (_, i) => i + 3),
      "every request counted exactly once, across every swap",
    );
    for (const [i, mine] of answers.entries()) {
      const order = mine.map((a) => Number(a.version.slice("index-v".length)));
      assert.deepEqual(order, [...order].sort((a, b) => a - b), `client ${i} never saw an older version after a newer one`);
      assert.ok(mine.every((a) => a.path === (i === 0 ? "/" : "/index/a/path")));
    }
    for (let i = 1; i <= 20; i++) assert.ok(all.some((a) => a.version === `index-v${i}`), `index-v${i} answered`);
    assert.equal(await call(conn, "index", "hits"), all.length + 2);
    assert.equal((await conn.request("status", {})).modules.find((m) => m.name === "index")?.version, "index-v20");
  });
});

describe("a node in production mode", () => {
  let node: NodeProcess;
  let conn: ClientConnection;
  let before_: { digest: string; version: string; hits: number };

  before(async () => {
    // The module gets there in dev mode; the same data directory then starts in production.
    const setup = await startNode({ roles: ["dev", "observe", "admin"] });
    const c = await setup.connect();
    const digest = await push(c, setup.dev, "keeper", moduleSource("keeper-v1"));
    c.close();
    assert.equal(await setup.stop(), 0);
    node = await startNode({ dataDir: setup.dataDir, dev: setup.dev, args: ["--mode", "production"] });
    conn = await node.connect();
    // Calls in production need admin, which this key has.
    for (let i = 0; i < 2; i++) await call(conn, "keeper", "hit");
    before_ = { digest, version: "keeper-v1", hits: 2 };
  });
  after(async () => {
    conn.close();
    assert.equal(await node.stop(), 0);
  });

  test("a push is FORBIDDEN with a message saying to use a release, and the running version serves on", async () => {
    const disk = await flushedSnapshot(node, conn);
    const { bundle } = await signedModule("keeper", moduleSource("keeper-v2"), node.dev);
    const err = await failsWith(conn.request("push", { bundle }), "FORBIDDEN");
    assert.match(err.message, /production/);
    assert.match(err.message, /release/);
    assert.deepEqual(snapshotDir(node.dataDir), disk, "nothing written");
    await assertServes(node, conn, "keeper", before_);
  });
});

describe("a node whose runtime runs out of memory or time", () => {
  let node: NodeProcess;
  let conn: ClientConnection;
  /** What each module here should still answer with. */
  const expected = new Map<string, { digest: string; version: string; hits: number }>();
  const start = async (name: string, hits: number, options: { atLoad?: string } = {}) => expected.set(name, await running(node, conn, name, hits, options)).get(name)!;
  const assertAllServe = async () => {
    for (const [name, e] of expected) await assertServes(node, conn, name, e);
  };

  before(async () => {
    // A small heap so the allocations below hit it fast; a CPU limit longer than the
    // supervisor's 3 s heartbeat, so they hit the heap rather than the clock, and so a long
    // call shows whether it stalls the runtime.
    node = await startNode({ args: ["--module-memory-mb", "32", "--module-cpu-ms", "5000"] });
    conn = await node.connect();
  });
  after(async () => {
    conn.close();
    assert.equal(await node.stop(), 0);
  });

  test("a call allocating without bound fails with a memory code, and the module comes back with its last snapshot", async (t) => {
    await start("bystander", 2);
    // Slow to load, so that the call right after the failure arrives while it reloads.
    await start("hoarder", 3, { atLoad: "const until = Date.now() + 300;\nwhile (Date.now() < until);" });
    await sleep(1500); // beyond a periodic snapshot
    const mark = node.logs.length;
    // MODULE_MEMORY_LIMIT when isolated-vm stops the isolate; RUNTIME_UNAVAILABLE when V8
    // gives up on it and the runtime process restarts. Either way the loader recovers.
    const err = await failure(call(conn, "hoarder", "hoard"));
    assert.ok(["MODULE_MEMORY_LIMIT", "RUNTIME_UNAVAILABLE"].includes(err.code), `${err.code}: ${err.message}`);
    // The very next call, with no wait: it is held while the module reloads, not refused.
    assert.equal(await call(conn, "hoarder", "hits"), 3);
    await assertAllServe();
    if (eventsSince(node, mark).includes("runtime.exited")) {
      await waitForEvents(node, mark, ["runtime.exited", "runtime.up"]);
    } else {
      await waitForEvents(node, mark, ["module.stopped", "module.restored"]);
      const stopped = node.logs.slice(mark).find((l) => l["event"] === "module.stopped")!;
      assert.deepEqual([stopped["module"], stopped["code"]], ["hoarder", "MODULE_MEMORY_LIMIT"], "the log says why it stopped");
    }
    t.diagnostic(`${err.code}; logged ${eventsSince(node, mark).join(", ")}`);
  });

  test("a huge allocation that V8 cannot survive restarts the runtime long before --module-async-ms, and every module comes back with its state", async () => {
    await start("giant", 1);
    await sleep(1500); // beyond a periodic snapshot
    const mark = node.logs.length;
    const started = performance.now();
    const err = await failsWith(call(conn, "giant", "huge"), "RUNTIME_UNAVAILABLE");
    assert.match(err.message, /exited/);
    // Not left hanging until --module-async-ms (30 s) on an isolate V8 has given up on. How soon
    // depends on the line: on Node 20 and 22 (isolated-vm 5 and 6) V8 ends the process within
    // about 2 s of the allocation; on Node 24 and 26 (isolated-vm 7, V8 13) it goes on
    // collecting inside Array.prototype.fill, which no terminate reaches, until isolated-vm's
    // timer (--module-cpu-ms, 5 s here) and its 5 s grace for the terminate run out and it
    // reports a catastrophic error, on which the runtime exits (measured: 10.1-10.2 s).
    const bound = isolatedVmPackageFor(process.versions.node) === "isolated-vm-7" ? 5_000 + 5_000 + 3_000 : 10_000;
    assert.ok(performance.now() - started < bound, `failed after ${performance.now() - started} ms`);
    await waitForEvents(node, mark, ["runtime.exited", "runtime.up"]);
    const events = eventsSince(node, mark);
    assert.ok(events.indexOf("runtime.exited") < events.indexOf("runtime.up"), events.join(", "));
    assert.ok(node.alive(), "the loader survives");
    await assertAllServe();
  });

  test("a call looping past the 3 s heartbeat is MODULE_TIMEOUT at --module-cpu-ms, not a runtime restart", async () => {
    await start("slowpoke", 2);
    await sleep(1100); // a periodic snapshot falls within the call
    const mark = node.logs.length;
    await failsWith(call(conn, "slowpoke", "spin"), "MODULE_TIMEOUT");
    assert.deepEqual(eventsSince(node, mark).filter((e) => e.startsWith("runtime.") || e.startsWith("module.")), [], "nothing stopped or restarted");
    await assertAllServe();
  });
});

describe("an HTTP handler that allocates more than V8 can survive", () => {
  test("the runtime is replaced within the heartbeat, and the node serves again with every module's state", { timeout: 60_000 }, async () => {
    // The default CPU limit, so requests run synchronously on the runtime's main thread, which
    // V8 then cannot hand back (see ModuleIsolate.enter): the loader's heartbeat notices.
    const node = await startNode({ args: ["--module-memory-mb", "32", "--http", "127.0.0.1:0"] });
    const conn = await node.connect();
    try {
      const http = String((await node.waitForLog("node.started"))["http"]);
      const bystander = await running(node, conn, "bystander", 2);
      await push(conn, node.dev, "giant", `import { defineModule } from "fixpoint";
export default defineModule({ state: {}, http: () => new Response(String(new Array(2 ** 26).fill(0).length)) });
`);
      await sleep(1500); // beyond a periodic snapshot
      const mark = node.logs.length;
      const started = performance.now();
      await assert.rejects(fetch(`http://${http}/giant`, { signal: AbortSignal.timeout(20_000) }), "the request's connection ends with its runtime");
      assert.ok(performance.now() - started < 10_000, `ended after ${performance.now() - started} ms`);
      await waitForEvents(node, mark, ["runtime.exited", "runtime.up"]);
      assert.ok(node.alive(), "the loader survives");
      await assertServes(node, conn, "bystander", bystander);
      const res = await fetch(`http://${http}/bystander`, { signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 200);
    } finally {
      conn.close();
      assert.equal(await node.stop(), 0);
    }
  });
});
