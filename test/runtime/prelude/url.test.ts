/**
 * URL inside an isolate parses, resolves, serializes and edits URLs as Node's URL (Ada, a
 * WHATWG URL implementation) does.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Case, THROWS, matchesExpected, matchesNode, matchesStandard } from "./harness.js";
import { URL_STANDARD_CHANGES, nodeFollows } from "./url-standard.js";

const COMPONENTS = "[u.href, u.origin, u.protocol, u.username, u.password, u.host, u.hostname, u.port, u.pathname, u.search, u.hash]";

/** Every component of `new URL(input, base)`. */
function parse(input: string, base?: string): string {
  const args = JSON.stringify(input) + (base === undefined ? "" : ", " + JSON.stringify(base));
  return `const u = new URL(${args}); return ${COMPONENTS};`;
}

// Control characters in a test name would garble the report; show those inputs escaped.
function show(text: string): string {
  return /[\0-\x1f\x7f]/.test(text) ? JSON.stringify(text) : text;
}

function row(input: string, base?: string): Case {
  return [base === undefined ? show(input) : `${show(input)} against ${base}`, parse(input, base)];
}

function fails(input: string, base?: string): Case {
  return [`${base === undefined ? show(input) : `${show(input)} against ${base}`} is invalid`, parse(input, base), THROWS];
}

test("parses hosts and ports as Node does: default ports dropped, IPv6 shortened, IPv4 in legacy forms", async (t) => {
  await matchesNode(t, [
    row("http://example.com"),
    row("HTTP://EXAMPLE.COM:80/"),
    row("https://example.com:443/x"),
    row("https://example.com:8443/x"),
    row("http://example.com:0/"),
    row("http://example.com:00080/"),
    row("http://example.com:65535"),
    fails("http://example.com:65536"),
    fails("http://example.com:8o/"),
    row("ws://a:80/"),
    row("wss://a:443/"),
    row("ftp://a:21/"),
    row("web+demo://host:80/path"),
    row("http://[::1]:8080/"),
    row("http://[2001:DB8:0:0:0:0:0:1]/"),
    row("http://[1:0:0:2:0:0:0:3]/"),
    row("http://[0:0:0:0:0:0:0:0]/"),
    row("http://[::ffff:192.168.0.1]/"),
    row("http://[1:2:3:4:5:6:7::]/"),
    fails("http://[::1.2.3]/"),
    fails("http://[1::2::3]/"),
    fails("http://[::1/"),
    fails("http://[1:2:3:4:5:6:7:8:9]/"),
    row("http://0x7f.1/"),
    row("http://127.1/"),
    row("http://0177.0.0.1/"),
    row("http://4294967295/"),
    fails("http://4294967296/"),
    fails("http://192.168.0.257/"),
    fails("http://1.2.3.09/"),
    row("http://1.2.3.4./"),
    row("http://example.com./"),
    row("http://ex%41mple.com/"),
    fails("http://exa mple.com/"),
    fails("http://exa%20mple.com/"),
    fails("http://a<b/"),
    fails("http://%zz/"),
    fails("http:///"),
    fails("http://user@/x"),
    row("http://münchen.de/"),
    row("http://faß.de/"),
    row("http://ＥＸＡＭＰＬＥ．com/"),
    row("http://日本。jp/"),
    row("http://a\u00adb.com/"),
    row("http://xn--mnchen-3ya.de/"),
    fails("http://é.xn--abc/"),
    fails("http://a\u2028b/"),
    row("http://☕.example/"),
    row("sc://ñ.com/"),
    fails("sc://a b/"),
    row("foo://[::1]/"),
    row("http://a.b..c/"),
  ]);
});

