/**
 * Channel benchmark: the encrypted, authenticated channel against plain TCP (bench/plain.ts),
 * both measured in this run against servers in one child process on 127.0.0.1.
 *
 *   npm run bench:channel                 (or: node --import tsx bench/channel.ts)
 *   node --import tsx bench/channel.ts --in-process     servers in this process instead
 *   node --import tsx bench/channel.ts --only=rt,bulk   a subset: handshake, rt, bulk
 *
 * The server runs in a child process by default: with client and server on one event loop,
 * each side's work would delay the other's and the figures would describe neither. On a
 * 2-core machine the two processes get a core each. Measurements of the two peers alternate
 * round by round so that drift (thermal, noisy neighbours) hits both alike; the median round
 * is reported. `BENCH_SERVER_NODE_ARGS` passes flags to the child (e.g. `--cpu-prof`).
 */
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { connect, type ClientConnection } from "../devtool/client/index.js";
import { generateKeyPair } from "../loader/protocol/crypto/index.js";
import { PlainClient } from "./plain.js";
import { startServers } from "./channel-server.js";
import { machineLine } from "./machine.js";

const HOST = "127.0.0.1";
const HANDSHAKES = 200;
const HANDSHAKE_WARMUP = 20;
const RT_ROUNDS = 3;
const RT_ROUND_MS = 800;
const RT_WARMUP_MS = 300;
const SMALL_PAYLOAD_BYTES = 16;
const BULK_BYTES = 10_000_000; // "10 MB", decimal, as MB/s below
const BULK_WARMUP = 2;
const BULK_ROUNDS = 8;

const args = process.argv.slice(2);
const inProcess = args.includes("--in-process");
const onlyArg = args.find((a) => a.startsWith("--only="));
const only = onlyArg === undefined ? null : new Set(onlyArg.slice("--only=".length).split(","));
const wanted = (part: string): boolean => only === null || only.has(part);

interface Ports {
  channelPort: number;
  plainPort: number;
  nodeKey: string;
}

const clientIdentity = generateKeyPair();
const clientKey = Buffer.from(clientIdentity.publicKey).toString("base64");

