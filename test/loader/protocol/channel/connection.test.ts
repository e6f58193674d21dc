/**
 * The channel's connection on real loopback sockets, server and client in this process: what
 * can only be arranged in one process (both event loops held up at once).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ChannelServer } from "../../../../loader/channel/index.js";
import { connect } from "../../../../devtool/client/index.js";
import { generateKeyPair } from "../../../../loader/protocol/crypto/index.js";

async function pair(heartbeatIntervalMs: number) {
  const client = generateKeyPair();
  const server = new ChannelServer({
    identity: generateKeyPair(),
    rolesOf: (key) => (Buffer.from(key).equals(Buffer.from(client.publicKey)) ? ["dev"] : null),
    describe: () => ({ name: "t", cluster: "t", mode: "dev" }),
    handle: (_session, request) => (request.type === "ping" ? {} : {}),
    limits: { heartbeatIntervalMs },
  });
  const { port } = await server.listen("127.0.0.1", 0);
  const conn = await connect({ host: "127.0.0.1", port, identity: client, checkNodeKey: () => {}, heartbeatIntervalMs });
  return { server, conn };
}

describe("Connection liveness", () => {
  test("does not blame the peer for its own stalled event loop: a late heartbeat timer waits for what the peer sent", async () => {
    const { server, conn } = await pair(100);
    try {
      await conn.request("ping", {});
      // Both ends' loops blocked for ten intervals: each peer's heartbeats wait unread in the
      // kernel, and timers run before I/O is read, so each side used to take the other for dead.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
      await new Promise((r) => setTimeout(r, 250));
      assert.ok(conn.isOpen, "the connection survived");
      await conn.request("ping", {});
      conn.close();
    } finally {
      await server.close(100);
    }
  });
});
