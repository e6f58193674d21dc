/**
 * Isolate hygiene against a real node (issue 13, items 4, 5 and 8; issue 12, items 6 and 7):
 * one module cannot take the others down through its timers, a swapped-out or stopped version
 * leaves nothing of itself running, a call in flight during a swap finishes on the old version,
 * and what an HTTP client or a pusher sees of an error carries no internals of the node.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { FixpointError, type ErrorCode, type KeyPair } from "../../loader/index.js";
import { type ClientConnection } from "../../devtool/client/index.js";
import { signedModule } from "../helpers/modules.js";
import { startNode, type NodeProcess } from "../helpers/processes.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function call(conn: ClientConnection, module: string, fn: string, ...args: unknown[]): Promise<unknown> {
  return (await conn.request("call", { module, fn, args: args as never[] })).value;
}

async function push(conn: ClientConnection, key: KeyPair, name: string, source: string): Promise<void> {
  const { bundle } = await signedModule(name, source, key);
  const result = await conn.request("push", { bundle });
  assert.equal(result.changed, true);
}

async function failsWith(work: Promise<unknown>, code: ErrorCode): Promise<FixpointError> {
  try {
    await work;
  } catch (err) {
    assert.ok(err instanceof FixpointError, `not a FixpointError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}, and it succeeded`);
}

/** The runtime-level events logged after index `from`: none of them may appear when one module misbehaves. */
const restarts = (node: NodeProcess, from: number) =>
  node.logs
    .slice(from)
    .map((l) => String(l["event"]))
    .filter((e) => e === "runtime.exited" || e === "runtime.unresponsive" || e === "runtime.up");

const bystanderSource = `import { defineModule } from "fixpoint";
export default defineModule({ state: { hits: 0 }, functions: { hit: (ctx) => ++ctx.state.hits, hits: (ctx) => ctx.state.hits } });
`;