test("parses credentials, paths, queries and fragments as Node does, percent-encoding what it must", async (t) => {
  await matchesNode(t, [
    row("http://a:b@c/"),
    row("http://user:p%40ss@host/"),
    row("http://us er:pa ss@host/"),
    row("http://a@b@c/"),
    row("http://:pw@host/"),
    row("http://@host/"),
    row("http://a/b c/d?e f#g h"),
    row("http://a/%zz"),
    row("http://a/%7e%7E"),
    row("http://a/é?é#é"),
    row("http://a/💩?💩#💩"),
    row("http://a/?^{}|`\"<>'"),
    row("foo://a/?'"),
    row("http://a/#^{}|`\"<> "),
    row("http://a/a/./b/../../c"),
    row("http://a/%2e%2E/x"),
    row("http://a/.%2E/x"),
    row("http://a/.."),
    row("http://a/b/.."),
    row("http://a/b/."),
    row("http://a/b/./"),
    row("http://a/b\\c\\..\\d"),
    row("foo://a/b\\c"),
    row("http://a/?a=1&b=2#frag#x"),
    row("http://a/#"),
    row("http://a/?"),
    row("http://a/?#"),
    row("  http://a/b  "),
    row("http://a/\tb\nc\r"),
    row("http:a/b"),
    row("http:/a/b"),
    row("http:\\\\a\\b"),
    row("https://a.com/?q=✓&r=a+b%20c"),
    row("http://a/\u0000\u001f\u007f"),
    row("http://a/\uD800"),
  ]);
});

test("parses schemes without authority as Node does: mailto, data, file, blob", async (t) => {
  await matchesNode(t, [
    row("mailto:user@example.com"),
    row("MAILTO:User@Example.com?subject=hi there"),
    row("data:text/plain,hi there"),
    row("javascript:alert(1)"),
    row("urn:isbn:0451450523"),
    row("foo:/a/b"),
    row("foo:///x"),
    row("foo://"),
    row("web+demo:/.//not-a-host/"),
    row("file:///tmp/a b"),
    row("file://localhost/etc/hosts"),
    row("file://server/share/x"),
    row("file:///C:/x/../../y"),
    row("file:C|/x"),
    row("file:/c:/x"),
    row("file://C:/x"),
    row("blob:https://a.com/uuid"),
    row("blob:https://a.com:443/uuid"),
    row("blob:ftp://a.com/uuid"),
    row("blob:file:///x"),
    row("blob:not a url"),
    fails("1http://a/"),
    fails("://a/"),
    fails(""),
    fails("noscheme"),
  ]);
});

const BASE = "http://user:pw@example.com:8080/a/b/c?q=1#f";

test("resolves relative references against a base as Node does", async (t) => {
  await matchesNode(t, [
    row("d", BASE),
    row("./d", BASE),
    row("../d", BASE),
    row("../../../../d", BASE),
    row("..", BASE),
    row("../", BASE),
    row(".", BASE),
    row("/d", BASE),
    row("//other/d", BASE),
    row("///other/d", BASE),
    row("\\d", BASE),
    row("?x", BASE),
    row("#y", BASE),
    row("", BASE),
    row("d?x#y", BASE),
    row("  ../x ", BASE),
    row("%2e%2e/x", BASE),
    row("http:d", BASE),
    row("https:d", BASE),
    row("https://other/", BASE),
    row("mailto:x", BASE),
    row("x", "foo:/a/b"),
    row("#frag", "mailto:a"),
    fails("x", "mailto:a"),
    fails("a", "not a url"),
    fails("a", ""),
    row("x", "file:///C:/a/b"),
    row("/x", "file:///C:/a/b"),
    row("..", "file:///C:/"),
    row("?q", "file:///a"),
    row("//host/x", "file:///a"),
  ]);
});

/** Applies one setter and returns every component afterwards. */
function set(url: string, setter: string, value: string): Case {
  return [
    `${show(url)} with ${setter} = ${JSON.stringify(value)}`,
    `const u = new URL(${JSON.stringify(url)}); u.${setter} = ${JSON.stringify(value)}; return ${COMPONENTS};`,
  ];
}

