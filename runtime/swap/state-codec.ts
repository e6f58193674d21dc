/**
 * A module's state as bytes: V8's structured-clone serialization, the format IPC's "advanced"
 * mode already uses, so Maps, Sets, Dates, typed arrays and cycles survive a snapshot as they
 * survive a swap. Made and read here only: the loader stores the bytes without decoding them.
 *
 * Serializing is also how a state is measured: a string built with `repeat` is tiny in the
 * isolate and huge once flattened, so only a real copy says what a snapshot would hold.
 */
import { deserialize, serialize } from "node:v8";
import { FixpointError } from "../../loader/protocol/errors.js";

export function stateToBytes(module: string, state: unknown, maxBytes: number): Uint8Array {
  let bytes: Buffer;
  try {
    bytes = serialize(state);
  } catch (err) {
    throw new FixpointError("STATE_NOT_COPYABLE", `module ${module}'s state cannot be saved: ${(err as Error).message}`);
  }
  if (bytes.length > maxBytes) {
    throw new FixpointError("STATE_TOO_LARGE", `module ${module}'s state is ${bytes.length} bytes serialized, over the node's limit of ${maxBytes} (loader start --max-state-mb); keep large data outside the module's state`);
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function bytesToState(module: string, bytes: Uint8Array): unknown {
  try {
    return deserialize(bytes);
  } catch (err) {
    throw new FixpointError("STATE_CORRUPT", `module ${module}'s saved state cannot be read: ${(err as Error).message}`);
  }
}
