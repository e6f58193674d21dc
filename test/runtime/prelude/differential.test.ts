/**
 * Generated inputs, thousands at a time, through the prelude and through Node: every
 * outcome must match. The tables in the other files state the cases worth naming; this
 * file looks for the ones nobody thought of. Seeds are fixed so a failure reproduces; each
 * failure prints the input that differs.
 *
 * Generators avoid the few places where Node 20 departs from the standards (listed with
 * the standard's answers in url.test.ts): port values that start with a non-digit, host
 * values that start with ":", host-less non-special URLs, a "%" right before a non-ASCII
 * character in a query, and opaque paths with trailing spaces edited through searchParams.
 * On a Node that predates one of the standard's recent changes (Node 20 and 22, see
 * url-standard.ts) they also leave out the inputs that could meet it; on Node 24 and later
 * they leave out nothing for them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { inNode, withIsolate } from "./harness.js";
import { meetsChangeNodeLacks } from "./url-standard.js";

const SEED = 20240601;
const RUNS = 1000;

/**
 * Applies `check` (the source of a one-argument function) to every input on both sides, in
 * one call each, and lists the inputs whose outcomes differ.
 */
async function differences(check: string, inputs: readonly unknown[]): Promise<string[]> {
  const batch = `const check = ${check};
    return ${JSON.stringify(inputs)}.map((input) => {
      try { return { value: check(input) }; } catch (e) { return { error: e.name }; }
    });`;
  const expected = await inNode(batch);
  let actual: unknown;
  await withIsolate(async (isolate) => {
    actual = await isolate.run(batch);
  });
  assert.ok("value" in expected && Array.isArray(expected.value), `the batch runs in Node: ${JSON.stringify(expected)}`);
  assert.ok(typeof actual === "object" && actual !== null && "value" in actual && Array.isArray(actual.value), `the batch runs in the isolate: ${JSON.stringify(actual)}`);
  const expectedValues: unknown[] = expected.value;
  const actualValues = actual.value as unknown[];
  const found: string[] = [];
  inputs.forEach((input, i) => {
    const a = JSON.stringify(actualValues[i]);
    const e = JSON.stringify(expectedValues[i]);
    if (a !== e) found.push(`input ${JSON.stringify(input)}\n  isolate: ${a}\n  node:    ${e}`);
  });
  return found;
}

function sample<T>(arbitrary: fc.Arbitrary<T>, runs = RUNS): T[] {
  return fc.sample(arbitrary, { numRuns: runs, seed: SEED });
}

const URL_PIECES = [
  ..."aZ09:/?#[]@!$&'()*+,;=%. -_~\\|^`{}<>\"\té😀1ÄßĲ\u3002\uFF0E\u200dａ\u0301\u00ad".split(/(?:)/u),
  "%2e", "%2E", "..", "http:", "https://", "file:", "//", "[::1]", "0x", ":80", "xn--", "@",
];
const urlText = fc.array(fc.constantFrom(...URL_PIECES), { maxLength: 14 }).map((pieces) => pieces.join(""));
const COMPONENTS = "[u.href, u.origin, u.protocol, u.username, u.password, u.host, u.hostname, u.port, u.pathname, u.search, u.hash, [...u.searchParams]]";

test("new URL(input, base) matches Node for generated inputs and bases", async () => {
  const bases = [undefined, "http://u:p@h:8/a/b?q#f", "file:///C:/x/y", "foo:/a/b", "foo://h/a/b/c", "https://h/"];
  const inputs = sample(fc.tuple(urlText.filter((text) => !meetsChangeNodeLacks(text)), fc.constantFrom(...bases), fc.boolean()), RUNS * 2).map(
    ([text, base, absolute]) => [(absolute ? "http://" : "") + text, base],
  );
  const check = `([input, base]) => { const u = base === undefined ? new URL(input) : new URL(input, base); return ${COMPONENTS}; }`;
  assert.deepEqual(await differences(check, inputs), []);
});

// A port that starts with a non-digit, set through port or host, leaves the port as it was;
// Node 20 and 22 clear it (url.test.ts lists the case), Node 24 and later keep it.
const nodeKeepsPort = ((u) => ((u.port = "+80"), u.port === "8"))(new URL("http://h:8/"));

