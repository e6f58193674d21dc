/**
 * The handshake as pure functions: no sockets, frames are passed by hand. A test-side
 * "reference" implementation of the key schedule written from the comment at the top of
 * handshake.ts checks that the code does what that comment says, and lets the tests play an
 * attacker who knows some but not all of the secrets.
 */
import assert from "node:assert/strict";
import { createHash, createHmac, hkdfSync } from "node:crypto";
import { describe, test } from "node:test";
import { Opener, Sealer } from "../../../loader/protocol/crypto/aead.js";
import { keyPairFromSeed, signDetached, verifyDetached, type KeyPair } from "../../../loader/protocol/crypto/ed25519.js";
import { generateEphemeral, sharedSecret, type EphemeralKey } from "../../../loader/protocol/crypto/x25519.js";
import { FixpointError } from "../../../loader/protocol/errors.js";
import { decodeCbor, encodeCbor } from "../../../loader/protocol/cbor.js";
import { encodeReject, respondToClientHello, startClientHandshake, type SessionKeys } from "../../../loader/protocol/handshake.js";
import { MAX_HANDSHAKE_FRAME_BYTES, PROTOCOL_MAGIC, PROTOCOL_VERSIONS } from "../../../loader/protocol/limits.js";
import { throwsCode } from "../../helpers/expect-code.js";

const client = keyPairFromSeed(new Uint8Array(32).fill(1));
const node = keyPairFromSeed(new Uint8Array(32).fill(2));
const mallory = keyPairFromSeed(new Uint8Array(32).fill(3));
const EMPTY = Buffer.alloc(0);
const acceptAny = (): void => {};

// ─── Helpers ────────────────────────────────────────────────────────────────

/** Decodes a handshake body into its fields. */
function fields(body: Uint8Array): Record<string, unknown> {
  const value = decodeCbor(body);
  assert.ok(typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array), "a map");
  return value as Record<string, unknown>;
}

function bytesOf(map: Record<string, unknown>, name: string): Buffer {
  const value = map[name];
  assert.ok(value instanceof Uint8Array, `${name} is bytes`);
  return Buffer.from(value);
}

function numberOf(map: Record<string, unknown>, name: string): number {
  const value = map[name];
  assert.ok(typeof value === "number", `${name} is a number`);
  return value;
}

/** Re-encodes a handshake body with some fields replaced. */
function withFields(body: Uint8Array, changes: Record<string, unknown>): Buffer {
  return encodeCbor({ ...fields(body), ...changes });
}

function flipByte(bytes: Uint8Array, index: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[index] = copy[index]! ^ 0x01;
  return copy;
}

/** Asserts that traffic sealed by each side opens on the other, several frames each way. */
function assertKeysMatch(a: SessionKeys, b: SessionKeys): void {
  for (let i = 0; i < 3; i++) {
    const header = Buffer.from([0, 0, 0, i]);
    const toB = Buffer.from(`a→b ${i}`);
    assert.deepEqual(b.receive.open(Buffer.concat(a.send.seal(toB, header)), header), toB);
    const toA = Buffer.from(`b→a ${i}`);
    assert.deepEqual(a.receive.open(Buffer.concat(b.send.seal(toA, header)), header), toA);
  }
}

/** A complete, honest exchange. */
function exchange(clientId: KeyPair = client, nodeId: KeyPair = node) {
  const c = startClientHandshake(clientId);
  const n = respondToClientHello(c.hello, nodeId);
  const cDone = c.finish(n.hello, acceptAny);
  const nDone = n.finish(cDone.auth);
  return { c, n, cDone, nDone };
}