describe("a module's timers and stopped versions cannot hurt the other modules", () => {
  let node: NodeProcess;
  let conn: ClientConnection;

  before(async () => {
    // A CPU limit above 1 s, so calls run on the isolates' own threads and a module stopped at
    // its memory limit is stopped by isolated-vm (see ModuleIsolate.enter).
    node = await startNode({ args: ["--module-memory-mb", "32", "--module-cpu-ms", "2000"] });
    conn = await node.connect();
    await push(conn, node.dev, "bystander", bystanderSource);
  });
  after(async () => {
    conn.close();
    assert.equal(await node.stop(), 0);
  });

  test("a module scheduling a million timers gets TIMER_LIMIT, and another module answers calls throughout without a runtime restart", { timeout: 60_000 }, async () => {
    await push(
      conn,
      node.dev,
      "flood",
      `import { defineModule } from "fixpoint";
let fired = 0;
const storming: unknown[] = [];
export default defineModule({
  state: {},
  functions: {
    flood: (ctx, ms: number) => { for (let i = 0; i < 1_000_000; i++) setTimeout(() => fired++, ms); return "scheduled"; },
    persist: (ctx, ms: number) => { let refused = 0; for (let i = 0; i < 20_000; i++) { try { setTimeout(() => fired++, ms); } catch (e) { refused++; } } return refused; },
    fired: () => fired,
    storm: () => { for (let i = 0; i < 10_000; i++) storming.push(setInterval(() => fired++, 1)); return "storming"; },
    calm: () => { storming.forEach((id) => clearInterval(id)); storming.length = 0; return fired; },
  },
});
`,
    );
    const mark = node.logs.length;
    const before = (await call(conn, "bystander", "hits")) as number;
    let answered = 0;
    let slowest = 0;
    let flooding = true;
    const steady = (async () => {
      while (flooding) {
        const started = performance.now();
        await call(conn, "bystander", "hit");
        slowest = Math.max(slowest, performance.now() - started);
        answered++;
        await sleep(20);
      }
    })();
    try {
      const err = await failsWith(call(conn, "flood", "flood", 0), "TIMER_LIMIT");
      assert.match(err.message, /10000 live timers/);
      await sleep(1000);
      assert.equal(await call(conn, "flood", "fired"), 10_000, "the timers it was allowed to set fired, each once");
      // Those have fired, so 10000 more are allowed; a module that swallows the error gets no more.
      assert.equal(await call(conn, "flood", "persist", 1), 10_000);
      await sleep(1000);
      assert.equal(await call(conn, "flood", "fired"), 20_000);
      // Its ten thousand intervals of 1 ms keep its isolate busy, and nothing else.
      await call(conn, "flood", "storm");
      await sleep(2000);
      assert.ok(((await call(conn, "flood", "fired")) as number) > 40_000, "the intervals run");
      const calmed = await call(conn, "flood", "calm");
      await sleep(100);
      assert.equal(await call(conn, "flood", "fired"), calmed, "cleared intervals run no more");
    } finally {
      flooding = false;
      await steady;
    }
    assert.equal(await call(conn, "bystander", "hits"), before + answered);
    assert.ok(answered > 10, `the bystander answered ${answered} calls`);
    assert.ok(slowest < 1000, `the bystander's slowest call took ${slowest.toFixed(0)} ms`);
    assert.deepEqual(restarts(node, mark), [], "the runtime was not restarted");
  });

  test("a module stopped at its memory limit leaves no timer running, and the runtime goes on", { timeout: 60_000 }, async (t) => {
    await push(
      conn,
      node.dev,
      "leaky",
      `import { defineModule } from "fixpoint";
export default defineModule({
  state: { ticks: 0 },
  functions: {
    tick: (ctx) => { setInterval(() => ctx.state.ticks++, 1); setInterval(() => console.log("tick"), 5); return "ticking"; },
    hoard: () => { const kept: string[] = []; for (;;) kept.push("x".repeat(1 << 16) + kept.length); },
  },
});
`,
    );
    await call(conn, "leaky", "tick");
    const hits = (await call(conn, "bystander", "hit")) as number;
    await sleep(50);
    const mark = node.logs.length;
    const err = await failsWith(call(conn, "leaky", "hoard"), "MODULE_MEMORY_LIMIT").catch((e: unknown) => e);
    if (err instanceof FixpointError && err.code === "MODULE_MEMORY_LIMIT") {
      await sleep(500); // many ticks of its intervals
      assert.deepEqual(restarts(node, mark), [], "the runtime process did not end");
      assert.equal(await call(conn, "bystander", "hits"), hits, "the bystander kept its state");
    } else {
      // V8 gave up on the isolate instead (its catastrophic path): the runtime restarts by design.
      t.diagnostic(`not a memory-limit stop this time: ${String(err)}`);
    }
  });

  test("a swapped-out version's interval cannot reach the new version, and a call in flight during the swap finishes on the old one", { timeout: 60_000 }, async () => {
    const version = (v: string, extra: string) => `import { defineModule } from "fixpoint";
export default defineModule({
  version: "${v}",
  state: { bumps: 0, late: [] as number[], swappedAt: 0 },
  ${extra}
  functions: {
    start: (ctx) => { setInterval(() => void ctx.call("echo", "bump").catch(() => {}), 10); return "started"; },
    bump: (ctx) => { ctx.state.bumps++; if (ctx.state.swappedAt > 0) ctx.state.late.push(Date.now() - ctx.state.swappedAt); },
    nap: async (ctx, ms: number) => { await new Promise((r) => setTimeout(r, ms)); return "napped on ${v}"; },
    read: (ctx) => ctx.state,
  },
});
`;
    await push(conn, node.dev, "echo", version("1", ""));
    await call(conn, "echo", "start");
    await sleep(100);
    // Longer than the swap's drain (2 s) and the old version's second wait (2 s more) together.
    const napping = call(conn, "echo", "nap", 4500);
    await sleep(50);
    await push(conn, node.dev, "echo", version("2", `migrate: (old: any) => ({ ...old, late: [], swappedAt: Date.now() }),`));
    assert.equal(await napping, "napped on 1");
    await sleep(300);
    const state = (await call(conn, "echo", "read")) as { bumps: number; late: number[]; swappedAt: number };
    assert.ok(state.swappedAt > 0, "the state is the new version's");
    // Calls the old interval made before the swap, held while it handed over, arrive at once.
    assert.deepEqual(
      state.late.filter((ms) => ms > 50),
      [],
      `bumps reached the new version ${JSON.stringify(state.late)} ms after it took over`,
    );
  });
});