test("URL setters match Node for generated values", async () => {
  const urls = ["http://u:p@h:8/a/b?q#f", "https://h/", "file:///C:/x", "file://host/x", "foo://h/a", "mailto:x", "data:x  ?q#f", "ws://h:80/", "foo://u@h:1/"];
  const setters = ["protocol", "username", "password", "host", "hostname", "pathname", "search", "hash", "href"];
  const portValue = fc.tuple(fc.integer({ min: 0, max: 99999 }), urlText).map(([port, rest]) => `${port}${rest}`);
  const edit = fc
    .oneof(
      fc
        .tuple(fc.constantFrom(...urls), fc.constantFrom(...setters), urlText)
        .filter(([, setter, value]) => !(setter.startsWith("host") && (value.startsWith(":") || (!nodeKeepsPort && /:[^0-9]/.test(value))))),
      fc.tuple(fc.constantFrom(...urls), fc.constant("port"), portValue),
    )
    .filter(([url, , value]) => !meetsChangeNodeLacks(url) && !meetsChangeNodeLacks(value));
  const check = `([url, setter, value]) => { const u = new URL(url); try { u[setter] = value; } catch (e) { return e.name; } return ${COMPONENTS}; }`;
  assert.deepEqual(await differences(check, sample(edit, RUNS * 2)), []);
});

test("URLSearchParams parses and serializes as Node does", async () => {
  const query = fc.array(fc.constantFrom(..."aZ09=&+%. -_~*!'()/?#[]@\\\"<>", "%20", "%2B", "%zz", "%C3%A9", "%FF"), { maxLength: 10 }).map((p) => p.join(""));
  const check = "(query) => { const p = new URLSearchParams(query); p.sort(); return [[...p], p.toString(), p.size]; }";
  assert.deepEqual(await differences(check, sample(query)), []);
});

test("URLSearchParams writes back to its URL as Node does", async () => {
  const text = fc.array(fc.constantFrom(...URL_PIECES), { maxLength: 8 }).map((p) => p.join(""));
  const inputs = sample(fc.tuple(fc.constantFrom("http://h/?a=1", "foo:x?b", "data:x?q"), text, text));
  const check = "([url, name, value]) => { const u = new URL(url); u.searchParams.append(name, value); u.searchParams.sort(); return [u.href, [...u.searchParams]]; }";
  assert.deepEqual(await differences(check, inputs), []);
});

test("TextDecoder matches Node on generated bytes, split anywhere, fatal or not", async () => {
  const interesting = fc.constantFrom(0xef, 0xbb, 0xbf, 0x80, 0xbf, 0xc2, 0xdf, 0xe0, 0xed, 0xf0, 0xf4, 0x9f, 0xa0, 0x8f, 0x90);
  const bytes = fc.array(fc.oneof(fc.integer({ min: 0, max: 255 }), interesting), { maxLength: 12 });
  const check = `([bytes, fatal, ignoreBOM, split]) => {
    const d = new TextDecoder("utf-8", { fatal, ignoreBOM });
    const a = new Uint8Array(bytes);
    return d.decode(a.subarray(0, split), { stream: true }) + "|" + d.decode(a.subarray(split));
  }`;
  assert.deepEqual(await differences(check, sample(fc.tuple(bytes, fc.boolean(), fc.boolean(), fc.nat(12)), RUNS * 2)), []);
});

test("TextEncoder, btoa and atob match Node on generated strings", async () => {
  const binary = fc.stringOf(fc.integer({ min: 0, max: 255 }).map((code) => String.fromCharCode(code)), { maxLength: 12 });
  const base64ish = fc.stringOf(fc.constantFrom(..."AQZaz09+/= \t\n-_%é"), { maxLength: 12 });
  assert.deepEqual(await differences("(s) => [btoa(s), Array.from(new TextEncoder().encode(s))]", sample(binary)), []);
  assert.deepEqual(await differences("(s) => atob(s)", sample(base64ish)), []);
  assert.deepEqual(await differences("(s) => Array.from(new TextEncoder().encode(s))", sample(fc.fullUnicodeString({ maxLength: 8 }))), []);
});

test("Headers matches Node over generated sequences of append, set and delete", async () => {
  const name = fc.stringOf(fc.constantFrom(..."aB-_: é\t!(\n", "set-cookie"), { maxLength: 4 });
  const value = fc.stringOf(fc.constantFrom(..."a ,\t\r\n\u0000é€;="), { maxLength: 5 });
  const operations = fc.array(fc.tuple(fc.constantFrom("append", "set", "delete"), name, value), { maxLength: 6 });
  const check = `(ops) => {
    const h = new Headers();
    for (const [op, n, v] of ops) {
      try { op === "delete" ? h.delete(n) : h[op](n, v); } catch (e) { return e.name + " in " + op; }
    }
    return [[...h], h.getSetCookie(), h.get("a")];
  }`;
  assert.deepEqual(await differences(check, sample(operations)), []);
});
