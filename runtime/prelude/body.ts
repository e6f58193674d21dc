/**
 * The body shared by Request and Response (the Fetch Standard's Body mixin), held as bytes.
 *
 * ReadableStream is not implemented: a body is given whole (string, bytes, URLSearchParams)
 * and read whole (text(), json(), arrayBuffer(), bytes()). `body` returns a placeholder
 * whose stream methods throw a TypeError saying so; the placeholder is still accepted as
 * the body of a new Request or Response, so the common `new Response(res.body, res)`
 * (copy a response to change its headers) works.
 *
 * Runs inside a bare V8 isolate: no imports, only ECMAScript built-ins.
 */
import { URLSearchParams } from "./url-search-params.js";
import { utf8Decode, utf8Encode } from "./utf8.js";
import { isObject } from "./webidl.js";

/** A body's bytes, and whether it has been read ("disturbed"). A null body is never disturbed. */
export class BodyState {
  readonly bytes: Uint8Array | null;
  used = false;
  stream: BodyStream | null = null;

  constructor(bytes: Uint8Array | null) {
    this.bytes = bytes;
  }
}

const NO_STREAMS =
  "ReadableStream is not available in Fixpoint modules: read a body whole with text(), json(), arrayBuffer() or bytes()";
const CONSTRUCT = Symbol("BodyStream");

let stateOf: (stream: BodyStream) => BodyState;

/** Stands where a browser's Response.body would be a ReadableStream. */
export class BodyStream {
  #state: BodyState;

  static {
    stateOf = (stream) => stream.#state;
  }

  constructor(token: symbol, state: BodyState) {
    if (token !== CONSTRUCT) throw new TypeError("Illegal constructor");
    this.#state = state;
  }

  /** True once the body has been read or handed to another Request/Response. */
  get locked(): boolean {
    return this.#state.used;
  }

  getReader(): never {
    throw new TypeError(NO_STREAMS);
  }

  tee(): never {
    throw new TypeError(NO_STREAMS);
  }

  pipeTo(): never {
    throw new TypeError(NO_STREAMS);
  }

  pipeThrough(): never {
    throw new TypeError(NO_STREAMS);
  }

  cancel(): never {
    throw new TypeError(NO_STREAMS);
  }

  [Symbol.asyncIterator](): never {
    throw new TypeError(NO_STREAMS);
  }
}

export interface ExtractedBody {
  bytes: Uint8Array;
  /** The Content-Type the body implies, added unless the headers already have one. */
  contentType: string | null;
}

/**
 * The standard's "extract a body" for the types this runtime supports. Any other value is
 * converted to a string, as Web IDL's union conversion does (`new Response(42)` is "42").
 */
export function extractBody(init: unknown): ExtractedBody {
  if (init instanceof BodyStream) {
    const state = stateOf(init);
    if (state.used) throw new TypeError("The body has already been read or used by another Request or Response");
    state.used = true;
    return { bytes: state.bytes!, contentType: null };
  }
  if (init instanceof URLSearchParams) {
    return { bytes: utf8Encode(init.toString()), contentType: "application/x-www-form-urlencoded;charset=UTF-8" };
  }
  if (init instanceof ArrayBuffer) return { bytes: new Uint8Array(init.slice(0)), contentType: null };
  if (ArrayBuffer.isView(init)) {
    return { bytes: new Uint8Array(init.buffer.slice(init.byteOffset, init.byteOffset + init.byteLength)), contentType: null };
  }
  if (isObject(init)) {
    const candidate = init as { getReader?: unknown; [Symbol.asyncIterator]?: unknown };
    if (typeof candidate.getReader === "function" || typeof candidate[Symbol.asyncIterator] === "function") {
      throw new TypeError(`Stream bodies are not supported: ${NO_STREAMS}`);
    }
  }
  return { bytes: utf8Encode(String(init)), contentType: "text/plain;charset=UTF-8" };
}

/** What `body` returns: null for no body, else the same placeholder every time. */
export function bodyStream(state: BodyState): BodyStream | null {
  if (state.bytes === null) return null;
  state.stream ??= new BodyStream(CONSTRUCT, state);
  return state.stream;
}

/** A clone's body: the same bytes, unread. Cloning a read body is a TypeError. */
export function cloneBody(state: BodyState, owner: string): BodyState {
  if (state.used) throw new TypeError(`${owner}.clone: the body has already been used`);
  return new BodyState(state.bytes);
}

/** Reads the body once: a copy of its bytes (empty for a null body, which stays unread). */
export function consumeBody(state: BodyState): Uint8Array {
  if (state.used) throw new TypeError("Body is unusable: the body has already been read");
  if (state.bytes === null) return new Uint8Array(0);
  state.used = true;
  return state.bytes.slice();
}

export function consumeText(state: BodyState): string {
  return utf8Decode(consumeBody(state));
}

export function consumeJson(state: BodyState): unknown {
  return JSON.parse(consumeText(state));
}

export function consumeArrayBuffer(state: BodyState): ArrayBuffer {
  return consumeBody(state).buffer as ArrayBuffer;
}

/** blob() and formData(): their types do not exist in the isolate. */
export function unsupportedBodyType(type: "Blob" | "FormData"): TypeError {
  return new TypeError(`${type} is not available in Fixpoint modules: read the body with text(), json(), arrayBuffer() or bytes()`);
}
