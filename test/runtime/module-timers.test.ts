/**
 * A module's timers and the life of a swapped-out version, against real isolates: timers fire
 * in order and in batches, a module has at most MAX_TIMERS live, and once a swap routes to the
 * new version nothing of the old one runs on its own, while the calls in flight on it finish.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { hasCode } from "../../loader/index.js";
import { ModuleTable } from "../../runtime/swap/module-table.js";
import { MAX_TIMERS } from "../../runtime/host/module-limits.js";
import { buildSource } from "../helpers/modules.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function newTable(logs: string[] = [], drainMs = 2000) {
  return new ModuleTable({ log: (m, level, text) => logs.push(`${m} ${level} ${text}`), onModuleDead: () => {} }, { limits: { cpuMs: 500, memoryMb: 64, asyncMs: 5000 }, drainMs });
}

const header = `import { defineModule } from "fixpoint";\n`;

describe("module timers", () => {
  test("fire in the order they are due, and in the order set when due together", async () => {
    const table = newTable();
    try {
      await table.load(await buildSource("order", `${header}const seen: string[] = [];
export default defineModule({ functions: {
  start: () => { setTimeout(() => seen.push("c"), 80); for (const x of ["a1", "a2", "a3"]) setTimeout(() => seen.push(x), 5); setTimeout(() => seen.push("b"), 15); const i = setInterval(() => { seen.push("i"); if (seen.filter((s) => s === "i").length === 2) clearInterval(i); }, 12); },
  seen: () => seen,
} });`));
      await table.call("order", "start", []);
      await sleep(250); // c is due well after the interval's second run, which a loaded machine delays (it is set from the first run)
      assert.deepEqual(await table.call("order", "seen", []), ["a1", "a2", "a3", "i", "b", "i", "c"]);
    } finally {
      table.dispose();
    }
  });

  test("a callback that throws is logged at its TypeScript line, and the others due with it still run", async () => {
    const logs: string[] = [];
    const table = newTable(logs);
    try {
      const m = await buildSource("thrower", `${header}let ran = 0;
export default defineModule({ functions: {
  start: () => { setTimeout(() => ran++, 0); setTimeout(() => { throw new Error("timer boom"); }, 0); setTimeout(() => ran++, 0); },
  ran: () => ran,
} });`);
      await table.load(m);
      await table.call("thrower", "start", []);
      await sleep(50);
      assert.equal(await table.call("thrower", "ran", []), 2);
      const failed = logs.find((l) => l.includes("timer callback failed"));
      assert.ok(failed !== undefined, logs.join("\n"));
      assert.match(failed, /MODULE_ERROR: Error: timer boom/);
      assert.match(failed, /thrower\.ts:4:/);
    } finally {
      table.dispose();
    }
  });

  test(`setTimeout past ${MAX_TIMERS} live timers throws TIMER_LIMIT, which module code can catch by its code`, async () => {
    const table = newTable();
    try {
      await table.load(await buildSource("hoarder", `${header}const ids: unknown[] = [];
export default defineModule({ functions: {
  fill: () => { for (;;) ids.push(setTimeout(() => {}, 60_000)); },
  one: () => { try { setInterval(() => {}, 10); return "set"; } catch (e) { return (e as { code?: string }).code; } },
  free: () => { clearTimeout(ids.pop() as number); return ids.length; },
} });`));
      await assert.rejects(table.call("hoarder", "fill", []), (err: unknown) => hasCode(err, "TIMER_LIMIT") && /hoarder has 10000 live timers/.test((err as Error).message));
      assert.equal(await table.call("hoarder", "one", []), "TIMER_LIMIT");
      assert.equal(await table.call("hoarder", "free", []), MAX_TIMERS - 1);
      assert.equal(await table.call("hoarder", "one", []), "set", "a cleared timer makes room");
    } finally {
      table.dispose();
    }
  });
});

describe("a swapped-out version", () => {
  const ticking = (version: string) => `${header}export default defineModule({
  version: "${version}",
  state: { bumps: 0 },
  functions: {
    tick: () => { setInterval(() => console.log("tick ${version}"), 2); return "ticking"; },
    bump: (ctx) => ++ctx.state.bumps,
    bumps: (ctx) => ctx.state.bumps,
    nap: async (ctx, ms: number) => { await new Promise((r) => setTimeout(r, ms)); return "napped on ${version}"; },
    later: (ctx, ms: number) => { void (async () => { await ctx.call("slow", "wait", ms); await ctx.call("ticker", "bump"); })().catch((e) => console.log("refused " + (e as Error).message.slice(0, 14))); return "later"; },
  },
});`;

  test("runs none of its intervals once the new version serves", async () => {
    const logs: string[] = [];
    const table = newTable(logs);
    try {
      await table.load(await buildSource("ticker", ticking("v1")));
      await table.call("ticker", "tick", []);
      await sleep(30);
      assert.ok(logs.some((l) => l.endsWith("tick v1")));
      await table.load(await buildSource("ticker", ticking("v2")));
      const at = logs.length;
      await sleep(100);
      assert.deepEqual(logs.slice(at).filter((l) => l.endsWith("tick v1")), []);
    } finally {
      table.dispose();
    }
  });

  test("keeps its intervals when the swap fails", async () => {
    const logs: string[] = [];
    const table = newTable(logs);
    try {
      await table.load(await buildSource("ticker", ticking("v1")));
      await table.call("ticker", "tick", []);
      await assert.rejects(table.load(await buildSource("ticker", ticking("v2").replace("state: {", `migrate: () => { throw new Error("no"); },\n  state: {`))));
      const at = logs.length;
      await sleep(50);
      assert.ok(logs.slice(at).some((l) => l.endsWith("tick v1")), "v1 serves on, ticking");
    } finally {
      table.dispose();
    }
  });

  test("finishes a call in flight longer than the swap's drain, timers it waits on included", async () => {
    const table = newTable([], 50);
    try {
      await table.load(await buildSource("ticker", ticking("v1")));
      const napping = table.call("ticker", "nap", [400]);
      await sleep(20);
      await table.load(await buildSource("ticker", ticking("v2")));
      assert.equal(await table.call("ticker", "nap", [1]), "napped on v2");
      assert.equal(await napping, "napped on v1");
    } finally {
      table.dispose();
    }
  });

  test("cannot call modules or log from work left over once its calls are done", async () => {
    const logs: string[] = [];
    // A CPU limit above 1 s: the swap's steps run on the isolates' threads, so the runtime's
    // event loop (and v1's leftover chain) runs on while v2 migrates.
    const table = new ModuleTable({ log: (m, level, text) => logs.push(`${m} ${level} ${text}`), onModuleDead: () => {} }, { limits: { cpuMs: 2000, memoryMb: 64, asyncMs: 5000 } });
    try {
      await table.load(await buildSource("slow", `${header}export default defineModule({ functions: { wait: (ctx, ms: number) => new Promise((r) => setTimeout(r, ms)) } });`));
      await table.load(await buildSource("ticker", ticking("v1")));
      // v1's leftover chain wakes while v2 migrates (the handover) and calls its own module.
      const v2 = await buildSource("ticker", ticking("v2").replace("state: {", `migrate: (old: any) => { const end = Date.now() + 600; while (Date.now() < end); return old; },\n  state: {`));
      await sleep(100); // the spare isolate is ready: v2 starts in milliseconds
      await table.call("ticker", "later", [200]);
      await table.load(v2);
      await sleep(100);
      assert.equal(await table.call("ticker", "bumps", []), 0, "the old version's leftover call never reached the new one");
      // Refused with MODULE_STOPPED, which its catch would log: its console is cut off too.
      assert.deepEqual(logs.filter((l) => l.includes("refused")), []);
    } finally {
      table.dispose();
    }
  });
});
