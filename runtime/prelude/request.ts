/**
 * Request, as the Fetch Standard defines its constructor
 * (https://fetch.spec.whatwg.org/#dom-request), for the fields that mean something without a
 * network stack: method, url, headers, body, and the fetch options, validated and echoed.
 *
 * There is no base URL in an isolate, so a relative URL is a TypeError (as in Node). There is
 * no AbortSignal, so `signal` is absent.
 *
 * Runs inside a bare V8 isolate: no imports, only ECMAScript built-ins.
 */
import {
  BodyState,
  type BodyStream,
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
import { toByteString, toDictionary, toUSVString } from "./webidl.js";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Methods a Request may never carry; and those the standard upper-cases ("patch" stays).
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
const NORMALIZED_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);

const ENUMS = {
  mode: ["same-origin", "no-cors", "cors", "navigate", "websocket"],
  credentials: ["omit", "same-origin", "include"],
  cache: ["default", "no-store", "reload", "no-cache", "force-cache", "only-if-cached"],
  redirect: ["follow", "error", "manual"],
  referrerPolicy: [
    "",
    "no-referrer",
    "no-referrer-when-downgrade",
    "same-origin",
    "origin",
    "strict-origin",
    "origin-when-cross-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
  ],
  duplex: ["half"],
} as const;

type Enum<K extends keyof typeof ENUMS> = (typeof ENUMS)[K][number];

function enumMember<K extends keyof typeof ENUMS>(init: Record<string, unknown>, key: K): Enum<K> | undefined {
  if (init[key] === undefined) return undefined;
  const value = String(init[key]);
  if (!(ENUMS[key] as readonly string[]).includes(value)) {
    throw new TypeError(`Request: ${JSON.stringify(value)} is not a valid value for ${key}`);
  }
  return value as Enum<K>;
}

export interface RequestInit {
  method?: string;
  headers?: unknown;
  body?: unknown;
  referrer?: string;
  referrerPolicy?: Enum<"referrerPolicy">;
  mode?: Enum<"mode">;
  credentials?: Enum<"credentials">;
  cache?: Enum<"cache">;
  redirect?: Enum<"redirect">;
  integrity?: string;
  keepalive?: boolean;
  duplex?: Enum<"duplex">;
}

interface Options {
  referrer: string;
  referrerPolicy: Enum<"referrerPolicy">;
  mode: Enum<"mode">;
  credentials: Enum<"credentials">;
  cache: Enum<"cache">;
  redirect: Enum<"redirect">;
  integrity: string;
  keepalive: boolean;
}

const DEFAULTS: Options = {
  referrer: "about:client",
  referrerPolicy: "",
  mode: "cors",
  credentials: "same-origin",
  cache: "default",
  redirect: "follow",
  integrity: "",
  keepalive: false,
};

function parseRequestUrl(input: unknown): string {
  const text = toUSVString(input);
  const url = URL.parse(text);
  if (url === null) throw new TypeError(`Request: cannot parse the URL ${JSON.stringify(text)} (relative URLs have no base here)`);
  if (url.username !== "" || url.password !== "") {
    throw new TypeError(`Request: the URL ${JSON.stringify(text)} includes credentials`);
  }
  return url.href;
}

