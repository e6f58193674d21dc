/**
 * The URL record the URL Standard's parser produces, and its serializer. The URL class
 * keeps one of these and derives every getter from it.
 *
 * Runs inside a bare V8 isolate: no imports, only ECMAScript built-ins.
 */

export interface UrlRecord {
  /** Lower-case, without the ":". */
  scheme: string;
  /** Percent-encoded. */
  username: string;
  /** Percent-encoded. */
  password: string;
  /** Serialized ("example.com", "127.0.0.1", "[::1]"); "" is the empty host of file:///; null is none. */
  host: string | null;
  /** null when absent or equal to the scheme's default port. */
  port: number | null;
  /** Segments of a hierarchical path, or the single opaque string of "mailto:x" and the like. */
  path: string[] | string;
  /** Without the "?"; null when absent (which differs from "?" with nothing after it). */
  query: string | null;
  /** Without the "#"; null when absent. */
  fragment: string | null;
}

const SPECIAL_SCHEMES = new Map<string, number | null>([
  ["ftp", 21],
  ["file", null],
  ["http", 80],
  ["https", 443],
  ["ws", 80],
  ["wss", 443],
]);

export function emptyRecord(): UrlRecord {
  return { scheme: "", username: "", password: "", host: null, port: null, path: [], query: null, fragment: null };
}

export function isSpecialScheme(scheme: string): boolean {
  return SPECIAL_SCHEMES.has(scheme);
}

export function defaultPort(scheme: string): number | null {
  return SPECIAL_SCHEMES.get(scheme) ?? null;
}

export function includesCredentials(url: UrlRecord): boolean {
  return url.username !== "" || url.password !== "";
}

/** file: URLs and host-less URLs ignore the username, password and port setters. */
export function cannotHaveCredentialsOrPort(url: UrlRecord): boolean {
  return url.host === null || url.host === "" || url.scheme === "file";
}

export function serializePath(url: UrlRecord): string {
  return typeof url.path === "string" ? url.path : url.path.map((segment) => "/" + segment).join("");
}

/** The href. */
export function serializeUrl(url: UrlRecord): string {
  let out = url.scheme + ":";
  if (url.host !== null) {
    out += "//";
    if (includesCredentials(url)) {
      out += url.username;
      if (url.password !== "") out += ":" + url.password;
      out += "@";
    }
    out += url.host;
    if (url.port !== null) out += ":" + url.port;
  }
  // Without this, "web+demo:/.//not-a-host/" would reparse with "not-a-host" as its host.
  if (url.host === null && typeof url.path !== "string" && url.path.length > 1 && url.path[0] === "") out += "/.";
  out += serializePath(url);
  if (url.query !== null) out += "?" + url.query;
  if (url.fragment !== null) out += "#" + url.fragment;
  return out;
}
