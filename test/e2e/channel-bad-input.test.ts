/**
 * Bad input on the channel, each against a real loader process on loopback. In every case the
 * offending connection gets a coded answer (or is closed), the node keeps serving other
 * clients, and nothing on disk changes.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { FixpointError, MAX_CBOR_DEPTH, MAX_RECORD_MESSAGES, decodeNodeMessages, decodeCbor, encodeCbor, encodeFrame, encodeMessage, generateKeyPair, hasCode } from "../../loader/index.js";
import { signBundle } from "../../devtool/client/index.js";
import { snapshotDir, startNode, type NodeProcess } from "../helpers/processes.js";
import { RawSocket, rawSession } from "../helpers/raw-client.js";

let node: NodeProcess;
let disk: Record<string, string>;

async function assertStillServing(): Promise<void> {
  const conn = await node.connect();
  try {
    const status = await conn.request("status", {});
    assert.equal(status.name, "test-node");
  } finally {
    conn.close();
  }
  assert.ok(node.alive(), "the node process is still running");
}

/** Reads the plaintext reject a node sends before keys exist. */
async function rejectCode(raw: RawSocket): Promise<string | null> {
  const frame = await raw.nextFrame();
  if (frame === null) return null;
  const value = decodeCbor(frame.body) as { type?: string; code?: string };
  assert.equal(value.type, "reject");
  return value.code ?? null;
}

