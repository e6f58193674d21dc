/**
 * The handshake: SIGMA-I, in the shape TLS 1.3 uses it (ephemeral Diffie-Hellman, then each
 * side signs the transcript with its long-term key and proves knowledge of the session secret
 * with a MAC). Three plaintext frames, then the node's first encrypted frame:
 *
 *   1 client → node   hello   { magic, versions[], ephemeral e_c }
 *   2 node → client   hello   { version, ephemeral e_s, sealed_s }
 *                      sealed_s = AEAD(k_hs_s2c, { identity S, signature, finished })
 *   3 client → node   auth    { sealed_c }
 *                      sealed_c = AEAD(k_hs_c2s, { identity C, signature, finished })
 *   4 node → client   (encrypted with the application keys) welcome, or goodbye with a code
 *
 * Key schedule (HKDF-SHA256, RFC 5869; every key 32 bytes):
 *
 *   t0  = SHA256("fixpoint handshake" ‖ frame-1 body)
 *   th1 = SHA256(t0 ‖ version ‖ e_s)
 *   k_label = HKDF(ikm = X25519(e_c, e_s), salt = th1, info = "fixpoint/1 " ‖ label)
 *             for the labels hs c2s, hs s2c, fin c, fin s, app c2s, app s2c
 *   node   signs SHA256("fixpoint/1 node proof"   ‖ th1 ‖ S);  finished_s = HMAC(k_fin_s, th1 ‖ S ‖ sig_s)
 *   th2 = SHA256(th1 ‖ sealed_s)
 *   client signs SHA256("fixpoint/1 client proof" ‖ th2 ‖ C);  finished_c = HMAC(k_fin_c, th2 ‖ C ‖ sig_c)
 *
 * The signature binds each identity to both ephemerals (no key-compromise impersonation of a
 * transcript); the MAC binds it to the shared secret (no identity misbinding); identities are
 * encrypted, so a passive observer learns neither. The client checks the node's key against its
 * pins before it reveals its own identity. A version mismatch or a malformed frame before keys
 * exist is answered with a plaintext `reject` and the connection is closed.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { FixpointError } from "./errors.js";
import { Opener, Sealer } from "./crypto/aead.js";
import { signDetached, verifyDetached, type KeyPair } from "./crypto/ed25519.js";
import { generateEphemeral, sharedSecret, type EphemeralKey } from "./crypto/x25519.js";
import { decodeCbor, encodeCbor } from "./cbor.js";
import { PROTOCOL_MAGIC, PROTOCOL_VERSIONS } from "./limits.js";
import { array, bytes, literal, object, string, uint, validate, type Infer } from "./schema.js";

const clientHelloSchema = object({ type: literal("hello"), magic: string(16), versions: array(uint(255), 16), ephemeral: bytes(32, 32) });
const nodeHelloSchema = object({ type: literal("hello"), version: uint(255), ephemeral: bytes(32, 32), sealed: bytes(512) });
const clientAuthSchema = object({ type: literal("auth"), sealed: bytes(512) });
const rejectSchema = object({ type: literal("reject"), code: string(64), message: string(1024), versions: array(uint(255), 16) }, ["versions"]);
const proofSchema = object({ identity: bytes(32, 32), signature: bytes(64, 64), finished: bytes(32, 32) });

export type Reject = Infer<typeof rejectSchema>;

/** Application traffic keys: one per direction. */
export interface SessionKeys {
  send: Sealer;
  receive: Opener;
}

const EMPTY = Buffer.alloc(0);
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
const label = (text: string) => Buffer.from(`fixpoint/1 ${text}`);

interface Schedule {
  hsC2s: Buffer;
  hsS2c: Buffer;
  finC: Buffer;
  finS: Buffer;
  appC2s: Buffer;
  appS2c: Buffer;
}

function schedule(dh: Buffer, th1: Buffer): Schedule {
  // RFC 5869 spelled out: one Extract, then for a 32-byte output Expand is the single block
  // T(1) = HMAC(PRK, info ‖ 0x01). Same bytes as hkdfSync per key, without redoing the
  // Extract six times (measured: a fifth of the node's handshake CPU).
  const prk = hmac(th1, dh);
  const one = Buffer.from([1]);
  const key = (name: string) => hmac(prk, label(name), one);
  return { hsC2s: key("hs c2s"), hsS2c: key("hs s2c"), finC: key("fin c"), finS: key("fin s"), appC2s: key("app c2s"), appS2c: key("app s2c") };
}

