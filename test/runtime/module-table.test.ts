/**
 * The module table against real isolates: hot swap keeps state, a failing new version leaves
 * the old one serving with its state, calls are never dropped during a swap, bursts coalesce.
 */
import { describe, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { stateValue } from "../../runtime/host/state-codec.js";
import { runInNewContext } from "node:vm";
import assert from "node:assert/strict";
import { hasCode, type FixpointError } from "../../loader/index.js";
import type { StateBytes } from "../../loader/protocol/runtime-ipc.js";
import { ModuleTable } from "../../runtime/swap/module-table.js";
import { buildSource } from "../helpers/modules.js";

const counter = (version: string, extra = "") => `
import { defineModule } from "fixpoint";
export default defineModule({
  version: "${version}",
  state: { hits: 0 },
  functions: {
    hit: (ctx, by: number = 1) => (ctx.state.hits += by),
    hits: (ctx) => ctx.state.hits,
    version: () => "${version}",
    slow: async (ctx) => { await new Promise((r) => setTimeout(r, 50)); return ctx.state.hits++; },
  },
  ${extra}
});
`;

function newTable(logs: string[] = []) {
  return new ModuleTable({ log: (m, level, text) => logs.push(`${m} ${level} ${text}`), onModuleDead: () => {} }, { limits: { cpuMs: 200, memoryMb: 64, asyncMs: 2000 } });
}

/** V8's full collection, without starting the test process with --expose-gc. */
function collectGarbage(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

describe("ModuleTable", () => {
  test("loads a module and calls its functions with copied arguments", async () => {
    const table = newTable();
    try {
      const m = await buildSource("counter", counter("1"));
      const outcome = await table.load(m);
      assert.equal(outcome.status, "loaded");
      assert.equal(await table.call("counter", "hit", [5]), 5);
      assert.equal(await table.call("counter", "hit", []), 6);
      assert.deepEqual((await table.list()).map((i) => [i.name, i.version, i.functions]), [["counter", "1", ["hit", "hits", "version", "slow"]]]);
    } finally {
      table.dispose();
    }
  });

  test("listing the modules neither blocks the process nor waits for a call that keeps an isolate busy", async () => {
    const table = newTable();
    try {
      const spin = `import { defineModule } from "fixpoint";
export default defineModule({ version: "1", state: {}, functions: { spin: () => { const end = Date.now() + 180; while (Date.now() < end) {} return "spun"; } } });`;
      await table.load(await buildSource("spinner", spin));
      await table.list(); // a first heap figure
      const order: string[] = [];
      const call = table.call("spinner", "spin", []).then(() => order.push("call"));
      await new Promise((r) => setTimeout(r, 20)); // the isolate is in the loop now
      const timer = new Promise((r) => setTimeout(r, 10)).then(() => order.push("timer"));
      const listed = table.list().then((l) => order.push(`list ${l.length} ${l[0]!.heapUsed > 0}`));
      await Promise.all([call, timer, listed]);
      assert.deepEqual(order, ["timer", "list 1 true", "call"]);
    } finally {
      table.dispose();
    }
  });

  test("a hot swap keeps the state and routes new calls to the new version", async () => {
    const table = newTable();
    try {
      await table.load(await buildSource("counter", counter("1")));
      await table.call("counter", "hit", [41]);
      const outcome = await table.load(await buildSource("counter", counter("2")));
      assert.equal(outcome.status, "loaded");
      assert.equal(await table.call("counter", "version", []), "2");
      assert.equal(await table.call("counter", "hit", []), 42);
    } finally {
      table.dispose();
    }
  });

  test("migrate receives the previous state and version", async () => {
    const table = newTable();
    try {
      await table.load(await buildSource("counter", counter("1")));
      await table.call("counter", "hit", [3]);
      await table.load(await buildSource("counter", counter("2", `migrate: (old: any, from: string) => ({ hits: old.hits * 10, from }),`)));
      assert.equal(await table.call("counter", "hits", []), 30);
    } finally {
      table.dispose();
    }
  });

  test("pushing the same digest again is a no-op", async () => {
    const table = newTable();
    try {
      const m = await buildSource("counter", counter("1"));
      await table.load(m);
      assert.equal((await table.load(m)).status, "unchanged");
    } finally {
      table.dispose();
    }
  });

  const header = `import { defineModule } from "fixpoint";\n`;
  for (const [what, source, code] of [
    ["throws at load", `${header}throw new Error("boom at load");\nexport default defineModule({});`, "MODULE_LOAD_FAILED"],
    ["does not export a module", `export const x = 1;`, "MODULE_LOAD_FAILED"],
    ["loops forever at load", `${header}while (Date.now() > 0) {}\nexport default defineModule({});`, "MODULE_TIMEOUT"],
    ["throws in migrate", counter("2", `migrate: () => { throw new Error("cannot migrate"); },`), "MIGRATION_FAILED"],
    ["loops forever in migrate", counter("2", `migrate: () => { for (;;) {} },`), "MODULE_TIMEOUT"],
  ] as const) {
    test(`a new version that ${what} fails with ${code}; the old one serves on with its state`, async () => {
      const table = newTable();
      try {
        await table.load(await buildSource("counter", counter("1")));
        await table.call("counter", "hit", [7]);
        await assert.rejects(table.load(await buildSource("counter", source)), (err: FixpointError) => err.code === code);
        assert.equal(await table.call("counter", "version", []), "1");
        assert.equal(await table.call("counter", "hits", []), 7);
      } finally {
        table.dispose();
      }
    });
  }

  test("a throw in a call is MODULE_ERROR with the stack mapped to the TypeScript file and line", async () => {
    const table = newTable();
    try {
      const m = await buildSource("thrower", `import { defineModule } from "fixpoint";\nexport default defineModule({\n  functions: {\n    fail: () => {\n      throw new Error("deliberate");\n    },\n  },\n});\n`);
      await table.load(m);
      await assert.rejects(table.call("thrower", "fail", []), (err: FixpointError) => {
        assert.equal(err.code, "MODULE_ERROR");
        assert.match(err.message, /deliberate/);
        assert.match(err.message, /thrower\.ts:5:/);
        assert.equal(err.location?.line, 5);
        return true;
      });
    } finally {
      table.dispose();
    }
  });

  test("an endless loop in a call is MODULE_TIMEOUT and the module keeps serving", async () => {
    const table = newTable();
    try {
      const spinner = await buildSource("spinner", `import { defineModule } from "fixpoint";\nexport default defineModule({ state: { n: 1 }, functions: { spin: () => { for (;;) {} }, n: (ctx) => ctx.state.n } });`);
      await table.load(spinner);
      await assert.rejects(table.call("spinner", "spin", []), (err: unknown) => hasCode(err, "MODULE_TIMEOUT"));
      assert.equal(await table.call("spinner", "n", []), 1);
    } finally {
      table.dispose();
    }
  });

  test("a module's own limits replace the node's: a shorter CPU limit, a smaller heap", async () => {
    const table = new ModuleTable({ log: () => {}, onModuleDead: () => {} }, { limits: { cpuMs: 5000, memoryMb: 128, asyncMs: 6000 } });
    const source = (limits: string) => `import { defineModule } from "fixpoint";
export default defineModule({ state: {}, ${limits} functions: {
  spin: () => { const end = Date.now() + 150; while (Date.now() < end) {} return "spun"; },
  grow: () => { const a = []; for (let i = 0; i < 80; i++) a.push(new Array(125_000).fill(i + 0.5)); return a.length; },
} });`;
    try {
      await table.load(await buildSource("roomy", source("")));
      assert.equal(await table.call("roomy", "spin", []), "spun");
      assert.equal(await table.call("roomy", "grow", []), 80, "80 MB fits the node's 128 MB");
      await table.load(await buildSource("tight", source("limits: { cpuMs: 50, memoryMb: 16 },")));
      await assert.rejects(table.call("tight", "spin", []), (err: unknown) => hasCode(err, "MODULE_TIMEOUT"));
      await table.load(await buildSource("small", source("limits: { memoryMb: 16 },")));
      assert.equal(await table.call("small", "spin", []), "spun", "the node's CPU limit where the module sets none");
      await assert.rejects(table.call("small", "grow", []), (err: unknown) => hasCode(err, "MODULE_MEMORY_LIMIT"));
    } finally {
      table.dispose();
    }
  });

  test("limits a node does not accept fail the load, naming the limit, and the previous version serves on", async () => {
    const table = newTable();
    try {
      await table.load(await buildSource("counter", counter("1")));
      await table.call("counter", "hit", [7]);
      for (const [limits, says] of [
        ["{ cpuMs: 5 }", /cpuMs must be an integer from 10 to 60000, got 5/],
        ["{ memoryMb: 1.5 }", /memoryMb must be an integer/],
        ["{ cpu: 100 }", /unknown key "cpu"/],
        ["[1]", /must be an object/],
      ] as const) {
        const outcome = await table.load(await buildSource("counter", counter("2", `limits: ${limits},`))).then(() => null, (err: unknown) => err as FixpointError);
        assert.equal(outcome?.code, "MODULE_LOAD_FAILED", limits);
        assert.match(outcome.message, says);
      }
      assert.equal(await table.call("counter", "version", []), "1");
      assert.equal(await table.call("counter", "hits", []), 7);
    } finally {
      table.dispose();
    }
  });

  test("a module is marked changed by every way its code can run, and unchanged once exported", async () => {
    const table = newTable();
    try {
      await table.load(await buildSource("counter", counter("1")));
      await table.load(await buildSource("ticker", `import { defineModule } from "fixpoint";
export default defineModule({ state: { n: 0 }, functions: {
  later: (ctx) => { setTimeout(() => { ctx.state.n++; }, 30); },
  relay: async (ctx) => { const hits = await ctx.call("counter", "hits"); ctx.state.n = hits; },
} });`));
      const changed = (name: string) => table.changedSinceExport(name);
      assert.equal(changed("counter"), true, "a new version has not been exported yet");
      await table.exportState("counter");
      assert.equal(changed("counter"), false);
      await table.call("counter", "hit", []);
      assert.equal(changed("counter"), true, "after a call");
      await table.exportState("counter");
      await table.http("counter", { method: "GET", url: "http://x/", headers: [], body: null });
      assert.equal(changed("counter"), true, "after a request");
      await table.exportState("ticker");
      await table.call("ticker", "later", []);
      await table.exportState("ticker");
      assert.equal(changed("ticker"), false);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(changed("ticker"), true, "after a timer fired");
      await table.exportState("ticker");
      await table.call("ticker", "relay", []);
      assert.equal(changed("ticker"), true, "after a call to another module answered");
      assert.equal(changed("nobody"), true, "unknown: assume changed");
    } finally {
      table.dispose();
    }
  });

  test("a missing module or function is a coded error naming what exists", async () => {
    const table = newTable();
    try {
      await table.load(await buildSource("counter", counter("1")));
      await assert.rejects(table.call("nope", "x", []), (err: FixpointError) => err.code === "MODULE_NOT_FOUND" && /counter/.test(err.message));
      await assert.rejects(table.call("counter", "nope", []), (err: FixpointError) => err.code === "FUNCTION_NOT_FOUND" && /hit/.test(err.message));
    } finally {
      table.dispose();
    }
  });

  test("a result that cannot be copied out is RESULT_NOT_COPYABLE", async () => {
    const table = newTable();
    try {
      await table.load(await buildSource("leaky", `import { defineModule } from "fixpoint";\nexport default defineModule({ functions: { fn: () => () => 1 } });`));
      await assert.rejects(table.call("leaky", "fn", []), (err: unknown) => hasCode(err, "RESULT_NOT_COPYABLE"));
    } finally {
      table.dispose();
    }
  });

  test("no call fails during a swap, and none is lost", async () => {
    const table = newTable();
    try {
      await table.load(await buildSource("counter", counter("1")));
      const v2 = await buildSource("counter", counter("2"));
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 50; i++) calls.push(table.call("counter", "slow", []));
      const swap = table.load(v2);
      for (let i = 0; i < 50; i++) calls.push(table.call("counter", "hit", []));
      await swap;
      await Promise.all(calls);
      assert.equal(await table.call("counter", "hits", []), 100);
    } finally {
      table.dispose();
    }
  });

  test("loads of one module arriving together run one after another in arrival order (the loader coalesces, not the table)", async () => {
    const table = newTable();
    try {
      await table.load(await buildSource("counter", counter("1")));
      const versions = await Promise.all(["2", "3", "4", "5"].map((v) => buildSource("counter", counter(v))));
      const outcomes = await Promise.all(versions.map((m) => table.load(m)));
      assert.deepEqual(outcomes.map((o) => o.status), ["loaded", "loaded", "loaded", "loaded"]);
      assert.deepEqual(outcomes.map((o) => (o.status === "loaded" ? o.version : "")), ["2", "3", "4", "5"]);
      assert.equal(await table.call("counter", "version", []), "5");
    } finally {
      table.dispose();
    }
  });

  test("console output reaches the host log, and timers fire", async () => {
    const logs: string[] = [];
    const table = newTable(logs);
    try {
      await table.load(await buildSource("chatty", `import { defineModule } from "fixpoint";\nexport default defineModule({ state: { ticks: 0 }, functions: {\n  say: (ctx, what: string) => { console.log("said", what, { n: 1 }); },\n  later: (ctx) => new Promise((r) => setTimeout(() => r(++ctx.state.ticks), 20)),\n} });`));
      await table.call("chatty", "say", ["hi"]);
      assert.deepEqual(logs, ['chatty info said hi { n: 1 }']);
      assert.equal(await table.call("chatty", "later", []), 1);
    } finally {
      table.dispose();
    }
  });

  test("a module calls another module on the same node", async () => {
    const table = newTable();
    try {
      await table.load(await buildSource("counter", counter("1")));
      await table.load(await buildSource("front", `import { defineModule } from "fixpoint";\nexport default defineModule({ functions: { twice: async (ctx) => { await ctx.call("counter", "hit", 2); return ctx.call("counter", "hit", 2); }, missing: (ctx) => ctx.call("nope", "x") } });`));
      assert.equal(await table.call("front", "twice", []), 4);
      // An error the callee raised and the caller did not handle keeps its code.
      await assert.rejects(table.call("front", "missing", []), (err: FixpointError) => err.code === "MODULE_NOT_FOUND" && /"nope"/.test(err.message));
    } finally {
      table.dispose();
    }
  });

  test("an async function's result, its rejection (mapped to the TypeScript line) and an uncopyable async result come back coded", async () => {
    const table = newTable();
    try {
      const source = `import { defineModule } from "fixpoint";\nexport default defineModule({\n  functions: {\n    later: async (_ctx, n: number) => { await Promise.resolve(); return { n }; },\n    fails: async () => {\n      await new Promise((r) => setTimeout(r, 5));\n      throw new Error("deliberate");\n    },\n    gives: async () => () => 1,\n  },\n});\n`;
      await table.load(await buildSource("asyncs", source));
      assert.deepEqual(await table.call("asyncs", "later", [7]), { n: 7 });
      await assert.rejects(table.call("asyncs", "fails", []), (err: FixpointError) => {
        assert.equal(err.code, "MODULE_ERROR");
        assert.match(err.message, /deliberate/);
        assert.equal(err.location?.line, 7);
        return true;
      });
      await assert.rejects(table.call("asyncs", "gives", []), (err: unknown) => hasCode(err, "RESULT_NOT_COPYABLE"));
    } finally {
      table.dispose();
    }
  });

  test("a call still waiting when its module is unloaded fails at once with MODULE_STOPPED rather than at asyncMs", async () => {
    const table = new ModuleTable({ log: () => {}, onModuleDead: () => {} }, { limits: { cpuMs: 200, memoryMb: 64, asyncMs: 60_000 } });
    try {
      await table.load(await buildSource("sleeper", `import { defineModule } from "fixpoint";\nexport default defineModule({ functions: { never: () => new Promise(() => {}) } });`));
      const waiting = table.call("sleeper", "never", []);
      await new Promise((r) => setTimeout(r, 20));
      table.unload("sleeper");
      await assert.rejects(waiting, (err: unknown) => hasCode(err, "MODULE_STOPPED"));
    } finally {
      table.dispose();
    }
  });

  // bench/devloop/swap-memory.ts measures the memory; this checks the cause stays fixed: each
  // version's host functions were kept by isolated-vm, and each version's hooks kept the one
  // before it, so no swapped-out version was ever collected.
  test("nothing keeps a swapped-out version once it is disposed", async () => {
    const gc = collectGarbage();
    const table = newTable();
    try {
      const versions: WeakRef<object>[] = [];
      for (let v = 1; v <= 12; v++) {
        await table.load(await buildSource("churn", counter(String(v))));
        assert.equal(await table.call("churn", "hit", []), v, "the state went through every swap");
        versions.push(new WeakRef(table.shapeOf("churn")!));
      }
      const old = versions.slice(0, -1);
      // Old versions are disposed shortly after their swap; wait for that, then count.
      let kept = old.length;
      for (let i = 0; i < 100 && kept > 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        gc();
        kept = old.filter((w) => w.deref() !== undefined).length;
      }
      assert.equal(kept, 0, `${kept} of ${old.length} swapped-out versions are still reachable`);
      assert.notEqual(versions.at(-1)!.deref(), undefined, "the current version is alive");
    } finally {
      table.dispose();
    }
  });

  describe("a restore (a module started from its saved state, where no version of it runs)", () => {
    async function saved(version: string): Promise<{ restore: StateBytes; module: Awaited<ReturnType<typeof buildSource>> }> {
      const table = newTable();
      try {
        const m = await buildSource("counter", counter(version));
        await table.load(m);
        await table.call("counter", "hit", [41]);
        return { restore: await table.exportState("counter"), module: m };
      } finally {
        table.dispose();
      }
    }

    test("of the same code takes the saved bytes as they were: they stand for its state and are not copied back", async () => {
      const { restore, module } = await saved("1");
      const table = newTable();
      try {
        const outcome = await table.load({ ...module, restore });
        assert.equal(outcome.status, "loaded");
        assert.deepEqual(outcome.status === "loaded" && outcome.state, { kept: true, version: "1", digest: restore.digest });
        // The saved copy is current: the next snapshot has nothing to take until code runs.
        assert.equal(table.changedSinceExport("counter"), false);
        assert.equal(await table.call("counter", "hits", []), 41);
        assert.equal(table.changedSinceExport("counter"), true);
      } finally {
        table.dispose();
      }
    });

    test("into new code without a migrate hook keeps the bytes too, now of the new version", async () => {
      const { restore } = await saved("1");
      const table = newTable();
      try {
        const m = await buildSource("counter", counter("2"));
        const outcome = await table.load({ ...m, restore });
        assert.deepEqual(outcome.status === "loaded" && outcome.state, { kept: true, version: "2", digest: m.digest });
        assert.equal(await table.call("counter", "hits", []), 41);
      } finally {
        table.dispose();
      }
    });

    test("into code with a migrate hook hands back the migrated state, copied and measured", async () => {
      const { restore } = await saved("1");
      const table = newTable();
      try {
        const m = await buildSource("counter", counter("2", `migrate: (old: { hits: number }) => ({ hits: old.hits * 2 }),`));
        const outcome = await table.load({ ...m, restore });
        assert.ok(outcome.status === "loaded" && "bytes" in outcome.state, "the state crosses back as bytes");
        assert.deepEqual(stateValue("counter", outcome.state.bytes), { hits: 82 });
        assert.equal(outcome.state.version, "2");
      } finally {
        table.dispose();
      }
    });

    test("is asked for, not assumed, when a push comes without the saved state (saved: true): needs-state where nothing runs, the live state where a version does", async () => {
      const { restore, module } = await saved("1");
      const table = newTable();
      try {
        // Nothing runs: the table neither starts the module from its initial state nor loads it.
        assert.deepEqual(await table.load({ ...module, saved: true }), { status: "needs-state", name: "counter" });
        assert.deepEqual(table.names(), []);
        await table.load({ ...module, restore });
        await table.call("counter", "hit", [1]);
        // A version runs: it hands its live state over, and nothing more is asked.
        const m2 = await buildSource("counter", counter("2"));
        const outcome = await table.load({ ...m2, saved: true });
        assert.equal(outcome.status, "loaded");
        assert.equal(await table.call("counter", "hits", []), 42);
      } finally {
        table.dispose();
      }
    });

    test("of a state over today's limit (lowered since it was saved) is measured and refused with STATE_TOO_LARGE", async () => {
      const { restore, module } = await saved("1");
      const table = new ModuleTable({ log: () => {}, onModuleDead: () => {} }, { limits: { cpuMs: 200, memoryMb: 64, asyncMs: 2000 }, maxStateBytes: restore.bytes.length - 1 });
      try {
        await assert.rejects(table.load({ ...module, restore }), (e: FixpointError) => hasCode(e, "STATE_TOO_LARGE"));
        assert.deepEqual(table.names(), []);
      } finally {
        table.dispose();
      }
    });
  });

  describe("prepare (a runtime process started ahead of a guarded restart)", () => {
    /** A module that says when its code started (its isolate's top level ran). */
    const stamped = (version: string) => `
import { defineModule } from "fixpoint";
const startedAt = Date.now();
export default defineModule({ version: "${version}", state: { n: 1 }, functions: { startedAt: () => startedAt, n: (ctx) => ctx.state.n } });
`;

    test("keeps the started module for the load of that very code, which then only takes the state", async () => {
      const table = newTable();
      try {
        const m = await buildSource("stamped", stamped("1"));
        await table.prepare(m);
        assert.deepEqual(table.names(), [], "a prepared module does not run yet");
        await new Promise((r) => setTimeout(r, 30));
        const loadAsked = Date.now();
        await table.load(m);
        assert.ok(((await table.call("stamped", "startedAt", [])) as number) < loadAsked, "the load used the isolate started by prepare");
        assert.equal(await table.call("stamped", "n", []), 1);
      } finally {
        table.dispose();
      }
    });

    test("a load of other code starts its own and disposes what was prepared", async () => {
      const table = newTable();
      try {
        await table.prepare(await buildSource("stamped", stamped("1")));
        await new Promise((r) => setTimeout(r, 30));
        const loadAsked = Date.now();
        await table.load(await buildSource("stamped", stamped("2")));
        assert.ok(((await table.call("stamped", "startedAt", [])) as number) >= loadAsked);
      } finally {
        table.dispose();
      }
    });

    test("answers code that cannot start as a load would, with MODULE_LOAD_FAILED", async () => {
      const table = newTable();
      try {
        const bad = await buildSource("bad", `import { defineModule } from "fixpoint";\nthrow new Error("no start");\nexport default defineModule({ version: "1", state: {} });`);
        await assert.rejects(table.prepare(bad), (e: FixpointError) => hasCode(e, "MODULE_LOAD_FAILED") && /no start/.test(e.message));
      } finally {
        table.dispose();
      }
    });
  });

  test("exports answer in the order asked: one that finds a module unchanged never overtakes the copy of it still in progress", async () => {
    const table = newTable();
    try {
      await table.load(await buildSource("counter", counter("1")));
      await table.call("counter", "hit", [7]);
      const order: string[] = [];
      // The first copies the changed state; the second, asked meanwhile, finds it copied already.
      const first = table.exportChanged().then((r) => (order.push("first"), r));
      const second = table.exportChanged().then((r) => (order.push("second"), r));
      const [a, b] = await Promise.all([first, second]);
      assert.deepEqual(order, ["first", "second"]);
      assert.deepEqual(stateValue("counter", a.snapshot["counter"]!.bytes), { hits: 7 });
      assert.deepEqual(b.unchanged, ["counter"]);
    } finally {
      table.dispose();
    }
  });

  test("an export leaves out the modules asked to skip, which stay changed for the next", async () => {
    const table = newTable();
    try {
      await table.load(await buildSource("counter", counter("1")));
      await table.call("counter", "hit", [3]);
      assert.deepEqual(await table.exportChanged(["counter"]), { snapshot: {}, failed: {}, unchanged: [] });
      assert.equal(table.changedSinceExport("counter"), true);
      const next = await table.exportChanged();
      assert.deepEqual(stateValue("counter", next.snapshot["counter"]!.bytes), { hits: 3 });
    } finally {
      table.dispose();
    }
  });
  describe("a state crosses between isolates as JSON text when it is plain data, else as a structured copy, and arrives the same either way", () => {
    // Made inside the isolate, so that what the module holds is exactly this (arguments would be copies).
    const MAKERS = `{
      counter: () => ({ hits: 41, tags: ["a", "b"], nested: { ok: true, none: null, text: "\\ud800 é 😀" } }),
      map: () => ({ m: new Map([["k", { n: 1 }]]), s: new Set([1, 2]) }),
      date: () => ({ at: new Date(86400000) }),
      shared: () => { const x = { n: 1 }; return { a: x, b: x }; },
      cycle: () => { const c = { n: 1 }; c.self = c; return c; },
      odd: () => ({ nan: NaN, negZero: -0, inf: -Infinity, u: undefined, holes: [1, , 3] }),
      bytes: () => ({ b: new Uint8Array([1, 2, 3]) }),
    }`;
    const holder = (version: string) => `
import { defineModule } from "fixpoint";
const MAKERS: Record<string, () => unknown> = ${MAKERS};
export default defineModule({
  version: "${version}",
  state: {} as any,
  functions: {
    make: (ctx, which: string) => { ctx.state = MAKERS[which]!(); },
    get: (ctx) => ctx.state,
    sharedStillShared: (ctx) => ctx.state.a === ctx.state.b,
    cycleStillCycle: (ctx) => ctx.state.self === ctx.state,
  },
});
`;
    const expected: Record<string, unknown> = {
      counter: { hits: 41, tags: ["a", "b"], nested: { ok: true, none: null, text: "\ud800 é 😀" } },
      map: { m: new Map([["k", { n: 1 }]]), s: new Set([1, 2]) },
      date: { at: new Date(86400000) },
      shared: { a: { n: 1 }, b: { n: 1 } },
      // eslint-disable-next-line no-sparse-arrays
      odd: { nan: NaN, negZero: -0, inf: -Infinity, u: undefined, holes: [1, , 3] },
      bytes: { b: new Uint8Array([1, 2, 3]) },
    };

    for (const which of [...Object.keys(expected), "cycle"]) {
      test(`${which}: through a swap, a snapshot and a restore`, async () => {
        const table = newTable();
        const restored = newTable();
        try {
          const v1 = await buildSource("holder", holder("1"));
          await table.load(v1);
          await table.call("holder", "make", [which]);
          const v2 = await buildSource("holder", holder("2"));
          await table.load(v2);
          const saved = await table.exportState("holder");
          // V8's serializer starts with its version tag 0xFF; JSON text never does.
          assert.equal(saved.bytes[0] === 0xff ? "structured" : "json", which === "counter" ? "json" : "structured");
          await restored.load({ ...v2, restore: saved });
          for (const t of [table, restored]) {
            if (which === "cycle") assert.equal(await t.call("holder", "cycleStillCycle", []), true);
            else assert.deepStrictEqual(await t.call("holder", "get", []), expected[which]);
            if (which === "shared") assert.equal(await t.call("holder", "sharedStillShared", []), true);
          }
        } finally {
          table.dispose();
          restored.dispose();
        }
      });
    }

    test("JSON text too long for what the isolate's heap has left is parsed by the host and copied in", async () => {
      const big = `
import { defineModule } from "fixpoint";
export default defineModule({ version: "1", state: { rows: [] as string[] }, functions: {
  fill: (ctx, n: number) => { ctx.state.rows = Array.from({ length: n }, (_, i) => "row-" + i + "-" + "x".repeat(40)); },
  count: (ctx) => ctx.state.rows.length,
} });`;
      const table = new ModuleTable({ log: () => {}, onModuleDead: () => {} }, { limits: { cpuMs: 2000, memoryMb: 64, asyncMs: 2000 } });
      const small = new ModuleTable({ log: () => {}, onModuleDead: () => {} }, { limits: { cpuMs: 2000, memoryMb: 16, asyncMs: 2000 } });
      try {
        const m = await buildSource("big", big);
        await table.load(m);
        await table.call("big", "fill", [60_000]); // about 3.5 MB of text
        const saved = await table.exportState("big");
        assert.notEqual(saved.bytes[0], 0xff, "made as JSON where the heap had room");
        await small.load({ ...m, restore: saved });
        assert.equal(await small.call("big", "count", []), 60_000);
      } finally {
        table.dispose();
        small.dispose();
      }
    });

    test("a state whose characters alone pass the limit is refused before any text is made", async () => {
      const huge = `
import { defineModule } from "fixpoint";
export default defineModule({ version: "1", state: { s: "" }, functions: { grow: (ctx) => { ctx.state.s = "x".repeat(2 ** 28); } } });`;
      const table = new ModuleTable({ log: () => {}, onModuleDead: () => {} }, { limits: { cpuMs: 2000, memoryMb: 64, asyncMs: 2000 }, maxStateBytes: 2 ** 20 });
      try {
        await table.load(await buildSource("huge", huge));
        await table.call("huge", "grow", []);
        await assert.rejects(table.exportState("huge"), (err: FixpointError) => hasCode(err, "STATE_TOO_LARGE"));
      } finally {
        table.dispose();
      }
    });
  });
});