test("setters edit a URL as Node's do, ignoring what the standard ignores", async (t) => {
  await matchesNode(t, [
    set("http://a/", "protocol", "https"),
    set("http://a:443/", "protocol", "https:"),
    set("http://a/", "protocol", "foo"),
    set("foo://a/", "protocol", "http"),
    set("http://a/", "protocol", "ht tp"),
    set("http://a/", "protocol", "wss:x"),
    set("http://u@a/", "protocol", "file"),
    set("mailto:x", "protocol", "http"),
    set("http://a/", "username", "us er@:"),
    set("http://a/", "password", "p@ss:w/rd"),
    set("http://u:p@a/", "username", ""),
    set("file:///x", "username", "u"),
    set("mailto:x", "password", "p"),
    set("http://a:1/", "host", "b:8080"),
    set("http://a:1/", "host", "b"),
    set("http://a:1/", "host", "b:99999"),
    set("http://a/", "host", "[::1]:3"),
    set("http://a/", "host", ""),
    set("http://a/", "host", "b/c?d#e"),
    set("foo://a/", "host", ""),
    set("mailto:x", "host", "b"),
    set("http://a:1/", "hostname", "b:8080"),
    set("http://a/", "hostname", "B.COM"),
    set("http://a/", "hostname", "exa mple"),
    set("file:///x", "hostname", "localhost"),
    set("file:///x", "host", "server"),
    set("http://a/", "port", "8080"),
    set("http://a:1/", "port", "80"),
    set("http://a:1/", "port", ""),
    set("http://a:1/", "port", "abc"),
    set("http://a/", "port", "8080abc"),
    set("http://a/", "port", "99999"),
    set("file:///x", "port", "1"),
    set("http://a/x", "pathname", "/a b/../c"),
    set("http://a/x", "pathname", "y"),
    set("http://a/x", "pathname", ""),
    set("http://a/x", "pathname", "?#"),
    set("foo://a/x", "pathname", "y"),
    set("foo:x", "pathname", "y"),
    set("http://a/", "search", "?a b"),
    set("http://a/", "search", "a=1'"),
    set("http://a/?x", "search", ""),
    set("http://a/", "search", "#x"),
    set("http://a/", "search", "?"),
    set("http://a/", "hash", "#a b"),
    set("http://a/#x", "hash", ""),
    set("http://a/", "hash", "x#y"),
    set("http://a/", "href", "https://b/c"),
    ["an invalid href is a TypeError", "const u = new URL('http://a/'); u.href = 'nope'; return u.href;", THROWS],
  ]);
});

test("searchParams is a live view of the query, both ways", async (t) => {
  await matchesNode(t, [
    ["the same object every time", "const u = new URL('http://a/?x=1'); return u.searchParams === u.searchParams;"],
    ["reads the query", "const u = new URL('http://a/?x=1&y=a+b%20c'); return [u.searchParams.get('x'), u.searchParams.get('y')];"],
    [
      "append writes the query back, form-encoded",
      "const u = new URL('http://a/?x=1'); u.searchParams.append('y', '2 3&'); return [u.href, u.search];",
    ],
    [
      "setting search replaces the list",
      "const u = new URL('http://a/?x=1'); u.search = '?z=9'; return [u.searchParams.get('x'), u.searchParams.get('z')];",
    ],
    [
      "deleting the last pair removes the '?'",
      "const u = new URL('http://a/?z=9'); u.searchParams.delete('z'); return [u.href, u.search];",
    ],
    [
      "setting href replaces the list",
      "const u = new URL('http://a/?x=1'); const p = u.searchParams; u.href = 'http://b/?k=v'; return [p === u.searchParams, p.get('k'), p.get('x')];",
    ],
    [
      "sort rewrites the query in the standard's encoding",
      "const u = new URL('http://a/?b=%7E&a=x%20y'); u.searchParams.sort(); return u.href;",
    ],
  ]);
});