function handshakeError(message: string): FixpointError {
  return new FixpointError("HANDSHAKE_FAILED", message);
}

/**
 * Decodes a plaintext handshake frame, or throws HANDSHAKE_FAILED. Only a node sends `reject`,
 * so only the client (`fromNode`) turns one into its coded error; a `reject` sent to the node is
 * just a malformed frame, not a way for a client to choose the code the node logs and echoes.
 */
function decodeHandshake<S extends Parameters<typeof validate>[0]>(schema: S, body: Uint8Array, what: string, fromNode = false): Infer<S> {
  let value: unknown;
  try {
    value = decodeCbor(body);
  } catch {
    throw handshakeError(`the peer's ${what} is not a Fixpoint handshake message (is it speaking another protocol?)`);
  }
  if (fromNode && typeof value === "object" && value !== null && (value as { type?: unknown }).type === "reject") {
    throw rejectToError(validateOr(rejectSchema, value, what));
  }
  return validateOr(schema, value, what);
}

function validateOr<S extends Parameters<typeof validate>[0]>(schema: S, value: unknown, what: string): Infer<S> {
  try {
    return validate(schema, value, what);
  } catch (err) {
    throw handshakeError(`malformed ${what}: ${(err as Error).message}`);
  }
}

function rejectToError(reject: Reject): FixpointError {
  const known = ["PROTOCOL_VERSION", "HANDSHAKE_FAILED", "HANDSHAKE_TIMEOUT", "TOO_MANY_CONNECTIONS", "FRAME_TOO_LARGE", "SHUTTING_DOWN"] as const;
  const code = known.find((c) => c === reject.code) ?? "HANDSHAKE_FAILED";
  return new FixpointError(code, `node refused the handshake: ${reject.message}`);
}

export function encodeReject(code: string, message: string, withVersions = false): Buffer {
  const reject: Reject = withVersions ? { type: "reject", code, message, versions: [...PROTOCOL_VERSIONS] } : { type: "reject", code, message };
  return encodeCbor(reject);
}

function seal(key: Buffer, value: unknown): Buffer {
  const [head, tag] = new Sealer(key).seal(encodeCbor(value), EMPTY);
  return Buffer.concat([head, tag]);
}

function openProof(key: Buffer, sealed: Uint8Array, what: string): Infer<typeof proofSchema> {
  const plain = new Opener(key).open(sealed, EMPTY);
  if (plain === null) throw handshakeError(`${what} does not decrypt: the peer does not share the session secret`);
  return decodeHandshake(proofSchema, plain, what);
}

// ─── Client side ────────────────────────────────────────────────────────────

export interface ClientHandshake {
  /** Frame 1's body. */
  hello: Buffer;
  /**
   * Processes frame 2. `checkNodeKey` decides whether the node's identity is trusted (pins) and
   * throws if not, before the client reveals anything. Returns frame 3's body and the keys.
   */
  finish(nodeHelloBody: Uint8Array, checkNodeKey: (key: Uint8Array) => void): { auth: Buffer; nodeKey: Uint8Array; version: number; keys: SessionKeys };
}

