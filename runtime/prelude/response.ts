/**
 * Response, as the Fetch Standard defines it (https://fetch.spec.whatwg.org/#response-class),
 * with Response.json(), Response.redirect() and Response.error().
 *
 * Runs inside a bare V8 isolate: no imports, only ECMAScript built-ins.
 */
import {
  BodyState,
  type BodyStream,
  type ExtractedBody,
  bodyStream,
  cloneBody,
  consumeArrayBuffer,
  consumeBody,
  consumeJson,
  consumeText,
  extractBody,
  unsupportedBodyType,
} from "./body.js";
import { Headers, copyHeaders, guardHeaders } from "./headers.js";
import { URL } from "./url.js";
import { toByteString, toDictionary } from "./webidl.js";
import { utf8Encode } from "./utf8.js";

export interface ResponseInit {
  status?: number;
  statusText?: string;
  headers?: unknown;
}

export type ResponseType = "basic" | "cors" | "default" | "error" | "opaque" | "opaqueredirect";

// Statuses that cannot have a body; and those Response.redirect() accepts.
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
// RFC 9110 reason-phrase: HTAB, SP, visible ASCII, obs-text.
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

// Web IDL `unsigned short`: ToNumber, truncate, wrap modulo 2^16 (so 65736 is 200, as in Node).
function toUnsignedShort(value: unknown): number {
  const number = Number(value);
  if (!Number.isFinite(number)) return 0;
  const wrapped = Math.trunc(number) % 65536;
  return wrapped < 0 ? wrapped + 65536 : wrapped;
}

/**
 * @example new Response("hi", { status: 201 }).ok // true
 * @example await Response.json({ a: 1 }).text() // '{"a":1}'
 * @throws RangeError for a status outside 200-599; TypeError for a body on 204/205/304.
 */
/**
 * The harness's way to a response's bytes without a microtask: the body methods are async
 * only by signature, and a handler that returned a Response at once is answered at once.
 */
export let takeResponseBytes: (response: Response) => Uint8Array;

export class Response {
  static {
    takeResponseBytes = (response) => consumeBody(response.#body);
  }

  #type: ResponseType = "default";
  #status = 200;
  #statusText = "";
  #headers: Headers;
  #body: BodyState;

  constructor(body: unknown = null, init: ResponseInit = {}) {
    this.#headers = guardHeaders(new Headers(), "response");
    this.#body = new BodyState(null);
    const extracted = body === null || body === undefined ? null : extractBody(body);
    this.#initialize(toDictionary(init, "Response"), extracted);
  }

  /** A network error: type "error", status 0, immutable headers. */
  static error(): Response {
    const response = new Response();
    response.#type = "error";
    response.#status = 0;
    guardHeaders(response.#headers, "immutable");
    return response;
  }

  /** @throws RangeError unless `status` is 301, 302, 303, 307 or 308. */
  static redirect(url: unknown, status: unknown = 302): Response {
    if (arguments.length < 1) throw new TypeError("Response.redirect: 1 argument required, but only 0 present");
    const parsed = URL.parse(url);
    if (parsed === null) throw new TypeError(`Response.redirect: cannot parse the URL ${JSON.stringify(String(url))}`);
    const code = toUnsignedShort(status);
    if (!REDIRECT_STATUSES.has(code)) throw new RangeError(`Response.redirect: ${code} is not a redirect status`);
    const response = new Response();
    response.#status = code;
    response.#headers.set("location", parsed.href);
    guardHeaders(response.#headers, "immutable");
    return response;
  }

  /** A JSON body with Content-Type application/json. @throws TypeError if `data` has no JSON form. */
  static json(data: unknown, init: ResponseInit = {}): Response {
    if (arguments.length < 1) throw new TypeError("Response.json: 1 argument required, but only 0 present");
    const text = JSON.stringify(data) as string | undefined;
    if (text === undefined) throw new TypeError("Response.json: the data has no JSON representation");
    const response = new Response();
    response.#initialize(toDictionary(init, "Response.json"), { bytes: utf8Encode(text), contentType: "application/json" });
    return response;
  }

  get type(): ResponseType {
    return this.#type;
  }

  /** Always "": there is no fetch, so no response comes from a URL. */
  get url(): string {
    return "";
  }

  get redirected(): boolean {
    return false;
  }

  get status(): number {
    return this.#status;
  }

  /** True for 200-299. */
  get ok(): boolean {
    return this.#status >= 200 && this.#status <= 299;
  }

  get statusText(): string {
    return this.#statusText;
  }

  get headers(): Headers {
    return this.#headers;
  }

  get body(): BodyStream | null {
    return bodyStream(this.#body);
  }

  get bodyUsed(): boolean {
    return this.#body.used;
  }

  /** @throws TypeError once the body has been read. */
  clone(): Response {
    const body = cloneBody(this.#body, "Response");
    const copy = new Response();
    copy.#type = this.#type;
    copy.#status = this.#status;
    copy.#statusText = this.#statusText;
    copy.#headers = copyHeaders(this.#headers);
    copy.#body = body;
    return copy;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return consumeArrayBuffer(this.#body);
  }

  async bytes(): Promise<Uint8Array> {
    return consumeBody(this.#body);
  }

  async text(): Promise<string> {
    return consumeText(this.#body);
  }

  async json(): Promise<unknown> {
    return consumeJson(this.#body);
  }

  async blob(): Promise<never> {
    throw unsupportedBodyType("Blob");
  }

  async formData(): Promise<never> {
    throw unsupportedBodyType("FormData");
  }

  // The standard's "initialize a response".
  #initialize(init: Record<string, unknown>, body: ExtractedBody | null): void {
    const status = init["status"] === undefined ? 200 : toUnsignedShort(init["status"]);
    if (status < 200 || status > 599) throw new RangeError(`Response: the status ${status} is outside 200-599`);
    const statusText = init["statusText"] === undefined ? "" : toByteString(init["statusText"], "Response");
    if (!REASON_PHRASE.test(statusText)) throw new TypeError(`Response: ${JSON.stringify(statusText)} is not a valid status text`);
    this.#status = status;
    this.#statusText = statusText;
    if (init["headers"] !== undefined) {
      const headers = new Headers(init["headers"]);
      for (const [name, value] of headers) this.#headers.append(name, value);
    }
    if (body === null) return;
    if (NULL_BODY_STATUSES.has(status)) throw new TypeError(`Response: a ${status} response cannot have a body`);
    this.#body = new BodyState(body.bytes);
    if (body.contentType !== null && !this.#headers.has("content-type")) this.#headers.append("content-type", body.contentType);
  }
}