// The key schedule, written again from handshake.ts's header comment.
const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};
const hmac = (key: Uint8Array, ...parts: Uint8Array[]): Buffer => {
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return h.digest();
};
const label = (text: string): Buffer => Buffer.from(`fixpoint/1 ${text}`);
const key = (dh: Uint8Array, th1: Uint8Array, name: string): Buffer => Buffer.from(hkdfSync("sha256", dh, th1, label(name), 32));
const th1Of = (clientHello: Uint8Array, version: number, nodeEphemeral: Uint8Array): Buffer =>
  sha256(sha256(Buffer.from("fixpoint handshake"), clientHello), Buffer.from([version]), nodeEphemeral);
const sealOnce = (k: Buffer, value: unknown): Buffer => Buffer.concat(new Sealer(k).seal(encodeCbor(value), EMPTY));
const openOnce = (k: Buffer, sealed: Uint8Array): Record<string, unknown> | null => {
  const plain = new Opener(k).open(sealed, EMPTY);
  return plain === null ? null : fields(plain);
};

/**
 * A client built from the documented schedule. `forge` lets a test sign with another key than
 * the identity it claims, or corrupt the finished MAC.
 */
function referenceClient(identity: KeyPair, forge: { signWith?: KeyPair; finished?: (real: Buffer) => Buffer } = {}) {
  const ephemeral = generateEphemeral();
  const hello = encodeCbor({ type: "hello", magic: PROTOCOL_MAGIC, versions: [1], ephemeral: Buffer.from(ephemeral.publicKey) });
  return {
    hello,
    finish(nodeHelloBody: Uint8Array): { auth: Buffer; nodeKey: Buffer; keys: SessionKeys } {
      const nodeHello = fields(nodeHelloBody);
      const version = numberOf(nodeHello, "version");
      const sealedS = bytesOf(nodeHello, "sealed");
      const th1 = th1Of(hello, version, bytesOf(nodeHello, "ephemeral"));
      const dh = sharedSecret(ephemeral, bytesOf(nodeHello, "ephemeral"));
      const proof = openOnce(key(dh, th1, "hs s2c"), sealedS);
      assert.ok(proof !== null, "the node's proof opens under k_hs_s2c");
      const nodeKey = bytesOf(proof, "identity");
      const nodeSignature = bytesOf(proof, "signature");
      assert.ok(verifyDetached(sha256(label("node proof"), th1, nodeKey), nodeSignature, nodeKey), "node signs SHA256(label ‖ th1 ‖ S)");
      assert.deepEqual(bytesOf(proof, "finished"), hmac(key(dh, th1, "fin s"), th1, nodeKey, nodeSignature), "finished_s = HMAC(k_fin_s, th1 ‖ S ‖ sig_s)");
      const th2 = sha256(th1, sealedS);
      const signature = signDetached(sha256(label("client proof"), th2, identity.publicKey), forge.signWith ?? identity);
      const realFinished = hmac(key(dh, th1, "fin c"), th2, identity.publicKey, signature);
      const finished = forge.finished === undefined ? realFinished : forge.finished(realFinished);
      const sealed = sealOnce(key(dh, th1, "hs c2s"), { identity: Buffer.from(identity.publicKey), signature: Buffer.from(signature), finished });
      return {
        auth: encodeCbor({ type: "auth", sealed }),
        nodeKey,
        keys: { send: new Sealer(key(dh, th1, "app c2s")), receive: new Opener(key(dh, th1, "app s2c")) },
      };
    },
  };
}

// ─── Tests ──────────────────────────────────────────────────────────────────

