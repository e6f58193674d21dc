/**
 * REPL benchmark (issue 6): the round trip of an evaluation from a client to a real node on
 * loopback and back — request over the encrypted channel, the loader, the runtime process over
 * IPC, compile and run in the session's scratch isolate, inspection into text, and back — and of
 * a completion request. The peer measured in the same run is a `ping` on the same connection:
 * the channel's own floor, so the ratio shows what the REPL path adds to it.
 *
 *   npm run bench:repl        (or: node --import tsx bench/repl.ts, after `npm run build`)
 *
 * Rounds alternate between the kinds of request so that drift on a shared machine hits all of
 * them alike; the figures are percentiles over all rounds. Goal (issue 6): eval p50 < 2 ms.
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import { connect, type ClientConnection } from "../devtool/client/index.js";
import { generateKeyPair } from "../loader/index.js";
import { startFixpointNode, stopAll } from "./devloop/processes.js";
import { tempDir } from "../test/helpers/processes.js";
import { machineLine } from "./machine.js";

const ROUNDS = 5;
const PER_ROUND = 400;
const WARMUP = 300;

type Kind = "ping" | "eval 1 + 1" | "eval in module" | "complete Ma" | "complete obj.al";

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const identity = generateKeyPair();
  const node = await startFixpointNode(join(tempDir("fixpoint-bench-repl-"), "node"), "bench-repl", identity.publicKey);
  const [host, port] = [node.address.slice(0, node.address.lastIndexOf(":")), Number(node.address.slice(node.address.lastIndexOf(":") + 1))];
  const conn: ClientConnection = await connect({ host, port, identity, checkNodeKey: () => {} });
  try {
    // A module to evaluate in: the scratch context's `obj` stands in for its state in the completions.
    const { signedModule } = await import("../test/helpers/modules.js");
    const { bundle } = await signedModule("bench", `import { defineModule } from "fixpoint";\nexport default defineModule({ state: { n: 1 }, functions: { n: (ctx) => ctx.state.n } });\n`, identity);
    await conn.request("push", { bundle });
    await conn.request("eval", { source: "var obj = { alpha: 1, alps: 2, beta: 3 }" });
    const run: Record<Kind, () => Promise<unknown>> = {
      ping: () => conn.request("ping", {}),
      "eval 1 + 1": () => conn.request("eval", { source: "1 + 1" }),
      "eval in module": () => conn.request("eval", { source: "state.n + 1", module: "bench" }),
      "complete Ma": () => conn.request("complete", { source: "Ma" }),
      "complete obj.al": () => conn.request("complete", { source: "obj.al" }),
    };
    const kinds = Object.keys(run) as Kind[];
    for (const kind of kinds) for (let i = 0; i < WARMUP; i++) await run[kind]();
    const samples = new Map<Kind, number[]>(kinds.map((k) => [k, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of kinds) {
        const list = samples.get(kind)!;
        for (let i = 0; i < PER_ROUND; i++) {
          const started = performance.now();
          await run[kind]();
          list.push(performance.now() - started);
        }
      }
    }
    console.log(`${machineLine()}, load ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
    console.log(`round trips on loopback, one at a time, ${ROUNDS} alternating rounds of ${PER_ROUND} (after ${WARMUP} warm-up each); times in ms\n`);
    const floor = percentile([...samples.get("ping")!].sort((a, b) => a - b), 50);
    console.log(`| request | p50 | p95 | p99 | p50 / ping p50 |`);
    console.log(`|---|---:|---:|---:|---:|`);
    for (const kind of kinds) {
      const sorted = [...samples.get(kind)!].sort((a, b) => a - b);
      const p50 = percentile(sorted, 50);
      console.log(`| ${kind} | ${p50.toFixed(3)} | ${percentile(sorted, 95).toFixed(3)} | ${percentile(sorted, 99).toFixed(3)} | ${(p50 / floor).toFixed(2)}x |`);
    }
    const evalP50 = percentile([...samples.get("eval 1 + 1")!].sort((a, b) => a - b), 50);
    console.log(`\ngoal: eval p50 < 2 ms: ${evalP50 < 2 ? "met" : "NOT met"} (${evalP50.toFixed(3)} ms)`);
  } finally {
    conn.close();
    await stopAll();
  }
}

await main();