describe("what an error shows of the node", () => {
  const webSource = `import { defineModule } from "fixpoint";
function inner(): never {
  throw new Error("handler boom");
}
export default defineModule({
  state: {},
  http: async (request) => (new URL(request.url).pathname.endsWith("/later") ? Promise.resolve().then(inner) : inner()),
});
`;
  /** Nothing of the node itself: its harness, isolated-vm's boundary, the runtime's files, host paths. */
  const internals = /fixpoint:|isolated-vm|dist\/runtime|runtime\/host|file:\/\/|node:internal/;

  test("a 500 in dev mode shows the module's own frames at its TypeScript lines, and nothing of the node; in production no source path at all", { timeout: 60_000 }, async () => {
    let node = await startNode({ args: ["--http", "127.0.0.1:0"] });
    let conn = await node.connect();
    let httpAt = String((await node.waitForLog("node.started"))["http"]);
    try {
      await push(conn, node.dev, "web", webSource);
      for (const path of ["/web/now", "/web/later"]) {
        const res = await fetch(`http://${httpAt}${path}`, { signal: AbortSignal.timeout(5000) });
        const body = await res.text();
        assert.equal(res.status, 500);
        assert.match(body, /^MODULE_ERROR: Error: handler boom\n/);
        assert.match(body, /at inner \(.*web\.ts:3:9\)/, body);
        assert.doesNotMatch(body, internals, body);
      }
    } finally {
      conn.close();
      assert.equal(await node.stop(), 0);
    }
    node = await startNode({ dataDir: node.dataDir, dev: node.dev, args: ["--http", "127.0.0.1:0", "--mode", "production"] });
    try {
      httpAt = String((await node.waitForLog("node.started"))["http"]);
      for (const path of ["/web/now", "/web/later"]) {
        const res = await fetch(`http://${httpAt}${path}`, { signal: AbortSignal.timeout(5000) });
        assert.equal(res.status, 500);
        assert.equal(await res.text(), "MODULE_ERROR: Error: handler boom\n");
      }
      // The operator's log keeps the module's frames.
      const failed = node.logs.find((l) => l["event"] === "module.log" && /http\.failed/.test(String(l["text"])));
      assert.match(String(failed?.["text"]), /web\.ts:3:9/);
    } finally {
      assert.equal(await node.stop(), 0);
    }
  });

  test("a version that fails to load shows its own frames at its TypeScript lines, and nothing of the node", async () => {
    const node = await startNode();
    const conn = await node.connect();
    try {
      const { bundle } = await signedModule("broken", `import { defineModule } from "fixpoint";\nfunction boot(): void {\n  throw new Error("load boom");\n}\nboot();\nexport default defineModule({});\n`, node.dev);
      const err = await failsWith(conn.request("push", { bundle }), "MODULE_LOAD_FAILED");
      assert.match(err.message, /Error: load boom\n {4}at boot \(.*broken\.ts:3:9\)\n {4}at .*broken\.ts:5:1$/, err.message);
      assert.doesNotMatch(err.message, internals, err.message);
    } finally {
      conn.close();
      assert.equal(await node.stop(), 0);
    }
  });
});