describe("handshake: a full exchange", () => {
  test("gives both sides matching session keys: each opens what the other seals", () => {
    const { cDone, nDone } = exchange();
    assertKeysMatch(cDone.keys, nDone.keys);
  });

  test("tells each side the other's verified public key and the chosen version", () => {
    const { n, cDone, nDone } = exchange();
    assert.deepEqual(Buffer.from(cDone.nodeKey), Buffer.from(node.publicKey));
    assert.deepEqual(Buffer.from(nDone.clientKey), Buffer.from(client.publicKey));
    assert.equal(cDone.version, PROTOCOL_VERSIONS[0]);
    assert.equal(n.version, PROTOCOL_VERSIONS[0]);
  });

  test("keeps the two directions' keys apart: a frame does not open in the direction it was sent", () => {
    const { cDone, nDone } = exchange();
    const header = Buffer.from([0, 0, 0, 5]);
    const frame = Buffer.concat(cDone.keys.send.seal(Buffer.from("hello"), header));
    assert.equal(cDone.keys.receive.open(frame, header), null);
    assert.notEqual(nDone.keys.receive.open(frame, header), null);
  });

  test("derives different session keys in every handshake between the same two keys", () => {
    const one = exchange();
    const two = exchange();
    assert.notDeepEqual(one.c.hello, two.c.hello);
    const header = Buffer.from([0, 0, 0, 5]);
    const frame = Buffer.concat(one.cDone.keys.send.seal(Buffer.from("hello"), header));
    assert.equal(two.nDone.keys.receive.open(frame, header), null);
  });

  test("follows the key schedule documented at the top of handshake.ts", () => {
    const reference = referenceClient(client);
    const n = respondToClientHello(reference.hello, node);
    const done = reference.finish(n.hello);
    assert.deepEqual(done.nodeKey, Buffer.from(node.publicKey));
    const nDone = n.finish(done.auth);
    assert.deepEqual(Buffer.from(nDone.clientKey), Buffer.from(client.publicKey));
    assertKeysMatch(done.keys, nDone.keys);
  });

  test("sends neither identity in the clear", () => {
    const { c, n, cDone } = exchange();
    for (const body of [c.hello, n.hello, cDone.auth]) {
      assert.equal(body.indexOf(Buffer.from(client.publicKey)), -1);
      assert.equal(body.indexOf(Buffer.from(node.publicKey)), -1);
    }
  });

  test("fits every handshake frame well within MAX_HANDSHAKE_FRAME_BYTES", () => {
    const { c, n, cDone } = exchange();
    for (const body of [c.hello, n.hello, cDone.auth]) assert.ok(body.length <= MAX_HANDSHAKE_FRAME_BYTES / 2, `${body.length} bytes`);
  });
});

describe("handshake: the node's key", () => {
  test("is handed to checkNodeKey, once, after it has been verified", () => {
    const c = startClientHandshake(client);
    const n = respondToClientHello(c.hello, node);
    const seen: Buffer[] = [];
    c.finish(n.hello, (k) => seen.push(Buffer.from(k)));
    assert.deepEqual(seen, [Buffer.from(node.publicKey)]);
  });

  test("when checkNodeKey throws, the client produces no auth message and the error is the callback's", () => {
    const c = startClientHandshake(client);
    const n = respondToClientHello(c.hello, node);
    const err = throwsCode(
      () =>
        c.finish(n.hello, () => {
          throw new FixpointError("NODE_KEY_MISMATCH", "not the pinned key");
        }),
      "NODE_KEY_MISMATCH",
    );
    assert.equal(err.message, "not the pinned key");
  });

  test("is not handed to checkNodeKey when the node hello does not verify", () => {
    const c = startClientHandshake(client);
    const n = respondToClientHello(c.hello, node);
    const sealed = bytesOf(fields(n.hello), "sealed");
    let called = false;
    throwsCode(
      () => c.finish(withFields(n.hello, { sealed: flipByte(sealed, 0) }), () => (called = true)),
      "HANDSHAKE_FAILED",
    );
    assert.equal(called, false);
  });
});