test("URL's other members behave as Node's", async (t) => {
  await matchesNode(t, [
    ["toString and toJSON give the href", "const u = new URL('http://a/b?c#d'); return [String(u), u.toJSON(), JSON.stringify({ u })];"],
    ["toStringTag", "return Object.prototype.toString.call(new URL('http://a/'));"],
    ["canParse of an absolute URL", "return URL.canParse('http://a/');"],
    ["canParse of a relative URL", "return URL.canParse('/x');"],
    ["canParse with a base", "return URL.canParse('/x', 'http://a/');"],
    ["canParse with an invalid base", "return URL.canParse('http://a/', 'nope');"],
    ["a URL object as base", "return new URL('c', new URL('http://a/b/')).href;"],
    ["an object with toString as input", "return new URL({ toString: () => 'http://a/x' }).href;"],
    ["no argument is a TypeError", "return new URL();", THROWS],
    ["an invalid URL is a TypeError", "return new URL('http://[');", THROWS],
    ["canParse without an argument is a TypeError", "return URL.canParse();", THROWS],
    ["a symbol is a TypeError", "return new URL(Symbol('x'));", THROWS],
    ["origin is read-only", "const u = new URL('http://a/'); try { u.origin = 'http://b'; } catch {} return u.origin;"],
    ["URL.length", "return URL.length;"],
  ]);
});

test("where Node 20's URL (Ada 2.9) departs from the URL Standard, follows the standard", async (t) => {
  // Each row is the standard's answer, worked through its state machine; Node's differs.
  await matchesExpected(t, [
    // Port state with a state override returns at the first non-digit without a change;
    // Node clears the port.
    ["a port value starting with '+' leaves the port", "const u = new URL('http://h:8/'); u.port = '+80'; return u.href;", { value: "http://h:8/" }],
    // The host state parses "" as an opaque host, the empty host; Node leaves no host.
    ["an empty hostname gives a host-less non-special URL an empty host", "const u = new URL('foo:/a'); u.hostname = ''; return u.href;", { value: "foo:///a" }],
    // Path state: ".." at the end shortens the path, then appends an empty segment; Node drops the "/".
    ["'..' against a non-special URL keeps the root slash", "return new URL('..', 'foo://h/a').href;", { value: "foo://h/" }],
    // No scheme state: a base with an opaque path only accepts a fragment; Node resolves it.
    ["a path against a mailto: base is invalid", "return new URL('x#y', 'mailto:x').href;", { error: "TypeError" }],
    // Host state: ":" with nothing before it is a failure, so nothing changes; Node empties the host.
    ["a host value starting with ':' leaves the host", "const u = new URL('foo://h:1/'); u.host = ':2'; return u.href;", { value: "foo://h:1/" }],
    // Percent-decoding leaves a "%" that is not followed by two hex digits; Node garbles the next character.
    ["a '%' before an emoji in a query string", "return [...new URLSearchParams('%😀')];", { value: [["%😀", ""]] }],
  ]);
});

