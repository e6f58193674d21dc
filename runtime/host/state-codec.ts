/**
 * A module's state as bytes, in one of two encodings told apart by their first byte:
 *
 *   UTF-8 JSON text            a state of plain data (runtime/isolate/plain-data.ts), written
 *                              and read inside the isolate: the fast path, about five times
 *                              quicker to move than a structured clone (bench/RESULTS.md)
 *   V8 structured clone        everything else (Maps, Sets, Dates, typed arrays, shared
 *   (first byte 0xFF)          references, cycles): the format IPC's "advanced" mode uses
 *
 * V8's serializer always begins with its version tag 0xFF, a byte UTF-8 never contains, so the
 * bytes say which they are without a header, and states saved before JSON existed still read.
 * Made and read here only: the loader stores the bytes without decoding them.
 *
 * Encoding is also how a state is measured: a string built with `repeat` is tiny in the isolate
 * and huge once flattened, so only real text or a real copy says what a snapshot would hold.
 */
import { deserialize, serialize } from "node:v8";
import { FixpointError } from "../../loader/protocol/errors.js";
import type { PackedState } from "../isolate/harness.js";

const V8_VERSION_TAG = 0xff;

export function stateTooLarge(module: string, bytes: number, maxBytes: number): FixpointError {
  return new FixpointError("STATE_TOO_LARGE", `module ${module}'s state is ${bytes} bytes serialized, over the node's limit of ${maxBytes} (loader start --max-state-mb); keep large data outside the module's state`);
}

export function stateToBytes(module: string, packed: PackedState, maxBytes: number): Uint8Array {
  let bytes: Buffer;
  if ("json" in packed) {
    bytes = Buffer.from(packed.json, "utf8");
  } else {
    try {
      bytes = serialize(packed.value);
    } catch (err) {
      throw new FixpointError("STATE_NOT_COPYABLE", `module ${module}'s state cannot be saved: ${(err as Error).message}`);
    }
  }
  if (bytes.length > maxBytes) throw stateTooLarge(module, bytes.length, maxBytes);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Saved bytes as they enter an isolate: JSON text stays text (the isolate parses it). */
export function bytesToState(module: string, bytes: Uint8Array): PackedState {
  if (bytes.length > 0 && bytes[0] !== V8_VERSION_TAG) return { json: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8") };
  try {
    return { value: deserialize(bytes) };
  } catch (err) {
    throw new FixpointError("STATE_CORRUPT", `module ${module}'s saved state cannot be read: ${(err as Error).message}`);
  }
}

/**
 * The value a packed state stands for, made here in the host (for an isolate that could not
 * parse it itself): STATE_CORRUPT for text that does not parse, as the harness's own parse says.
 */
export function unpackHere(module: string, packed: PackedState): unknown {
  if (!("json" in packed)) return packed.value;
  try {
    return JSON.parse(packed.json) as unknown;
  } catch (err) {
    throw new FixpointError("STATE_CORRUPT", `module ${module}'s saved state is not valid JSON: ${(err as Error).message}`);
  }
}

/** Saved bytes as the value they hold, read here in the host: what the tests and tools read back. */
export function stateValue(module: string, bytes: Uint8Array): unknown {
  return unpackHere(module, bytesToState(module, bytes));
}
