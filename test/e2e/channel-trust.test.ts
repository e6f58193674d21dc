/**
 * A change to a running node's trust file, against real processes (issue 13): a key's rights
 * are those the file gives it now, on every request, and a removed key's open connections are
 * closed with KEY_REVOKED — a revoked developer keeps no REPL, call or log follower.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fingerprint, formatPublicKeyLine, generateKeyPair, hasCode, type KeyPair } from "../../loader/index.js";
import { type ClientConnection } from "../../devtool/client/index.js";
import { runCli, startNode, type NodeProcess } from "../helpers/processes.js";

let node: NodeProcess;

function authorize(key: KeyPair, roles: string): void {
  const r = runCli("loader", ["authorize", "--data", node.dataDir, "--key", formatPublicKeyLine(key.publicKey), "--roles", roles]);
  assert.equal(r.status, 0, r.stderr);
}

function revoke(key: KeyPair): void {
  const r = runCli("loader", ["revoke", "--data", node.dataDir, "--key", fingerprint(key.publicKey)]);
  assert.equal(r.status, 0, r.stderr);
}

const closeCode = (conn: ClientConnection) => new Promise<string | undefined>((resolve) => conn.onClose((reason) => resolve(reason?.code)));

describe("a trust change on a running node", () => {
  before(async () => {
    node = await startNode();
  });
  after(async () => {
    assert.equal(await node.stop(), 0);
  });

  test("closes a revoked key's REPL session: its next evaluation fails and the connection closes with KEY_REVOKED", async () => {
    const alice = generateKeyPair();
    authorize(alice, "dev");
    const conn = await node.connect(alice);
    const closed = closeCode(conn);
    assert.equal((await conn.request("eval", { source: "let secret = 41; secret + 1" })).text, "42");
    revoke(alice);
    await assert.rejects(conn.request("eval", { source: "secret" }), (err: unknown) => hasCode(err, "CHANNEL_CLOSED") && /KEY_REVOKED/.test((err as Error).message));
    assert.equal(await closed, "KEY_REVOKED");
    await assert.rejects(node.connect(alice), (err: unknown) => hasCode(err, "UNKNOWN_IDENTITY"));
  });

  test("closes a revoked key's idle log follower within a heartbeat", async () => {
    const bob = generateKeyPair();
    authorize(bob, "observe");
    const conn = await node.connect(bob);
    await conn.request("subscribe", { topics: ["log"] });
    const closed = closeCode(conn);
    const revokedAt = Date.now();
    revoke(bob);
    assert.equal(await closed, "KEY_REVOKED");
    assert.ok(Date.now() - revokedAt < 2500, `closed ${Date.now() - revokedAt} ms after the revoke`);
  });

  test("applies narrowed roles from the key's next request on, keeping its connection", async () => {
    const carol = generateKeyPair();
    authorize(carol, "dev,observe");
    const conn = await node.connect(carol);
    assert.equal((await conn.request("eval", { source: "1 + 1" })).text, "2");
    authorize(carol, "observe");
    await assert.rejects(conn.request("eval", { source: "2 + 2" }), (err: unknown) => hasCode(err, "FORBIDDEN"));
    assert.equal((await conn.request("status", {})).name, "test-node");
    authorize(carol, "dev");
    assert.equal((await conn.request("eval", { source: "3 + 3" })).text, "6");
    conn.close();
  });

  test("leaves other keys' connections open", async () => {
    const dave = generateKeyPair();
    authorize(dave, "dev");
    const kept = await node.connect();
    const gone = await node.connect(dave);
    const closed = closeCode(gone);
    revoke(dave);
    assert.equal(await closed, "KEY_REVOKED");
    assert.equal((await kept.request("status", {})).name, "test-node");
    kept.close();
  });
});