describe("the channel under bad input", () => {
  before(async () => {
    node = await startNode();
    disk = snapshotDir(node.dataDir);
  });
  after(async () => {
    assert.deepEqual(snapshotDir(node.dataDir), disk, "nothing on disk changed");
    assert.equal(await node.stop(), 0);
  });

  test("answers an HTTP request on the channel port with HANDSHAKE_FAILED saying it is not the HTTP port, and closes", async () => {
    const raw = await RawSocket.open(node.port);
    raw.write(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert.equal(await rejectCode(raw), "HANDSHAKE_FAILED");
    const logged = await node.waitForLog("handshake.failed");
    assert.match(String(logged["reason"]), /does not speak the Fixpoint protocol.*HTTP request/);
    await raw.closedPromise;
    await assertStillServing();
  });

  test("answers a well-framed non-CBOR first frame with HANDSHAKE_FAILED", async () => {
    const raw = await RawSocket.open(node.port);
    raw.write(encodeFrame(Buffer.from([0xff, 0x00, 0x13, 0x37])));
    assert.equal(await rejectCode(raw), "HANDSHAKE_FAILED");
    await raw.closedPromise;
    await assertStillServing();
  });

  test("rejects a huge declared length in the handshake without allocating it", async () => {
    const raw = await RawSocket.open(node.port);
    raw.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    assert.equal(await rejectCode(raw), "HANDSHAKE_FAILED");
    await assertStillServing();
  });

  test("refuses a wrong protocol version with PROTOCOL_VERSION, listing its own", async () => {
    await assert.rejects(node.connect(node.dev, { versions: [99] }), (err: FixpointError) => err.code === "PROTOCOL_VERSION" && /\[2, 1\]/.test(err.message));
    await assertStillServing();
  });

  test("refuses an unknown identity with UNKNOWN_IDENTITY", async () => {
    await assert.rejects(node.connect(generateKeyPair()), (err: FixpointError) => err.code === "UNKNOWN_IDENTITY" && /loader authorize/.test(err.message));
    await assertStillServing();
  });

  test("closes on garbage bytes after the handshake with FRAME_INVALID", async () => {
    const s = await rawSession(node.port, node.dev);
    s.raw.write(Buffer.concat([Buffer.from([0, 0, 0, 40]), Buffer.alloc(40, 0xab)]));
    assert.equal(await s.goodbyeCode(), "FRAME_INVALID");
    await assertStillServing();
  });

  test("closes on a frame longer than the limit with FRAME_TOO_LARGE", async () => {
    const s = await rawSession(node.port, node.dev);
    s.raw.write(Buffer.from([0xff, 0xff, 0xff, 0xf0]));
    assert.equal(await s.goodbyeCode(), "FRAME_TOO_LARGE");
    await assertStillServing();
  });

  test("closes on a tampered ciphertext", async () => {
    const s = await rawSession(node.port, node.dev);
    const frame = s.seal(encodeMessage({ type: "ping", id: 1 }));
    frame[6] = frame[6]! ^ 0x01;
    s.raw.write(frame);
    assert.equal(await s.goodbyeCode(), "FRAME_INVALID");
    await assertStillServing();
  });

  test("closes on a replayed frame", async () => {
    const s = await rawSession(node.port, node.dev);
    const frame = s.seal(encodeMessage({ type: "ping", id: 1 }));
    s.raw.write(frame);
    const first = await s.nextMessage();
    assert.equal(first?.type, "result");
    s.raw.write(frame);
    assert.equal(await s.goodbyeCode(), "FRAME_INVALID");
    await assertStillServing();
  });

  test("closes on a frame with a skipped counter", async () => {
    const s = await rawSession(node.port, node.dev);
    s.seal(encodeMessage({ type: "ping", id: 1 })); // sealed with counter 0 and never sent
    s.raw.write(s.seal(encodeMessage({ type: "ping", id: 2 })));
    assert.equal(await s.goodbyeCode(), "FRAME_INVALID");
    await assertStillServing();
  });

  test("closes on reordered frames", async () => {
    const s = await rawSession(node.port, node.dev);
    const a = s.seal(encodeMessage({ type: "ping", id: 1 }));
    const b = s.seal(encodeMessage({ type: "ping", id: 2 }));
    s.raw.write(Buffer.concat([b, a]));
    assert.equal(await s.goodbyeCode(), "FRAME_INVALID");
    await assertStillServing();
  });

  test("survives a truncated frame and a connection closed mid-frame", async () => {
    const s = await rawSession(node.port, node.dev);
    const frame = s.seal(encodeMessage({ type: "ping", id: 1 }));
    s.raw.write(frame.subarray(0, frame.length - 5));
    await new Promise((r) => setTimeout(r, 50));
    s.raw.socket.destroy();
    await assertStillServing();
  });

  test("decodes a frame split at every byte offset", async () => {
    const s = await rawSession(node.port, node.dev);
    // One frame per offset; each split into two writes with a pause so TCP delivers them apart.
    const frameLength = (id: number) => encodeMessage({ type: "ping", id, data: Buffer.from("split me") }).length + 4 + 16;
    for (let offset = 1; offset < frameLength(offset); offset++) {
      const frame = s.seal(encodeMessage({ type: "ping", id: offset, data: Buffer.from("split me") }));
      s.raw.write(frame.subarray(0, offset));
      await new Promise((r) => setTimeout(r, 1));
      s.raw.write(frame.subarray(offset));
      const answer = await s.nextMessage();
      assert.equal(answer?.type, "result");
      assert.equal(answer.type === "result" && answer.id, offset);
    }
    s.raw.socket.destroy();
  });

  test("answers each of several messages sealed in one record (protocol version 2)", async () => {
    const s = await rawSession(node.port, node.dev);
    s.raw.write(s.seal(Buffer.concat([1, 2, 3].map((id) => encodeMessage({ type: "ping", id, data: Buffer.from([id]) })))));
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const m = await s.nextMessage();
      assert.equal(m?.type, "result");
      if (m?.type === "result") ids.push(m.id);
    }
    assert.deepEqual(ids.sort(), [1, 2, 3]);
    s.raw.socket.destroy();
  });

  test("answers a burst of requests in a few records, not one per answer (protocol version 2)", async () => {
    const s = await rawSession(node.port, node.dev);
    s.raw.write(s.seal(Buffer.concat(Array.from({ length: 16 }, (_, i) => encodeMessage({ type: "ping", id: i + 1 })))));
    const ids: number[] = [];
    let records = 0;
    while (ids.length < 16) {
      const frame = await s.raw.nextFrame();
      assert.ok(frame !== null);
      const plain = s.keys.receive.open(frame.body, frame.header);
      assert.ok(plain !== null);
      records++;
      for (const m of decodeNodeMessages(plain, MAX_RECORD_MESSAGES)) if (m.type === "result") ids.push(m.id);
    }
    assert.deepEqual(ids.sort((a, b) => a - b), Array.from({ length: 16 }, (_, i) => i + 1));
    // The first few of a tick go at once so that the peer can start on them; the rest together.
    assert.ok(records <= 3, `${records} records for 16 answers`);
    s.raw.socket.destroy();
  });

  test("closes on a record of several messages from a peer that chose protocol version 1", async () => {
    const s = await rawSession(node.port, node.dev, [1]);
    s.raw.write(s.seal(Buffer.concat([1, 2].map((id) => encodeMessage({ type: "ping", id })))));
    assert.equal(await s.goodbyeCode(), "MESSAGE_INVALID");
    await assertStillServing();
  });

  test("serves a client that speaks only protocol version 1", async () => {
    const conn = await node.connect(node.dev, { versions: [1] });
    assert.equal(conn.welcome.version, 1);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => conn.request("ping", { data: Buffer.from([i]) })));
    answers.forEach((a, i) => assert.deepEqual([...a.data!], [i]));
    conn.close();
  });

  test("closes on a record whose second message is invalid, running none of it", async () => {
    const s = await rawSession(node.port, node.dev);
    s.raw.write(s.seal(Buffer.concat([encodeMessage({ type: "ping", id: 1 }), encodeCbor({ type: "ping", id: "two" })])));
    assert.equal(await s.goodbyeCode(), "MESSAGE_INVALID");
    await assertStillServing();
  });

  test("closes on an unknown message type with MESSAGE_UNKNOWN", async () => {
    const s = await rawSession(node.port, node.dev);
    s.raw.write(s.seal(encodeCbor({ type: "format-disk", id: 1 })));
    assert.equal(await s.goodbyeCode(), "MESSAGE_UNKNOWN");
    await assertStillServing();
  });

  test("closes on valid CBOR of the wrong shape with MESSAGE_INVALID", async () => {
    for (const value of [[1, 2, 3], { type: "ping", id: "one" }, { type: "ping", id: 1, extra: true }, { type: "status" }, "ping", { type: "push", id: 1, bundle: {} }]) {
      const s = await rawSession(node.port, node.dev);
      s.raw.write(s.seal(encodeCbor(value)));
      assert.equal(await s.goodbyeCode(), "MESSAGE_INVALID", JSON.stringify(value));
    }
    await assertStillServing();
  });

  test("closes on deeply nested CBOR with MESSAGE_INVALID", async () => {
    const s = await rawSession(node.port, node.dev);
    const depth = 100_000;
    const nested = Buffer.concat([Buffer.alloc(depth, 0x81), Buffer.from([0x00])]);
    assert.ok(depth > MAX_CBOR_DEPTH);
    s.raw.write(s.seal(nested));
    assert.equal(await s.goodbyeCode(), "MESSAGE_INVALID");
    await assertStillServing();
  });

  test("closes on a CBOR tag that would construct an object", async () => {
    const s = await rawSession(node.port, node.dev);
    // tag 27 ["Function", "return 1"]: cbor-x would call a global constructor by name.
    const tagged = Buffer.concat([Buffer.from([0xd8, 0x1b, 0x82, 0x68]), Buffer.from("Function"), Buffer.from([0x68]), Buffer.from("return 1")]);
    s.raw.write(s.seal(tagged));
    assert.equal(await s.goodbyeCode(), "MESSAGE_INVALID");
    await assertStillServing();
  });

  test("closes when a request id is reused while in flight", async () => {
    const s = await rawSession(node.port, node.dev);
    const big = Buffer.alloc(4 * 1024 * 1024, 1);
    s.raw.write(Buffer.concat([s.seal(encodeMessage({ type: "ping", id: 7, data: big })), s.seal(encodeMessage({ type: "ping", id: 7 }))]));
    for (;;) {
      const m = await s.nextMessage();
      if (m === null || m.type === "goodbye") {
        // Either the node saw the duplicate while the first was in flight, or it had already answered.
        break;
      }
    }
    await assertStillServing();
  });

  test("answers a request beyond the key's roles with FORBIDDEN and keeps the connection", async () => {
    const observer = generateKeyPair();
    const { runCli } = await import("../helpers/processes.js");
    const { formatPublicKeyLine } = await import("../../loader/index.js");
    // authorize edits the trust file; the snapshot is retaken so the final check still holds.
    const auth = runCli("loader", ["authorize", "--data", node.dataDir, "--key", formatPublicKeyLine(observer.publicKey), "--roles", "observe"]);
    assert.equal(auth.status, 0, auth.stderr);
    disk = snapshotDir(node.dataDir);
    const conn = await node.connect(observer);
    const { bundle } = signBundle("greeter", Buffer.from("1"), Buffer.from("{}"), observer);
    await assert.rejects(conn.request("push", { bundle }), (err: FixpointError) => err.code === "FORBIDDEN" && /dev/.test(err.message));
    const status = await conn.request("status", {});
    assert.equal(status.modules.length, 0);
    conn.close();
    assert.deepEqual(snapshotDir(node.dataDir), disk);
  });

  test("refuses a bundle whose digest or signature does not match, storing nothing", async () => {
    const conn = await node.connect();
    const good = signBundle("greeter", Buffer.from("globalThis.x = 1"), Buffer.from("{}"), node.dev).bundle;
    const cases: [string, typeof good][] = [
      ["BUNDLE_DIGEST_MISMATCH", { ...good, code: Buffer.from("globalThis.x = 2") }],
      ["BUNDLE_DIGEST_MISMATCH", { ...good, sourceMap: Buffer.from("{ }") }],
      ["BUNDLE_SIGNATURE_INVALID", { ...good, signature: Buffer.alloc(64, 7) }],
      ["BUNDLE_SIGNATURE_INVALID", { ...good, signature: signBundle("greeter", Buffer.from("globalThis.x = 1"), Buffer.from("{}"), generateKeyPair()).bundle.signature }],
      ["BUNDLE_SIGNER_UNTRUSTED", signBundle("greeter", Buffer.from("globalThis.x = 1"), Buffer.from("{}"), generateKeyPair()).bundle],
      ["BUNDLE_INVALID", { ...good, manifest: Buffer.from("not a manifest") }],
    ];
    for (const [code, bundle] of cases) {
      await assert.rejects(conn.request("push", { bundle }), (err: unknown) => (err as { code?: unknown }).code === code, code);
    }
    assert.deepEqual((await conn.request("status", {})).modules, []);
    conn.close();
    assert.deepEqual(snapshotDir(node.dataDir), disk);
  });
});

