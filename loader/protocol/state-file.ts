/**
 * A saved module state's file format, byte by byte (state-store.ts keeps the files):
 *
 *   0   4   magic "FXST"
 *   4   1   format version (STATE_FORMAT)
 *   5   4   header length H, big-endian
 *   9   H   header, CBOR: { module, digest, version, seq, savedAt, size }
 *   9+H S   the state as the runtime encoded it (size S): JSON text, or V8's structured-clone
 *           serialization, told apart by its first byte (runtime/host/state-codec.ts)
 *   end 32  SHA-256 of every byte before it
 *
 * A format beside the bundle's and the release's: versioned and checked end to end, so that a
 * file that is short, fails its digest, names another module or another format is
 * STATE_CORRUPT and never read as an empty state.
 */
import { createHash } from "node:crypto";
import { FixpointError } from "./errors.js";
import { decodeCbor, encodeCbor } from "./cbor.js";
import { DIGEST, MODULE_NAME } from "./messages.js";
import { object, string, uint, validate } from "./schema.js";
import type { StateBytes } from "./runtime-ipc.js";

/** The format this build writes and reads. */
export const STATE_FORMAT = 1;
const MAGIC = Buffer.from("FXST", "latin1");
const HASH_BYTES = 32;
const MAX_HEADER_BYTES = 4096;
/** A state read back from disk, or just written. */
export interface SavedState extends StateBytes {
  module: string;
  seq: number;
  savedAt: string;
}

const headerSchema = object({
  module: string(64, MODULE_NAME),
  digest: string(64, DIGEST),
  version: string(256),
  seq: uint(),
  savedAt: string(64),
  size: uint(),
});

export function encodeState(saved: SavedState): Buffer {
  return Buffer.concat(encodeStateParts(saved));
}

/**
 * The same file as the parts it is made of, in order, for a writer that writes them one after
 * another: the state's bytes are not copied (a state is up to megabytes, written every second).
 */
export function encodeStateParts(saved: SavedState): Uint8Array[] {
  const header = encodeCbor({ module: saved.module, digest: saved.digest, version: saved.version, seq: saved.seq, savedAt: saved.savedAt, size: saved.bytes.length });
  const head = Buffer.alloc(9);
  MAGIC.copy(head, 0);
  head.writeUInt8(STATE_FORMAT, 4);
  head.writeUInt32BE(header.length, 5);
  const hash = createHash("sha256").update(head).update(header).update(saved.bytes).digest();
  return [head, header, saved.bytes, hash];
}

/** Decodes one state file; throws STATE_CORRUPT saying what is wrong with it. */
export function decodeState(bytes: Uint8Array, module: string, file: string): SavedState {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const corrupt = (why: string) => new FixpointError("STATE_CORRUPT", `saved state ${file} ${why}`);
  if (buf.length < 9 + HASH_BYTES || !buf.subarray(0, 4).equals(MAGIC)) throw corrupt("is not a Fixpoint state file (truncated or overwritten)");
  const format = buf.readUInt8(4);
  if (format !== STATE_FORMAT) throw corrupt(`has format ${format}; this loader reads format ${STATE_FORMAT}`);
  const body = buf.subarray(0, buf.length - HASH_BYTES);
  if (!createHash("sha256").update(body).digest().equals(buf.subarray(buf.length - HASH_BYTES))) throw corrupt("fails its checksum (truncated or damaged)");
  const headerLength = buf.readUInt32BE(5);
  if (headerLength > MAX_HEADER_BYTES || 9 + headerLength > body.length) throw corrupt("has a malformed header");
  let header;
  try {
    header = validate(headerSchema, decodeCbor(body.subarray(9, 9 + headerLength)), "state header");
  } catch (err) {
    throw corrupt(`has a malformed header (${(err as Error).message})`);
  }
  if (header.module !== module) throw corrupt(`belongs to module "${header.module}", not "${module}"`);
  const state = body.subarray(9 + headerLength);
  if (state.length !== header.size) throw corrupt(`holds ${state.length} bytes of state where its header says ${header.size}`);
  return { module, digest: header.digest, version: header.version, seq: header.seq, savedAt: header.savedAt, bytes: new Uint8Array(state) };
}