describe("handshake: versions", () => {
  test("picks the newest version both sides speak", () => {
    const c = startClientHandshake(client, [1, 2]);
    const n = respondToClientHello(c.hello, node, [3, 2, 1]);
    assert.equal(n.version, 2);
    const cDone = c.finish(n.hello, acceptAny);
    assert.equal(cDone.version, 2);
    assertKeysMatch(cDone.keys, n.finish(cDone.auth).keys);
  });

  test("the node refuses a client that shares no version with PROTOCOL_VERSION", () => {
    const c = startClientHandshake(client, [7, 8]);
    throwsCode(() => respondToClientHello(c.hello, node, [1]), "PROTOCOL_VERSION", "[7, 8]", "[1]");
    throwsCode(() => respondToClientHello(startClientHandshake(client, []).hello, node), "PROTOCOL_VERSION");
  });

  test("the client refuses a node hello choosing a version it does not speak with PROTOCOL_VERSION", () => {
    const other = startClientHandshake(client, [2]);
    const n = respondToClientHello(other.hello, node, [2]);
    const c = startClientHandshake(client, [1]);
    throwsCode(() => c.finish(n.hello, acceptAny), "PROTOCOL_VERSION", "version 2");
  });

  test("the client turns the node's reject into its coded error", () => {
    const c = startClientHandshake(client);
    throwsCode(() => c.finish(encodeReject("PROTOCOL_VERSION", "speak 1", true), acceptAny), "PROTOCOL_VERSION", "speak 1");
    throwsCode(() => c.finish(encodeReject("TOO_MANY_CONNECTIONS", "full"), acceptAny), "TOO_MANY_CONNECTIONS", "full");
    throwsCode(() => c.finish(encodeReject("SHUTTING_DOWN", "bye"), acceptAny), "SHUTTING_DOWN");
    // A code outside the handshake's own set is not trusted to mean anything else.
    throwsCode(() => c.finish(encodeReject("FORBIDDEN", "x"), acceptAny), "HANDSHAKE_FAILED");
    throwsCode(() => c.finish(encodeCbor({ type: "reject", code: "PROTOCOL_VERSION" }), acceptAny), "HANDSHAKE_FAILED");
  });

  test("encodeReject lists this build's versions only when asked", () => {
    assert.deepEqual(fields(encodeReject("PROTOCOL_VERSION", "m", true))["versions"], [...PROTOCOL_VERSIONS]);
    assert.equal(fields(encodeReject("HANDSHAKE_FAILED", "m"))["versions"], undefined);
  });
});

describe("handshake: the node refuses a malformed client hello with HANDSHAKE_FAILED", () => {
  const hello = () => startClientHandshake(client).hello;

  test("wrong magic", () => {
    throwsCode(() => respondToClientHello(withFields(hello(), { magic: "notfixpt" }), node), "HANDSHAKE_FAILED", "magic");
  });

  test("garbage, an empty body, and another protocol's first bytes", () => {
    for (const body of [Buffer.from([0xde, 0xad, 0xbe, 0xef]), EMPTY, Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Buffer.from("SSH-2.0-OpenSSH_9.6\r\n")]) {
      throwsCode(() => respondToClientHello(body, node), "HANDSHAKE_FAILED");
    }
  });

  test("a valid CBOR value of the wrong shape", () => {
    const ephemeral = Buffer.from(generateEphemeral().publicKey);
    const good = { type: "hello", magic: PROTOCOL_MAGIC, versions: [1], ephemeral };
    for (const value of [
      null,
      [good],
      { ...good, type: "auth" },
      { ...good, extra: 1 },
      { ...good, versions: ["1"] },
      { ...good, versions: 1 },
      { ...good, ephemeral: ephemeral.subarray(0, 31) },
      { type: "hello", magic: PROTOCOL_MAGIC, versions: [1] },
    ]) {
      throwsCode(() => respondToClientHello(encodeCbor(value), node), "HANDSHAKE_FAILED");
    }
  });

  test("a reject sent by a client, instead of taking the code it names", () => {
    // Regression: the node turned a client's reject into that reject's code (e.g. SHUTTING_DOWN),
    // then logged and echoed it back; only a node sends reject.
    throwsCode(() => respondToClientHello(encodeReject("SHUTTING_DOWN", "not really"), node), "HANDSHAKE_FAILED");
    throwsCode(() => respondToClientHello(encodeReject("PROTOCOL_VERSION", "not really", true), node), "HANDSHAKE_FAILED");
  });

  test("a low-order ephemeral key, which would make the shared secret all zeros", () => {
    throwsCode(() => respondToClientHello(withFields(hello(), { ephemeral: Buffer.alloc(32) }), node), "HANDSHAKE_FAILED", "ephemeral");
  });
});