async function startPeers(): Promise<{ ports: Ports; serverCpu: () => Promise<number>; stop: () => Promise<void> }> {
  if (inProcess) {
    const servers = await startServers(clientKey);
    // The client's own process.cpuUsage already includes the servers'.
    return { ports: servers, serverCpu: async () => 0, stop: () => servers.close() };
  }
  const extra = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
  const child = fork(fileURLToPath(new URL("./channel-server.ts", import.meta.url)), ["--child"], {
    execArgv: ["--import", "tsx", ...extra],
    env: { ...process.env, BENCH_CLIENT_KEY: clientKey },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const ports = await new Promise<Ports>((resolve, reject) => {
    child.once("message", (m) => resolve(m as Ports));
    child.once("exit", (code) => reject(new Error(`the server process exited with ${code} before listening`)));
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const serverCpu = () =>
    new Promise<number>((resolve) => {
      child.once("message", (m) => resolve((m as { cpu: number }).cpu));
      child.send("cpu");
    });
  return {
    ports,
    serverCpu,
    stop: async () => {
      child.send("stop");
      await exited;
    },
  };
}

// ─── Measurements ───────────────────────────────────────────────────────────

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** Completed calls per second with `inFlight` callers each waiting for its previous answer. */
async function rate(call: () => Promise<unknown>, inFlight: number, ms: number): Promise<{ ops: number; perSecond: number }> {
  let ops = 0;
  const start = performance.now();
  const end = start + ms;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      await call();
      ops++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { ops, perSecond: ops / ((performance.now() - start) / 1000) };
}

async function timeMs(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

interface Row {
  metric: string;
  fixpoint: number;
  plain: number;
  unit: string;
  /** CPU time (client + server, user + system) per operation, µs. */
  fixpointCpu: number;
  plainCpu: number;
  /** Spread of the fixpoint rounds, for the reader to judge the noise. */
  spread: string;
  goal: string;
  met: boolean | null;
}

const rows: Row[] = [];

async function main(): Promise<void> {
  const load = loadavg();
  console.log(machineLine());
  console.log(`servers: ${inProcess ? "in this process (one event loop for client and server)" : "in a child process (client and server on separate event loops)"}, ${HOST}`);
  console.log("peer:    plain TCP, same 4-byte length framing and cbor-x messages, no handshake/crypto/validation");
  console.log(`load:    ${load.map((l) => l.toFixed(2)).join(" ")} (1/5/15 min) at start${load[0]! > 0.5 ? " -- other work is running; figures will be noisy" : ""}\n`);

  const { ports, serverCpu, stop } = await startPeers();
  // CPU (µs, both processes) spent while `f` runs.
  const withCpu = async <T>(f: () => Promise<T>): Promise<{ result: T; cpuUs: number }> => {
    const s0 = await serverCpu();
    const c0 = process.cpuUsage();
    const result = await f();
    const c = process.cpuUsage(c0);
    const s1 = await serverCpu();
    return { result, cpuUs: c.user + c.system + (s1 - s0) };
  };
  const dial = (): Promise<ClientConnection> =>
    connect({
      host: HOST,
      port: ports.channelPort,
      identity: clientIdentity,
      checkNodeKey: (key) => {
        if (Buffer.from(key).toString("base64") !== ports.nodeKey) throw new Error("bench: unexpected node key");
      },
    });
  const dialPlain = async (): Promise<PlainClient> => {
    const c = await PlainClient.open(HOST, ports.plainPort);
    await c.ping({});
    return c;
  };

  try {
    if (wanted("handshake")) {
      const fix: number[] = [];
      const plain: number[] = [];
      let fixCpu = 0;
      let plainCpu = 0;
      const block = HANDSHAKES / 10;
      // Blocks of each, alternating, so that CPU time can be charged to one peer at a time.
      for (let b = -1; b < HANDSHAKES / block; b++) {
        const warm = b < 0;
        const f = await withCpu(async () => {
          const times: number[] = [];
          for (let i = 0; i < (warm ? HANDSHAKE_WARMUP : block); i++) {
            let c: ClientConnection | undefined;
            times.push(await timeMs(async () => (c = await dial())));
            c!.close();
          }
          return times;
        });
        const p = await withCpu(async () => {
          const times: number[] = [];
          for (let i = 0; i < (warm ? HANDSHAKE_WARMUP : block); i++) {
            let c: PlainClient | undefined;
            times.push(await timeMs(async () => (c = await dialPlain())));
            c!.close();
          }
          return times;
        });
        if (warm) continue;
        fix.push(...f.result);
        plain.push(...p.result);
        fixCpu += f.cpuUs;
        plainCpu += p.cpuUs;
      }
      fix.sort((a, b) => a - b);
      plain.sort((a, b) => a - b);
      const spread = `min ${fix[0]!.toFixed(2)}, max ${fix[fix.length - 1]!.toFixed(2)}`;
      const p50 = percentile(fix, 50);
      const cpuEach = { fixpointCpu: fixCpu / fix.length, plainCpu: plainCpu / plain.length };
      rows.push({ metric: `connect+handshake p50 (${HANDSHAKES})`, fixpoint: p50, plain: percentile(plain, 50), unit: "ms", ...cpuEach, spread, goal: "< 2 ms", met: p50 < 2 });
      rows.push({ metric: `connect+handshake p95 (${HANDSHAKES})`, fixpoint: percentile(fix, 95), plain: percentile(plain, 95), unit: "ms", ...cpuEach, spread: "", goal: "", met: null });
    }

    if (wanted("rt") || wanted("bulk")) {
      const conn = await dial();
      const plainConn = await dialPlain();
      const small = randomBytes(SMALL_PAYLOAD_BYTES);
      const fixPing = () => conn.request("ping", { data: small });
      const plainPing = () => plainConn.ping({ data: small });

      if (wanted("rt")) {
        for (const inFlight of [1, 16, 64]) {
          await rate(fixPing, inFlight, RT_WARMUP_MS);
          await rate(plainPing, inFlight, RT_WARMUP_MS);
          const fix: number[] = [];
          const plain: number[] = [];
          let fixOps = 0;
          let fixCpu = 0;
          let plainOps = 0;
          let plainCpu = 0;
          for (let r = 0; r < RT_ROUNDS; r++) {
            const f = await withCpu(() => rate(fixPing, inFlight, RT_ROUND_MS));
            const p = await withCpu(() => rate(plainPing, inFlight, RT_ROUND_MS));
            fix.push(f.result.perSecond);
            plain.push(p.result.perSecond);
            fixOps += f.result.ops;
            fixCpu += f.cpuUs;
            plainOps += p.result.ops;
            plainCpu += p.cpuUs;
          }
          const f = median(fix);
          const p = median(plain);
          rows.push({
            metric: inFlight === 1 ? `round trips/s, sequential` : `round trips/s, ${inFlight} in flight`,
            fixpoint: f,
            plain: p,
            unit: "/s",
            fixpointCpu: fixCpu / fixOps,
            plainCpu: plainCpu / plainOps,
            spread: `${Math.round(Math.min(...fix))}..${Math.round(Math.max(...fix))}`,
            goal: inFlight === 64 ? "" : ">= 0.5x plain",
            met: inFlight === 64 ? null : f / p >= 0.5,
          });
        }
      }

      if (wanted("bulk")) {
        const payload = randomBytes(BULK_BYTES);
        const echoed = await conn.request("ping", { data: payload });
        const plainEchoed = await plainConn.ping({ data: payload });
        if (!Buffer.from(echoed.data!).equals(payload) || !Buffer.from(plainEchoed.data!).equals(payload)) throw new Error("bench: the 10 MB echo came back different");
        const fix: number[] = [];
        const plain: number[] = [];
        let fixCpu = 0;
        let plainCpu = 0;
        for (let r = 0; r < BULK_WARMUP + BULK_ROUNDS; r++) {
          const f = await withCpu(() => timeMs(() => conn.request("ping", { data: payload })));
          const p = await withCpu(() => timeMs(() => plainConn.ping({ data: payload })));
          if (r < BULK_WARMUP) continue;
          fix.push(BULK_BYTES / 1e6 / (f.result / 1000));
          plain.push(BULK_BYTES / 1e6 / (p.result / 1000));
          fixCpu += f.cpuUs;
          plainCpu += p.cpuUs;
        }
        const f = median(fix);
        rows.push({
          metric: "10 MB echo, payload MB/s",
          fixpoint: f,
          plain: median(plain),
          unit: "MB/s",
          fixpointCpu: fixCpu / BULK_ROUNDS,
          plainCpu: plainCpu / BULK_ROUNDS,
          spread: `${Math.round(Math.min(...fix))}..${Math.round(Math.max(...fix))}`,
          goal: ">= 300 MB/s",
          met: f >= 300,
        });
      }
      conn.close();
      plainConn.close();
    }
  } finally {
    await stop();
  }
  printTable();
  console.log(`load:    ${loadavg().map((l) => l.toFixed(2)).join(" ")} (1/5/15 min) at the end`);
}

function format(value: number, unit: string): string {
  if (unit === "ms") return value.toFixed(2);
  return Math.round(value).toLocaleString("en-US");
}

function cpuText(us: number): string {
  return us >= 10_000 ? `${(us / 1000).toFixed(1)} ms` : `${us.toFixed(0)} µs`;
}

function printTable(): void {
  const header = ["metric", "fixpoint", "plain", "fixpoint/plain", "CPU/op fixpoint", "CPU/op plain", "fixpoint spread", "goal", "met"];
  const body = rows.map((r) => [
    r.metric + (r.unit === "ms" ? " ms" : ""),
    format(r.fixpoint, r.unit),
    format(r.plain, r.unit),
    `${(r.fixpoint / r.plain).toFixed(2)}x`,
    cpuText(r.fixpointCpu),
    cpuText(r.plainCpu),
    r.spread,
    r.goal,
    r.met === null ? "" : r.met ? "yes" : "NO",
  ]);
  const left = (i: number) => i === 0 || i >= 6;
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => "| " + cells.map((c, i) => (left(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ") + " |";
  console.log(line(header));
  console.log("|" + widths.map((w, i) => (left(i) ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|");
  for (const row of body) console.log(line(row));
  console.log(
    `\nround trips: ping with ${SMALL_PAYLOAD_BYTES} random bytes echoed, median of ${RT_ROUNDS} rounds of ${RT_ROUND_MS} ms per peer, alternating; ` +
      `10 MB: ${BULK_BYTES.toLocaleString("en-US")} bytes echoed, payload bytes / round-trip time, median of ${BULK_ROUNDS}; ` +
      `handshake: fixpoint = TCP connect + handshake + welcome, plain = TCP connect + one ping round trip. ` +
      `CPU/op: user + system time of client and server together per operation, from process.cpuUsage (less sensitive to other load than the rates). ` +
      `Times: lower is better; rates: higher is better.`,
  );
}

await main();