function normalizeMethod(value: unknown): string {
  const method = toByteString(value, "Request");
  if (!TOKEN.test(method)) throw new TypeError(`Request: ${JSON.stringify(method)} is not a valid HTTP method`);
  const upper = method.toUpperCase();
  if (FORBIDDEN_METHODS.has(upper)) throw new TypeError(`Request: the method ${method} is forbidden`);
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

function referrerOf(value: unknown): string {
  const text = toUSVString(value);
  if (text === "") return "";
  const url = URL.parse(text);
  if (url === null) throw new TypeError(`Request: the referrer ${JSON.stringify(text)} is not a valid URL`);
  return url.href;
}

/**
 * @example new Request("https://example.com/a", { method: "post", body: "x" }).method // "POST"
 * @throws TypeError for a relative URL, a bad method, or a body on GET/HEAD.
 */
export class Request {
  #method: string;
  #url: string;
  #headers: Headers;
  #body: BodyState;
  #options: Options;

  constructor(input: unknown, init: RequestInit = {}) {
    if (arguments.length < 1) throw new TypeError("Request: 1 argument required, but only 0 present");
    const dictionary = toDictionary(init, "Request");
    const source = input instanceof Request ? input : null;
    this.#url = source === null ? parseRequestUrl(input) : source.#url;
    this.#method = dictionary["method"] !== undefined ? normalizeMethod(dictionary["method"]) : source === null ? "GET" : source.#method;

    const options = { ...(source === null ? DEFAULTS : source.#options) };
    if (dictionary["referrer"] !== undefined) options.referrer = referrerOf(dictionary["referrer"]);
    options.referrerPolicy = enumMember(dictionary, "referrerPolicy") ?? options.referrerPolicy;
    const mode = enumMember(dictionary, "mode");
    if (mode === "navigate") throw new TypeError("Request: mode cannot be \"navigate\"");
    options.mode = mode ?? options.mode;
    options.credentials = enumMember(dictionary, "credentials") ?? options.credentials;
    options.cache = enumMember(dictionary, "cache") ?? options.cache;
    if (options.cache === "only-if-cached" && options.mode !== "same-origin") {
      throw new TypeError("Request: cache \"only-if-cached\" needs mode \"same-origin\"");
    }
    options.redirect = enumMember(dictionary, "redirect") ?? options.redirect;
    if (dictionary["integrity"] !== undefined) options.integrity = String(dictionary["integrity"]);
    if (dictionary["keepalive"] !== undefined) options.keepalive = Boolean(dictionary["keepalive"]);
    enumMember(dictionary, "duplex"); // validated only: every body here is whole, so always "half"
    this.#options = options;

    const headersInit = dictionary["headers"] !== undefined ? dictionary["headers"] : source === null ? undefined : source.#headers;
    this.#headers = guardHeaders(new Headers(headersInit), "request");

    const bodyInit = dictionary["body"];
    const hasInitBody = bodyInit !== undefined && bodyInit !== null;
    const inputBody = source === null ? null : source.#body.bytes;
    if ((hasInitBody || inputBody !== null) && (this.#method === "GET" || this.#method === "HEAD")) {
      throw new TypeError("Request: a GET or HEAD request cannot have a body");
    }
    if (hasInitBody) {
      const extracted = extractBody(bodyInit);
      if (extracted.contentType !== null && !this.#headers.has("content-type")) {
        this.#headers.append("content-type", extracted.contentType);
      }
      this.#body = new BodyState(extracted.bytes);
    } else if (source !== null && inputBody !== null) {
      // The new request takes the body over: the old one counts as read, as in browsers.
      if (source.#body.used) throw new TypeError("Request: the input request's body has already been used");
      source.#body.used = true;
      this.#body = new BodyState(inputBody);
    } else {
      this.#body = new BodyState(null);
    }
  }

  get method(): string {
    return this.#method;
  }

  /** The absolute URL, fragment included. */
  get url(): string {
    return this.#url;
  }

  get headers(): Headers {
    return this.#headers;
  }

  get destination(): string {
    return "";
  }

  get referrer(): string {
    return this.#options.referrer;
  }

  get referrerPolicy(): string {
    return this.#options.referrerPolicy;
  }

  get mode(): string {
    return this.#options.mode;
  }

  get credentials(): string {
    return this.#options.credentials;
  }

  get cache(): string {
    return this.#options.cache;
  }

  get redirect(): string {
    return this.#options.redirect;
  }

  get integrity(): string {
    return this.#options.integrity;
  }

  get keepalive(): boolean {
    return this.#options.keepalive;
  }

  get isReloadNavigation(): boolean {
    return false;
  }

  get isHistoryNavigation(): boolean {
    return false;
  }

  get duplex(): string {
    return "half";
  }

  get body(): BodyStream | null {
    return bodyStream(this.#body);
  }

  get bodyUsed(): boolean {
    return this.#body.used;
  }

  /** @throws TypeError once the body has been read. */
  clone(): Request {
    const body = cloneBody(this.#body, "Request");
    // Built from the URL alone, then given this request's fields: `new Request(this)` would
    // take this request's body over and mark it read.
    const copy = new Request(this.#url);
    copy.#method = this.#method;
    copy.#options = { ...this.#options };
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
}