test("follows the URL Standard's changes of 2025 and 2026, as Node 24 does and Node 20 and 22 do not yet", async (t) => {
  const parts = (input: string, base?: string) =>
    `const u = new URL(${JSON.stringify(input)}${base === undefined ? "" : ", " + JSON.stringify(base)}); return [u.href, u.pathname, u.search, u.hash];`;
  const edit = (url: string, step: string) => `const u = new URL(${JSON.stringify(url)}); ${step}; return [u.href, u.pathname, u.search, u.hash];`;
  await matchesStandard(t, [
    ["'^' in a path is percent-encoded, as '`', '{' and '}' are", parts('http://a/^{}|`"<>'), { value: ["http://a/%5E%7B%7D|%60%22%3C%3E", "/%5E%7B%7D|%60%22%3C%3E", "", ""] }, "caretInPath"],
    ["'^' in a relative path is percent-encoded", parts("^x", "foo:/a/b"), { value: ["foo:/a/%5Ex", "/a/%5Ex", "", ""] }, "caretInPath"],
    ["an opaque path's last space before '?' is encoded, the query's spaces all are", parts("data:text/plain,hi  ?q  #f"), { value: ["data:text/plain,hi %20?q%20%20#f", "text/plain,hi %20", "?q%20%20", "#f"] }, "opaquePathSpace"],
    ["an opaque path's last space before '#' is encoded, the others stay", parts("data:a b  #x"), { value: ["data:a b %20#x", "a b %20", "", "#x"] }, "opaquePathSpace"],
    ["a tab between the space and '?' is removed first, so the space is encoded", parts("foo:x \t?y"), { value: ["foo:x%20?y", "x%20", "?y", ""] }, "opaquePathSpace"],
    ["emptying search leaves an opaque path as it is", edit("data:x  ?q", 'u.search = ""'), { value: ["data:x %20", "x %20", "", ""] }, "opaquePathSpace"],
    ["emptying hash leaves an opaque path as it is", edit("data:x  #h", 'u.hash = ""'), { value: ["data:x %20", "x %20", "", ""] }, "opaquePathSpace"],
    ["deleting the last param leaves an opaque path as it is", edit("data:x  ?q=1", 'u.searchParams.delete("q")'), { value: ["data:x %20", "x %20", "", ""] }, "opaquePathSpace"],
    ["appending a param leaves an opaque path as it is", edit("data:x  ?q", 'u.searchParams.append("a", "b")'), { value: ["data:x %20?q=&a=b", "x %20", "?q=&a=b", ""] }, "opaquePathSpace"],
    [
      "an opaque URL without its query and fragment parses back to itself",
      "const u = new URL('data:x  ?q#f'); u.search = ''; u.hash = ''; return [u.href, new URL(u.href).href];",
      { value: ["data:x %20", "data:x %20"] },
      "opaquePathSpace",
    ],
    ["an ASCII domain with an 'xn--' label that does not decode is kept", parts("http://xn--abc/"), { value: ["http://xn--abc/", "/", "", ""] }, "asciiDomain"],
    ["an ASCII domain whose 'xn--' label decodes to mapped code points is lower-cased", parts("http://XN--8I7CAA.famitei.net/x"), { value: ["http://xn--8i7caa.famitei.net/x", "/x", "", ""] }, "asciiDomain"],
    ["a bare 'xn--' label is kept", parts("http://xn--/"), { value: ["http://xn--/", "/", "", ""] }, "asciiDomain"],
    ["a percent-encoded ASCII domain is decoded, then lower-cased", parts("http://xn--abc%41/"), { value: ["http://xn--abca/", "/", "", ""] }, "asciiDomain"],
  ]);
});

test("Node 24 and later follow each of those changes, so there every generated input is compared with Node", () => {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 24) return;
  for (const change of Object.keys(URL_STANDARD_CHANGES) as Array<keyof typeof URL_STANDARD_CHANGES>) {
    assert.ok(nodeFollows[change], `Node ${process.versions.node}: ${URL_STANDARD_CHANGES[change]}`);
  }
});

test("URLs parsed from the same text are independent: editing one changes no other, nor the next one parsed", async (t) => {
  await matchesNode(t, [
    [
      "setters on one of two",
      "const a = new URL('http://h/p/q?x=1#f'); const b = new URL('http://h/p/q?x=1#f'); a.pathname = '/z'; a.search = '?y'; a.hash = ''; a.host = 'k:81'; const c = new URL('http://h/p/q?x=1#f'); return [a.href, b.href, c.href];",
    ],
    [
      "searchParams of one of two",
      "const a = new URL('http://h/?x=1'); a.searchParams.append('y', '2'); return [a.href, new URL('http://h/?x=1').href, new URL('http://h/?x=1').searchParams.get('y')];",
    ],
    [
      "a base parsed again after a relative resolution",
      "const base = 'http://h/a/b'; const r = new URL('../c', base); const again = new URL(base); again.pathname = '/q'; return [r.href, new URL('d', base).href, again.href];",
    ],
  ]);
});