describe("handshake: the client refuses a bad node hello with HANDSHAKE_FAILED", () => {
  test("garbage and wrong shapes", () => {
    const c = startClientHandshake(client);
    const n = respondToClientHello(c.hello, node);
    for (const body of [Buffer.from([0xff]), EMPTY, encodeCbor({ type: "auth", sealed: Buffer.alloc(10) }), withFields(n.hello, { extra: true }), withFields(n.hello, { sealed: "text" })]) {
      throwsCode(() => c.finish(body, acceptAny), "HANDSHAKE_FAILED");
    }
  });

  test("a tampered sealed proof, whichever byte is flipped", () => {
    const c = startClientHandshake(client);
    const n = respondToClientHello(c.hello, node);
    const sealed = bytesOf(fields(n.hello), "sealed");
    for (let i = 0; i < sealed.length; i++) {
      throwsCode(() => c.finish(withFields(n.hello, { sealed: flipByte(sealed, i) }), acceptAny), "HANDSHAKE_FAILED");
    }
  });

  test("any single byte of the node hello changed: never completes, always a coded error", () => {
    const c = startClientHandshake(client);
    const n = respondToClientHello(c.hello, node);
    for (let i = 0; i < n.hello.length; i++) {
      assert.throws(
        () => c.finish(flipByte(n.hello, i), acceptAny),
        (err: unknown) => err instanceof FixpointError && (err.code === "HANDSHAKE_FAILED" || err.code === "PROTOCOL_VERSION"),
        `byte ${i}`,
      );
    }
  });

  test("a replaced or low-order node ephemeral key", () => {
    const c = startClientHandshake(client);
    const n = respondToClientHello(c.hello, node);
    throwsCode(() => c.finish(withFields(n.hello, { ephemeral: Buffer.from(generateEphemeral().publicKey) }), acceptAny), "HANDSHAKE_FAILED");
    throwsCode(() => c.finish(withFields(n.hello, { ephemeral: Buffer.alloc(32) }), acceptAny), "HANDSHAKE_FAILED", "ephemeral");
  });
});

describe("handshake: the node refuses a bad client auth with HANDSHAKE_FAILED", () => {
  test("garbage and wrong shapes", () => {
    const n = respondToClientHello(startClientHandshake(client).hello, node);
    for (const body of [Buffer.from([0x00]), EMPTY, encodeCbor({ type: "auth" }), encodeCbor({ type: "auth", sealed: Buffer.alloc(513) }), encodeCbor({ type: "hello", sealed: Buffer.alloc(64) })]) {
      throwsCode(() => n.finish(body), "HANDSHAKE_FAILED");
    }
  });

  test("any single byte of the auth message changed", () => {
    const { n, cDone } = exchange();
    for (let i = 0; i < cDone.auth.length; i++) throwsCode(() => n.finish(flipByte(cDone.auth, i)), "HANDSHAKE_FAILED");
  });

  test("an auth message replayed from a different handshake", () => {
    const earlier = exchange();
    const c = startClientHandshake(client);
    const n = respondToClientHello(c.hello, node);
    c.finish(n.hello, acceptAny);
    throwsCode(() => n.finish(earlier.cDone.auth), "HANDSHAKE_FAILED", "does not decrypt");
  });

  test("a client whose signature was made with another key than the identity it claims", () => {
    const forger = referenceClient(client, { signWith: mallory });
    const n = respondToClientHello(forger.hello, node);
    throwsCode(() => n.finish(forger.finish(n.hello).auth), "HANDSHAKE_FAILED", "client's signature does not verify");
  });

  test("a client whose finished MAC is wrong", () => {
    const forger = referenceClient(client, { finished: (real) => flipByte(real, 0) });
    const n = respondToClientHello(forger.hello, node);
    throwsCode(() => n.finish(forger.finish(n.hello).auth), "HANDSHAKE_FAILED", "finished MAC");
  });
});