export function startClientHandshake(identity: KeyPair, versions: readonly number[] = PROTOCOL_VERSIONS): ClientHandshake {
  const ephemeral = generateEphemeral();
  const hello = encodeCbor({ type: "hello", magic: PROTOCOL_MAGIC, versions: [...versions], ephemeral: Buffer.from(ephemeral.publicKey) });
  const t0 = sha256(Buffer.from("fixpoint handshake"), hello);
  return {
    hello,
    finish(nodeHelloBody, checkNodeKey) {
      const nodeHello = decodeHandshake(nodeHelloSchema, nodeHelloBody, "node hello", true);
      if (!versions.includes(nodeHello.version)) throw new FixpointError("PROTOCOL_VERSION", `node chose protocol version ${nodeHello.version}, which this devtool does not speak; upgrade the devtool`);
      const th1 = sha256(t0, Buffer.from([nodeHello.version]), nodeHello.ephemeral);
      let dh: Buffer;
      try {
        dh = sharedSecret(ephemeral, nodeHello.ephemeral);
      } catch (err) {
        throw handshakeError(`node's ephemeral key is unusable: ${(err as Error).message}`);
      }
      const k = schedule(dh, th1);
      const proof = openProof(k.hsS2c, nodeHello.sealed, "node proof");
      const signed = sha256(label("node proof"), th1, proof.identity);
      if (!verifyDetached(signed, proof.signature, proof.identity)) throw handshakeError("node's signature does not verify");
      if (!timingSafeEqual(hmac(k.finS, th1, proof.identity, proof.signature), proof.finished)) throw handshakeError("node's finished MAC does not verify");
      checkNodeKey(proof.identity);
      const th2 = sha256(th1, nodeHello.sealed);
      const signature = signDetached(sha256(label("client proof"), th2, identity.publicKey), identity);
      const finished = hmac(k.finC, th2, identity.publicKey, signature);
      const sealed = seal(k.hsC2s, { identity: Buffer.from(identity.publicKey), signature: Buffer.from(signature), finished });
      return {
        auth: encodeCbor({ type: "auth", sealed }),
        nodeKey: proof.identity,
        version: nodeHello.version,
        keys: { send: new Sealer(k.appC2s), receive: new Opener(k.appS2c) },
      };
    },
  };
}

// ─── Node side ──────────────────────────────────────────────────────────────

export interface NodeHandshake {
  /** Frame 2's body. */
  hello: Buffer;
  version: number;
  /** Processes frame 3; returns the client's verified identity and the keys. */
  finish(authBody: Uint8Array): { clientKey: Uint8Array; keys: SessionKeys };
}

/**
 * Processes frame 1. Throws PROTOCOL_VERSION when no version is shared (the caller answers with
 * a `reject` listing ours) and HANDSHAKE_FAILED for anything else malformed.
 */
export function respondToClientHello(helloBody: Uint8Array, identity: KeyPair, versions: readonly number[] = PROTOCOL_VERSIONS): NodeHandshake {
  const hello = decodeHandshake(clientHelloSchema, helloBody, "client hello");
  if (hello.magic !== PROTOCOL_MAGIC) throw handshakeError("client hello has the wrong magic");
  const version = versions.find((v) => hello.versions.includes(v));
  if (version === undefined) {
    throw new FixpointError("PROTOCOL_VERSION", `client speaks protocol versions [${hello.versions.join(", ")}], this node speaks [${versions.join(", ")}]; upgrade the older side`);
  }
  const ephemeral: EphemeralKey = generateEphemeral();
  const t0 = sha256(Buffer.from("fixpoint handshake"), helloBody);
  const th1 = sha256(t0, Buffer.from([version]), ephemeral.publicKey);
  let dh: Buffer;
  try {
    dh = sharedSecret(ephemeral, hello.ephemeral);
  } catch (err) {
    throw handshakeError(`client's ephemeral key is unusable: ${(err as Error).message}`);
  }
  const k = schedule(dh, th1);
  const signature = signDetached(sha256(label("node proof"), th1, identity.publicKey), identity);
  const finished = hmac(k.finS, th1, identity.publicKey, signature);
  const sealed = seal(k.hsS2c, { identity: Buffer.from(identity.publicKey), signature: Buffer.from(signature), finished });
  const th2 = sha256(th1, sealed);
  return {
    hello: encodeCbor({ type: "hello", version, ephemeral: Buffer.from(ephemeral.publicKey), sealed }),
    version,
    finish(authBody) {
      const auth = decodeHandshake(clientAuthSchema, authBody, "client auth");
      const proof = openProof(k.hsC2s, auth.sealed, "client proof");
      const signed = sha256(label("client proof"), th2, proof.identity);
      if (!verifyDetached(signed, proof.signature, proof.identity)) throw handshakeError("client's signature does not verify");
      if (!timingSafeEqual(hmac(k.finC, th2, proof.identity, proof.signature), proof.finished)) throw handshakeError("client's finished MAC does not verify");
      return { clientKey: proof.identity, keys: { send: new Sealer(k.appS2c), receive: new Opener(k.appC2s) } };
    },
  };
}