describe("the channel's limits", () => {
  test("closes connections that never finish the handshake, and serves others after", async () => {
    const limited = await startNode({ args: ["--max-pending-handshakes", "4", "--handshake-timeout-ms", "400"] });
    try {
      const silent = await Promise.all(Array.from({ length: 4 }, () => RawSocket.open(limited.port)));
      await new Promise((r) => setTimeout(r, 50));
      // Over the cap: refused at once.
      const extra = await RawSocket.open(limited.port);
      const refused = await extra.nextFrame();
      assert.ok(refused !== null);
      assert.equal((decodeCbor(refused.body) as { code: string }).code, "TOO_MANY_CONNECTIONS");
      // The silent ones are cut off at the deadline.
      for (const s of silent) {
        const frame = await s.nextFrame(3000);
        assert.ok(frame !== null);
        assert.equal((decodeCbor(frame.body) as { code: string }).code, "HANDSHAKE_TIMEOUT");
        await s.closedPromise;
      }
      const conn = await limited.connect();
      assert.equal((await conn.request("status", {})).connections.pending, 0);
      conn.close();
    } finally {
      assert.equal(await limited.stop(), 0);
    }
  });

  test("notices a silent peer within a few heartbeats", async () => {
    const fast = await startNode({ args: ["--heartbeat-ms", "100"] });
    try {
      const s = await rawSession(fast.port, fast.dev);
      const started = Date.now();
      // The raw client never sends heartbeats.
      assert.equal(await s.goodbyeCode(5000), "PEER_TIMEOUT");
      assert.ok(Date.now() - started < 2000);
    } finally {
      assert.equal(await fast.stop(), 0);
    }
  });

  test("closes a connection idle for longer than the idle timeout with IDLE_TIMEOUT", async () => {
    const idle = await startNode({ args: ["--idle-timeout-ms", "300"] });
    try {
      const conn = await idle.connect();
      await conn.request("ping", {});
      const reason = await new Promise<string | undefined>((resolve) => conn.onClose((r) => resolve(r?.code)));
      assert.equal(reason, "IDLE_TIMEOUT");
      const again = await idle.connect();
      assert.equal((await again.request("status", {})).connections.active, 1);
      again.close();
    } finally {
      assert.equal(await idle.stop(), 0);
    }
  });

  test("fails every pending request with CHANNEL_CLOSED when the node goes away", async () => {
    const doomed = await startNode();
    const conn = await doomed.connect();
    const pending = Array.from({ length: 16 }, (_, i) => conn.request("ping", { data: Buffer.alloc(1024 * 1024, i) }));
    doomed.child.kill("SIGKILL");
    const results = await Promise.allSettled(pending);
    for (const r of results) {
      if (r.status === "rejected") assert.ok(hasCode(r.reason, "CHANNEL_CLOSED"), String(r.reason));
    }
    await assert.rejects(conn.request("status", {}), (err: unknown) => hasCode(err, "CHANNEL_CLOSED"));
    await doomed.stop();
  });

  test("answers what it received on SIGTERM, says SHUTTING_DOWN, and exits 0", async () => {
    const graceful = await startNode();
    const conn = await graceful.connect();
    const closed = new Promise<string | undefined>((resolve) => conn.onClose((reason) => resolve(reason?.code)));
    const payload = (i: number) => Buffer.alloc(256 * 1024, i);
    const requests = Array.from({ length: 40 }, (_, i) => conn.request("ping", { data: payload(i) }));
    await requests[0];
    graceful.child.kill("SIGTERM");
    const results = await Promise.allSettled(requests);
    results.forEach((r, i) => {
      if (r.status === "fulfilled") assert.ok(Buffer.from(r.value.data!).equals(payload(i)), "an answered request has its full answer");
      else assert.ok(hasCode(r.reason, "CHANNEL_CLOSED") && /SHUTTING_DOWN/.test((r.reason as Error).message), String(r.reason));
    });
    assert.equal(await closed, "SHUTTING_DOWN");
    assert.equal(await graceful.stop(), 0);
  });

  test("handles many requests in flight on one connection, answered by id", async () => {
    const busy = await startNode();
    try {
      const conn = await busy.connect();
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => conn.request("ping", { data: Buffer.from(String(i)) })));
      answers.forEach((a, i) => assert.equal(Buffer.from(a.data!).toString(), String(i)));
      conn.close();
    } finally {
      await busy.stop();
    }
  });
});

void FixpointError;