describe("handshake: a man in the middle", () => {
  test("cannot feed one session's node hello into another client session", () => {
    const a = startClientHandshake(client);
    const nodeForA = respondToClientHello(a.hello, node);
    const b = startClientHandshake(client);
    throwsCode(() => b.finish(nodeForA.hello, acceptAny), "HANDSHAKE_FAILED");
  });

  test("who substitutes its own ephemeral key in the client hello cannot complete with either side", () => {
    const c = startClientHandshake(client);
    const m = generateEphemeral();
    const n = respondToClientHello(withFields(c.hello, { ephemeral: Buffer.from(m.publicKey) }), node);
    // Relayed unchanged, the node's hello does not decrypt for the client (different secret)...
    throwsCode(() => c.finish(n.hello, acceptAny), "HANDSHAKE_FAILED");
    // ...and an auth from a client the attacker talked to separately does not decrypt at the node.
    const elsewhere = exchange();
    throwsCode(() => n.finish(elsewhere.cDone.auth), "HANDSHAKE_FAILED");
  });

  test("who knows both ephemeral secrets cannot relay the node's signature to the client", () => {
    const c = startClientHandshake(client);
    // Towards the node, Mallory replaces the client's ephemeral with her own m1.
    const m1: EphemeralKey = generateEphemeral();
    const helloToNode = withFields(c.hello, { ephemeral: Buffer.from(m1.publicKey) });
    const n = respondToClientHello(helloToNode, node);
    const nodeHello = fields(n.hello);
    const version = numberOf(nodeHello, "version");
    const th1Node = th1Of(helloToNode, version, bytesOf(nodeHello, "ephemeral"));
    const dhNode = sharedSecret(m1, bytesOf(nodeHello, "ephemeral"));
    const proof = openOnce(key(dhNode, th1Node, "hs s2c"), bytesOf(nodeHello, "sealed"));
    assert.ok(proof !== null, "Mallory can read the node's proof: she shares the node's secret");
    const nodeKey = bytesOf(proof, "identity");
    const nodeSignature = bytesOf(proof, "signature");

    // Towards the client, she answers with her own m2 and re-seals the node's proof, with a
    // correct finished MAC, under the keys she shares with the client.
    const m2 = generateEphemeral();
    const th1Client = th1Of(c.hello, version, m2.publicKey);
    const dhClient = sharedSecret(m2, bytesOf(fields(c.hello), "ephemeral"));
    const finished = hmac(key(dhClient, th1Client, "fin s"), th1Client, nodeKey, nodeSignature);
    const sealed = sealOnce(key(dhClient, th1Client, "hs s2c"), { identity: nodeKey, signature: nodeSignature, finished });
    const forged = encodeCbor({ type: "hello", version, ephemeral: Buffer.from(m2.publicKey), sealed });

    let called = false;
    throwsCode(() => c.finish(forged, () => (called = true)), "HANDSHAKE_FAILED", "node's signature does not verify");
    assert.equal(called, false);
  });

  test("with her own key can complete only as herself, which checkNodeKey then sees", () => {
    const c = startClientHandshake(client);
    const impostor = respondToClientHello(c.hello, mallory);
    const seen: Buffer[] = [];
    throwsCode(
      () =>
        c.finish(impostor.hello, (k) => {
          seen.push(Buffer.from(k));
          if (!Buffer.from(k).equals(Buffer.from(node.publicKey))) throw new FixpointError("NODE_KEY_MISMATCH", "not the pinned key");
        }),
      "NODE_KEY_MISMATCH",
    );
    assert.deepEqual(seen, [Buffer.from(mallory.publicKey)]);
  });
});
