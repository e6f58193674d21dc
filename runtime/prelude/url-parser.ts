/**
 * The URL Standard's basic URL parser, as its state machine. Each `case` below is one state
 * of the standard, under the standard's name, so the two can be read side by side
 * (https://url.spec.whatwg.org/#concept-basic-url-parser). Setters run the same machine from
 * a later state with a "state override", which is why several states return early.
 *
 *   scheme start → scheme → (special) authority slashes → authority → host → port
 *     → path start → path → query → fragment
 *   scheme start → no scheme → relative → relative slash → ... (relative to a base)
 *   scheme → opaque path (mailto:, data:) ; scheme → file → file slash → file host
 *
 * Validation errors that the standard does not make fatal are not reported. The file is
 * longer than most because the machine is one switch; split, it could no longer be read
 * against the standard state by state.
 *
 * Runs inside a bare V8 isolate: no imports, only ECMAScript built-ins.
 */
import { parseHost } from "./host.js";
import {
  C0_CONTROL_SET,
  FRAGMENT_SET,
  PATH_SET,
  QUERY_SET,
  SPECIAL_QUERY_SET,
  USERINFO_SET,
  percentEncode,
} from "./percent-encoding.js";
import { type UrlRecord, defaultPort, emptyRecord, includesCredentials, isSpecialScheme } from "./url-record.js";

export type ParserState =
  | "scheme start"
  | "scheme"
  | "no scheme"
  | "special relative or authority"
  | "path or authority"
  | "relative"
  | "relative slash"
  | "special authority slashes"
  | "special authority ignore slashes"
  | "authority"
  | "host"
  | "hostname"
  | "port"
  | "file"
  | "file slash"
  | "file host"
  | "path start"
  | "path"
  | "opaque path"
  | "query"
  | "fragment";

const isAlpha = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z]$/.test(c);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9" && c.length === 1;
const isSchemeChar = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z0-9+\-.]$/.test(c);

function isWindowsDriveLetter(text: string, normalizedOnly = false): boolean {
  return text.length === 2 && isAlpha(text[0]) && (text[1] === ":" || (!normalizedOnly && text[1] === "|"));
}

function startsWithWindowsDriveLetter(points: readonly string[], from: number): boolean {
  if (points.length - from < 2 || !isWindowsDriveLetter(points[from]! + points[from + 1]!)) return false;
  const third = points[from + 2];
  return third === undefined || third === "/" || third === "\\" || third === "?" || third === "#";
}

const isSingleDot = (segment: string): boolean => segment === "." || segment.toLowerCase() === "%2e";
const isDoubleDot = (segment: string): boolean => /^(\.|%2e)(\.|%2e)$/i.test(segment);

function shortenPath(url: UrlRecord): void {
  const path = url.path as string[];
  if (url.scheme === "file" && path.length === 1 && isWindowsDriveLetter(path[0]!, true)) return;
  path.pop();
}

/**
 * Parses `input` against `base`. Without `url`, returns a new record or null on failure.
 * With `url` and `stateOverride` (the URL setters), changes `url` in place; it returns null
 * when the new value is rejected, and the caller keeps the URL as it was.
 */
