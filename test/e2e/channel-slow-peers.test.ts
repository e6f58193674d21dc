/**
 * Peers that do not keep up their side of the channel (issue 13), each against a real loader
 * process on loopback: one that trickles a frame, one that never reads its answers, a log
 * follower that never reads its events. Each is closed with a code while the node's memory
 * stays bounded and it keeps serving others.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { encodeMessage, frameHeader, hasCode } from "../../loader/index.js";
import { startNode, type NodeProcess } from "../helpers/processes.js";
import { rawSession, type RawSession } from "../helpers/raw-client.js";
import { signedModule } from "../helpers/modules.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the node's connection.closed log line carrying `code`. */
async function closedWith(node: NodeProcess, code: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = node.logs.find((l) => l["event"] === "connection.closed" && l["code"] === code);
    if (line !== undefined) return line;
    if (Date.now() > deadline) throw new Error(`no connection.closed with ${code} within ${timeoutMs} ms; events: ${node.logs.map((l) => `${String(l["event"])}:${String(l["code"] ?? "")}`).join(" ")}`);
    await sleep(50);
  }
}

async function rss(node: NodeProcess): Promise<number> {
  const conn = await node.connect();
  try {
    return (await conn.request("status", {})).memory.rss;
  } finally {
    conn.close();
  }
}

/** Subscribes a raw session to the log and reads the answer. */
async function subscribe(s: RawSession): Promise<void> {
  s.sendMessage({ type: "subscribe", id: 1, topics: ["log"] });
  for (;;) {
    const m = await s.nextMessage();
    if (m === null) throw new Error("closed before the subscribe answer");
    if (m.type === "result" && m.id === 1) return;
  }
}

describe("a peer that sends too slowly", () => {
  test("closes a subscribed connection whose frame takes longer than frameTimeoutMs, one byte at a time", async () => {
    const node = await startNode({ args: ["--frame-timeout-ms", "600", "--heartbeat-ms", "100"] });
    try {
      const s = await rawSession(node.port, node.dev);
      await subscribe(s);
      // A frame of 1000 bytes, announced and then sent a byte every 50 ms: each byte used to
      // count as life, and a subscriber was exempt from the idle timeout, so it stayed forever.
      s.raw.write(frameHeader(1000));
      const trickle = setInterval(() => s.raw.socket.destroyed || s.raw.write(Buffer.from([0x42])), 50);
      const started = Date.now();
      try {
        assert.equal(await s.goodbyeCode(5000), "FRAME_TIMEOUT");
      } finally {
        clearInterval(trickle);
      }
      assert.ok(Date.now() - started < 2000, `closed after ${Date.now() - started} ms`);
      await closedWith(node, "FRAME_TIMEOUT", 2000);
      assert.ok((await rss(node)) > 0, "the node still serves");
    } finally {
      assert.equal(await node.stop(), 0);
    }
  });

  test("keeps a peer whose large frame arrives over many heartbeats but within frameTimeoutMs", async () => {
    const node = await startNode({ args: ["--frame-timeout-ms", "5000", "--heartbeat-ms", "100"] });
    try {
      const s = await rawSession(node.port, node.dev);
      const data = Buffer.alloc(300 * 1024, 7);
      const frame = s.seal(encodeMessage({ type: "ping", id: 1, data }));
      // Ten pieces over a second: three heartbeat intervals pass with no whole frame, but the
      // frame in progress is within its deadline, so the peer is not taken for dead.
      const piece = Math.ceil(frame.length / 10);
      for (let offset = 0; offset < frame.length; offset += piece) {
        s.raw.write(frame.subarray(offset, offset + piece));
        await sleep(100);
      }
      const answer = await s.nextMessage();
      assert.equal(answer?.type, "result");
      assert.ok(answer.type === "result" && Buffer.from((answer.value as { data: Uint8Array }).data).equals(data));
      s.raw.socket.destroy();
    } finally {
      assert.equal(await node.stop(), 0);
    }
  });
});

