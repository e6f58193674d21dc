/**
 * URL, as the URL Standard defines it (https://url.spec.whatwg.org/#url-class): getters
 * read the parsed record, setters re-run the parser from the matching state, and
 * `searchParams` is a live view of the query.
 *
 * Runs inside a bare V8 isolate: no imports, only ECMAScript built-ins.
 */
import { USERINFO_SET, percentEncode } from "./percent-encoding.js";
import { type ParserState, basicParse } from "./url-parser.js";
import {
  type UrlRecord,
  cannotHaveCredentialsOrPort,
  serializePath,
  serializeUrl,
} from "./url-record.js";
import { URLSearchParams, linkSearchParams, resetSearchParams } from "./url-search-params.js";
import { requireArguments, toUSVString } from "./webidl.js";

/**
 * Records of absolute URLs parsed lately, by input. A module's requests repeat the same few
 * URLs, and parsing one here, in JavaScript, was most of building a Request (12 of 19 µs).
 * Each caller gets its own copy: a URL's setters change its record in place.
 */
const recent = new Map<string, UrlRecord>();
const RECENT_MAX = 256;

function copyRecord(record: UrlRecord): UrlRecord {
  return { ...record, path: Array.isArray(record.path) ? [...record.path] : record.path };
}

function parseAbsolute(input: string): UrlRecord | null {
  const known = recent.get(input);
  if (known !== undefined) return copyRecord(known);
  const record = basicParse(input, null);
  if (record !== null) {
    if (recent.size >= RECENT_MAX) recent.clear();
    recent.set(input, copyRecord(record));
  }
  return record;
}

/** Parses `url` against an optional `base`; null when either fails. */
function parseWithBase(url: unknown, base: unknown): UrlRecord | null {
  if (base === undefined) return parseAbsolute(toUSVString(url));
  const baseRecord = parseAbsolute(toUSVString(base));
  if (baseRecord === null) return null;
  return basicParse(toUSVString(url), baseRecord);
}

/** The origin's serialization; "null" for an opaque origin (file:, data:, custom schemes). */
function serializeOrigin(url: UrlRecord): string {
  switch (url.scheme) {
    case "blob": {
      const inner = basicParse(serializePath(url), null);
      return inner !== null && (inner.scheme === "http" || inner.scheme === "https") ? serializeOrigin(inner) : "null";
    }
    case "ftp":
    case "http":
    case "https":
    case "ws":
    case "wss":
      return url.scheme + "://" + url.host + (url.port === null ? "" : ":" + url.port);
    default:
      return "null";
  }
}

/**
 * @example new URL("../c?x=1#top", "https://example.com/a/b/").href // "https://example.com/a/c?x=1#top"
 */
export class URL {
  #url: UrlRecord;
  #searchParams: URLSearchParams;

  /** @throws TypeError when `url` (or `base`) does not parse. */
  constructor(url: unknown, base: unknown = undefined) {
    requireArguments(arguments.length, 1, "URL");
    const record = parseWithBase(url, base);
    if (record === null) throw new TypeError(`Invalid URL: ${String(url)}${base === undefined ? "" : ` (base ${String(base)})`}`);
    this.#url = record;
    this.#searchParams = new URLSearchParams();
    linkSearchParams(this.#searchParams, record.query, (serialized) => {
      this.#url.query = serialized === "" ? null : serialized;
    });
  }

  /** True when `new URL(url, base)` would not throw. */
  static canParse(url: unknown, base: unknown = undefined): boolean {
    requireArguments(arguments.length, 1, "URL.canParse");
    return parseWithBase(url, base) !== null;
  }

  /** `new URL(url, base)`, or null instead of throwing. */
  static parse(url: unknown, base: unknown = undefined): URL | null {
    requireArguments(arguments.length, 1, "URL.parse");
    return parseWithBase(url, base) === null ? null : new URL(url, base);
  }

  get href(): string {
    return serializeUrl(this.#url);
  }

  /** @throws TypeError when the new value does not parse (the URL is left unchanged). */
  set href(value: unknown) {
    const record = basicParse(toUSVString(value), null);
    if (record === null) throw new TypeError(`Invalid URL: ${String(value)}`);
    this.#url = record;
    resetSearchParams(this.#searchParams, record.query);
  }

  get origin(): string {
    return serializeOrigin(this.#url);
  }

  get protocol(): string {
    return this.#url.scheme + ":";
  }

  /** Switching between special (http, file...) and other schemes is ignored, as in browsers. */
  set protocol(value: unknown) {
    this.#edit(toUSVString(value) + ":", "scheme start");
  }

  get username(): string {
    return this.#url.username;
  }

  set username(value: unknown) {
    if (cannotHaveCredentialsOrPort(this.#url)) return;
    this.#url.username = percentEncode(toUSVString(value), USERINFO_SET);
  }

  get password(): string {
    return this.#url.password;
  }

  set password(value: unknown) {
    if (cannotHaveCredentialsOrPort(this.#url)) return;
    this.#url.password = percentEncode(toUSVString(value), USERINFO_SET);
  }

  get host(): string {
    const { host, port } = this.#url;
    if (host === null) return "";
    return port === null ? host : host + ":" + port;
  }

  set host(value: unknown) {
    if (typeof this.#url.path === "string") return;
    this.#edit(toUSVString(value), "host");
  }

  get hostname(): string {
    return this.#url.host ?? "";
  }

  set hostname(value: unknown) {
    if (typeof this.#url.path === "string") return;
    this.#edit(toUSVString(value), "hostname");
  }

  /** "" for the scheme's default port: new URL("https://a:443/").port === "". */
  get port(): string {
    return this.#url.port === null ? "" : String(this.#url.port);
  }

  set port(value: unknown) {
    if (cannotHaveCredentialsOrPort(this.#url)) return;
    const text = toUSVString(value);
    if (text === "") this.#url.port = null;
    else this.#edit(text, "port");
  }

  get pathname(): string {
    return serializePath(this.#url);
  }

  set pathname(value: unknown) {
    if (typeof this.#url.path === "string") return;
    this.#edit(toUSVString(value), "path start", (url) => {
      url.path = [];
    });
  }

  /** "" when the query is absent or empty; otherwise with its leading "?". */
  get search(): string {
    return this.#url.query === null || this.#url.query === "" ? "" : "?" + this.#url.query;
  }

  set search(value: unknown) {
    const text = toUSVString(value);
    if (text === "") {
      this.#url.query = null;
    } else {
      this.#edit(text.startsWith("?") ? text.slice(1) : text, "query", (url) => {
        url.query = "";
      });
    }
    resetSearchParams(this.#searchParams, this.#url.query);
  }

  get searchParams(): URLSearchParams {
    return this.#searchParams;
  }

  /** "" when the fragment is absent or empty; otherwise with its leading "#". */
  get hash(): string {
    return this.#url.fragment === null || this.#url.fragment === "" ? "" : "#" + this.#url.fragment;
  }

  set hash(value: unknown) {
    const text = toUSVString(value);
    if (text === "") {
      this.#url.fragment = null;
      return;
    }
    this.#edit(text.startsWith("#") ? text.slice(1) : text, "fragment", (url) => {
      url.fragment = "";
    });
  }

  toString(): string {
    return this.href;
  }

  toJSON(): string {
    return this.href;
  }

  // As the standard does, a setter edits the record in place: a value rejected halfway (a
  // host of "b:99999") keeps the parts parsed before the failure, as in browsers.
  #edit(input: string, state: ParserState, prepare?: (url: UrlRecord) => void): void {
    prepare?.(this.#url);
    basicParse(input, null, this.#url, state);
  }
}