export function basicParse(
  input: string,
  base: UrlRecord | null,
  target?: UrlRecord,
  stateOverride?: ParserState,
): UrlRecord | null {
  let text = input;
  const url = target ?? emptyRecord();
  if (target === undefined) text = text.replace(/^[\0-\x20]+|[\0-\x20]+$/g, "");
  text = text.replace(/[\t\n\r]/g, "");
  const points = Array.from(text);
  let state: ParserState = stateOverride ?? "scheme start";
  let buffer = "";
  let atSignSeen = false;
  let insideBrackets = false;
  let passwordTokenSeen = false;
  // Re-assigned with the scheme; the spec's "url is special".
  let special = isSpecialScheme(url.scheme);

  for (let pointer = 0; pointer <= points.length; pointer++) {
    const c = points[pointer]; // undefined is the standard's EOF code point
    switch (state) {
      case "scheme start":
        if (isAlpha(c)) {
          buffer += c!.toLowerCase();
          state = "scheme";
        } else if (stateOverride === undefined) {
          state = "no scheme";
          pointer--;
        } else {
          return null;
        }
        break;

      case "scheme":
        if (isSchemeChar(c)) {
          buffer += c!.toLowerCase();
        } else if (c === ":") {
          if (stateOverride !== undefined) {
            if (isSpecialScheme(url.scheme) !== isSpecialScheme(buffer)) return url;
            if ((includesCredentials(url) || url.port !== null) && buffer === "file") return url;
            if (url.scheme === "file" && url.host === "") return url;
          }
          url.scheme = buffer;
          special = isSpecialScheme(buffer);
          if (stateOverride !== undefined) {
            if (url.port === defaultPort(url.scheme)) url.port = null;
            return url;
          }
          buffer = "";
          if (url.scheme === "file") {
            state = "file";
          } else if (special && base !== null && base.scheme === url.scheme) {
            state = "special relative or authority";
          } else if (special) {
            state = "special authority slashes";
          } else if (points[pointer + 1] === "/") {
            state = "path or authority";
            pointer++;
          } else {
            url.path = "";
            state = "opaque path";
          }
        } else if (stateOverride === undefined) {
          buffer = "";
          state = "no scheme";
          pointer = -1;
        } else {
          return null;
        }
        break;

      case "no scheme":
        if (base === null || (typeof base.path === "string" && c !== "#")) return null;
        if (typeof base.path === "string" && c === "#") {
          url.scheme = base.scheme;
          special = isSpecialScheme(url.scheme);
          url.path = base.path;
          url.query = base.query;
          url.fragment = "";
          state = "fragment";
        } else {
          state = base.scheme === "file" ? "file" : "relative";
          pointer--;
        }
        break;

      case "special relative or authority":
        if (c === "/" && points[pointer + 1] === "/") {
          state = "special authority ignore slashes";
          pointer++;
        } else {
          state = "relative";
          pointer--;
        }
        break;

      case "path or authority":
        if (c === "/") {
          state = "authority";
        } else {
          state = "path";
          pointer--;
        }
        break;

      case "relative": {
        const from = base!;
        url.scheme = from.scheme;
        special = isSpecialScheme(url.scheme);
        if (c === "/" || (special && c === "\\")) {
          state = "relative slash";
        } else {
          url.username = from.username;
          url.password = from.password;
          url.host = from.host;
          url.port = from.port;
          url.path = (from.path as string[]).slice();
          url.query = from.query;
          if (c === "?") {
            url.query = "";
            state = "query";
          } else if (c === "#") {
            url.fragment = "";
            state = "fragment";
          } else if (c !== undefined) {
            url.query = null;
            shortenPath(url);
            state = "path";
            pointer--;
          }
        }
        break;
      }

      case "relative slash":
        if (special && (c === "/" || c === "\\")) {
          state = "special authority ignore slashes";
        } else if (c === "/") {
          state = "authority";
        } else {
          url.username = base!.username;
          url.password = base!.password;
          url.host = base!.host;
          url.port = base!.port;
          state = "path";
          pointer--;
        }
        break;

      case "special authority slashes":
        state = "special authority ignore slashes";
        if (c === "/" && points[pointer + 1] === "/") pointer++;
        else pointer--;
        break;

      case "special authority ignore slashes":
        if (c !== "/" && c !== "\\") {
          state = "authority";
          pointer--;
        }
        break;

      case "authority":
        if (c === "@") {
          if (atSignSeen) buffer = "%40" + buffer;
          atSignSeen = true;
          for (const point of buffer) {
            if (point === ":" && !passwordTokenSeen) {
              passwordTokenSeen = true;
              continue;
            }
            const encoded = percentEncode(point, USERINFO_SET);
            if (passwordTokenSeen) url.password += encoded;
            else url.username += encoded;
          }
          buffer = "";
        } else if (c === undefined || c === "/" || c === "?" || c === "#" || (special && c === "\\")) {
          if (atSignSeen && buffer === "") return null;
          pointer -= Array.from(buffer).length + 1;
          buffer = "";
          state = "host";
        } else {
          buffer += c;
        }
        break;

      case "host":
      case "hostname":
        if (stateOverride !== undefined && url.scheme === "file") {
          pointer--;
          state = "file host";
        } else if (c === ":" && !insideBrackets) {
          if (buffer === "") return null;
          if (stateOverride === "hostname") return null;
          const host = parseHost(buffer, !special);
          if (host === null) return null;
          url.host = host;
          buffer = "";
          state = "port";
        } else if (c === undefined || c === "/" || c === "?" || c === "#" || (special && c === "\\")) {
          pointer--;
          if (special && buffer === "") return null;
          if (stateOverride !== undefined && buffer === "" && (includesCredentials(url) || url.port !== null)) return null;
          const host = parseHost(buffer, !special);
          if (host === null) return null;
          url.host = host;
          buffer = "";
          state = "path start";
          if (stateOverride !== undefined) return url;
        } else {
          if (c === "[") insideBrackets = true;
          if (c === "]") insideBrackets = false;
          buffer += c;
        }
        break;

      case "port":
        if (isDigit(c)) {
          buffer += c;
        } else if (c === undefined || c === "/" || c === "?" || c === "#" || (special && c === "\\") || stateOverride !== undefined) {
          if (buffer !== "") {
            const port = Number(buffer);
            if (port > 65535) return null;
            url.port = port === defaultPort(url.scheme) ? null : port;
            buffer = "";
          }
          if (stateOverride !== undefined) return url;
          state = "path start";
          pointer--;
        } else {
          return null;
        }
        break;

      case "file":
        url.scheme = "file";
        special = true;
        url.host = "";
        if (c === "/" || c === "\\") {
          state = "file slash";
        } else if (base !== null && base.scheme === "file") {
          url.host = base.host;
          url.path = (base.path as string[]).slice();
          url.query = base.query;
          if (c === "?") {
            url.query = "";
            state = "query";
          } else if (c === "#") {
            url.fragment = "";
            state = "fragment";
          } else if (c !== undefined) {
            url.query = null;
            if (!startsWithWindowsDriveLetter(points, pointer)) shortenPath(url);
            else url.path = [];
            state = "path";
            pointer--;
          }
        } else {
          state = "path";
          pointer--;
        }
        break;

      case "file slash":
        if (c === "/" || c === "\\") {
          state = "file host";
        } else {
          if (base !== null && base.scheme === "file") {
            url.host = base.host;
            const first = typeof base.path === "string" ? undefined : base.path[0];
            if (!startsWithWindowsDriveLetter(points, pointer) && first !== undefined && isWindowsDriveLetter(first, true)) {
              (url.path as string[]).push(first);
            }
          }
          state = "path";
          pointer--;
        }
        break;

      case "file host":
        if (c === undefined || c === "/" || c === "\\" || c === "?" || c === "#") {
          pointer--;
          if (stateOverride === undefined && isWindowsDriveLetter(buffer)) {
            // The buffer is kept: it becomes the first path segment ("file://C:/x").
            state = "path";
          } else if (buffer === "") {
            url.host = "";
            if (stateOverride !== undefined) return url;
            state = "path start";
          } else {
            let host = parseHost(buffer, !special);
            if (host === null) return null;
            if (host === "localhost") host = "";
            url.host = host;
            if (stateOverride !== undefined) return url;
            buffer = "";
            state = "path start";
          }
        } else {
          buffer += c;
        }
        break;

      case "path start":
        if (special) {
          state = "path";
          if (c !== "/" && c !== "\\") pointer--;
        } else if (stateOverride === undefined && c === "?") {
          url.query = "";
          state = "query";
        } else if (stateOverride === undefined && c === "#") {
          url.fragment = "";
          state = "fragment";
        } else if (c !== undefined) {
          state = "path";
          if (c !== "/") pointer--;
        } else if (stateOverride !== undefined && url.host === null) {
          (url.path as string[]).push("");
        }
        break;

      case "path": {
        const path = url.path as string[];
        const slash = c === "/" || (special && c === "\\");
        if (c === undefined || slash || (stateOverride === undefined && (c === "?" || c === "#"))) {
          if (isDoubleDot(buffer)) {
            shortenPath(url);
            if (!slash) path.push("");
          } else if (isSingleDot(buffer) && !slash) {
            path.push("");
          } else if (!isSingleDot(buffer)) {
            if (url.scheme === "file" && path.length === 0 && isWindowsDriveLetter(buffer)) buffer = buffer[0] + ":";
            path.push(buffer);
          }
          buffer = "";
          if (c === "?") {
            url.query = "";
            state = "query";
          }
          if (c === "#") {
            url.fragment = "";
            state = "fragment";
          }
        } else {
          buffer += percentEncode(c, PATH_SET);
        }
        break;
      }

      case "opaque path":
        if (c === "?") {
          url.query = "";
          state = "query";
        } else if (c === "#") {
          url.fragment = "";
          state = "fragment";
        } else if (c === " ") {
          // A space right before the query or fragment is encoded, so that an opaque path
          // never ends in a bare space and removing the query or fragment later keeps the
          // URL parsing back to itself (whatwg/url 6c78200, 2025, which replaced stripping
          // such spaces in the setters).
          const next = points[pointer + 1];
          url.path = (url.path as string) + (next === "?" || next === "#" ? "%20" : " ");
        } else if (c !== undefined) {
          url.path = (url.path as string) + percentEncode(c, C0_CONTROL_SET);
        }
        break;

      case "query":
        if ((stateOverride === undefined && c === "#") || c === undefined) {
          url.query = (url.query ?? "") + percentEncode(buffer, special ? SPECIAL_QUERY_SET : QUERY_SET);
          buffer = "";
          if (c === "#") {
            url.fragment = "";
            state = "fragment";
          }
        } else {
          buffer += c;
        }
        break;

      case "fragment":
        if (c !== undefined) url.fragment = (url.fragment ?? "") + percentEncode(c, FRAGMENT_SET);
        break;
    }
  }
  return url;
}