describe("a peer that does not read", () => {
  test("stops reading from a client that never reads its answers, keeps its memory bounded, and closes it with PEER_NOT_READING", async () => {
    const node = await startNode({ args: ["--max-queued-bytes", String(4 * 1024 * 1024), "--drain-timeout-ms", "1500"] });
    try {
      const before = await rss(node);
      const s = await rawSession(node.port, node.dev);
      s.raw.socket.pause(); // reads nothing from here on
      const payload = Buffer.alloc(4 * 1024 * 1024, 3);
      let id = 1;
      let sent = 0;
      let peak = before;
      const until = Date.now() + 4000;
      // Any role may ping: 4 MiB requests whose 4 MiB answers are never read. The node used to
      // queue every answer (74 MB → 732 MB within 10 s) and keep the connection open.
      while (Date.now() < until && !s.raw.socket.destroyed) {
        if (s.raw.socket.writableLength < 16 * 1024 * 1024) {
          s.raw.write(s.seal(encodeMessage({ type: "ping", id: id++, data: payload })));
          sent += payload.length;
        }
        await sleep(20);
        if (id % 10 === 0) peak = Math.max(peak, await rss(node));
      }
      await closedWith(node, "PEER_NOT_READING", 6000);
      peak = Math.max(peak, await rss(node));
      assert.ok(sent > 64 * 1024 * 1024 || s.raw.socket.destroyed, `sent ${sent} bytes`);
      assert.ok(peak - before < 150 * 1024 * 1024, `the node grew by ${Math.round((peak - before) / 1e6)} MB`);
      s.raw.socket.destroy();
    } finally {
      assert.equal(await node.stop(), 0);
    }
  });

  test("drops a log follower that never reads with PEER_NOT_READING instead of buffering its events", async () => {
    const node = await startNode({ args: ["--max-queued-bytes", String(1024 * 1024)] });
    try {
      const conn = await node.connect();
      const { bundle } = await signedModule(
        "chatty",
        `import { defineModule } from "fixpoint";
export default defineModule({
  functions: { spam: (_ctx, n: number) => { for (let i = 0; i < n; i++) console.log(String(i).padEnd(60_000, "x")); return n; } },
});
`,
        node.dev,
      );
      await conn.request("push", { bundle });
      const before = await rss(node);
      const s = await rawSession(node.port, node.dev);
      await subscribe(s);
      s.raw.socket.pause();
      let peak = before;
      // 100 × 12 MB of log lines toward a follower that reads none of them.
      for (let i = 0; i < 100 && !node.logs.some((l) => l["code"] === "PEER_NOT_READING"); i++) {
        await conn.request("call", { module: "chatty", fn: "spam", args: [200] });
        peak = Math.max(peak, await rss(node));
      }
      const closed = await closedWith(node, "PEER_NOT_READING", 5000);
      assert.match(String(closed["reason"]), /events/);
      assert.ok(peak - before < 150 * 1024 * 1024, `the node grew by ${Math.round((peak - before) / 1e6)} MB`);
      // Others are served on, and the module too.
      assert.equal((await conn.request("call", { module: "chatty", fn: "spam", args: [1] })).value, 1);
      conn.close();
      s.raw.socket.destroy();
    } finally {
      assert.equal(await node.stop(), 0);
    }
  });
});

describe("an answer the client would refuse", () => {
  test("fails that one call with RESULT_NOT_COPYABLE and keeps the connection", async () => {
    const node = await startNode();
    try {
      const conn = await node.connect();
      const { bundle } = await signedModule(
        "odd",
        `import { defineModule } from "fixpoint";
export default defineModule({
  functions: {
    proto: () => JSON.parse('{"__proto__": {"polluted": true}, "a": 1}'),
    deep: () => { let v: unknown = []; for (let i = 0; i < 30; i++) v = [v]; return v; },
    holes: () => [1, , 3],
    surrogate: () => ({ ["\\ud800"]: 1 }),
    fine: () => ({ ok: true }),
  },
});
`,
        node.dev,
      );
      await conn.request("push", { bundle });
      for (const fn of ["proto", "deep", "holes", "surrogate"]) {
        await assert.rejects(conn.request("call", { module: "odd", fn, args: [] }), (err: unknown) => hasCode(err, "RESULT_NOT_COPYABLE"), fn);
        assert.ok(conn.isOpen, `the connection survives ${fn}`);
      }
      assert.deepEqual((await conn.request("call", { module: "odd", fn: "fine", args: [] })).value, { ok: true });
      conn.close();
    } finally {
      assert.equal(await node.stop(), 0);
    }
  });
});
