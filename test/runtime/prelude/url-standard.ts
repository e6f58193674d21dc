/**
 * Which of the URL Standard's recent changes the running Node's own URL follows.
 *
 * The prelude's URL follows the standard as it stands, the same on every Node.js line, so a
 * module's URLs do not change with the Node.js its node runs on. The tests use Node's URL as
 * the reference; Node 24 and later (Ada 3) follow these changes, Node 20 and 22 (Ada 2.x)
 * predate them all. Where the running Node predates a change, its answer is not the
 * standard's: the rows about that change state the standard's answer (url.test.ts), and the
 * generated inputs leave out what triggers it (differential.test.ts). Each change is probed
 * on Node's URL rather than inferred from the version, and a test checks that Node 24 and
 * later follow all of them, so on the lines CI runs every input is compared with Node on one.
 */

export const URL_STANDARD_CHANGES = {
  /** whatwg/url 9bc33c3 (March 2025): "^" joins the path percent-encode set. */
  caretInPath: "http://a/^ gives the path /%5E",
  /**
   * whatwg/url 6c78200 (March 2025): an opaque path's space right before "?" or "#" is encoded
   * as %20, so that removing the query or fragment needs no stripping of trailing spaces.
   */
  opaquePathSpace: "data:x ?q gives data:x%20?q",
  /** whatwg/url a8d5ca3 (June 2026): an ASCII domain is lower-cased even where ToASCII fails ("xn--abc"). */
  asciiDomain: "http://xn--abc/ parses",
} as const;

export type UrlStandardChange = keyof typeof URL_STANDARD_CHANGES;

/** For each change, whether this process's Node follows it. */
export const nodeFollows: Readonly<Record<UrlStandardChange, boolean>> = {
  caretInPath: new URL("http://a/^").pathname === "/%5E",
  opaquePathSpace: new URL("data:x ?q").href === "data:x%20?q",
  asciiDomain: URL.canParse("http://xn--abc/"),
};

/** True when `text` (a URL or a setter's value) could meet a change this Node does not follow. */
export function meetsChangeNodeLacks(text: string): boolean {
  const seen = text.replace(/[\t\n\r]/g, "");
  return (
    (!nodeFollows.caretInPath && seen.includes("^")) ||
    (!nodeFollows.opaquePathSpace && /[ ][?#]/.test(seen)) ||
    (!nodeFollows.asciiDomain && /xn--/i.test(seen))
  );
}
