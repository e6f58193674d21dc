/**
 * Request and Response inside an isolate construct, validate and give up their bodies as
 * Node's (undici's) do; where no stream exists here, they say so with a TypeError.
 */
import { test } from "node:test";
import { THROWS, matchesExpected, matchesNode } from "./harness.js";

const describeRequest =
  "[r.method, r.url, [...r.headers], r.destination, r.referrer, r.referrerPolicy, r.mode, r.credentials, r.cache, r.redirect, r.integrity, r.keepalive, r.bodyUsed, r.body === null]";

test("Request normalizes its method and URL and keeps its options, as Node does", async (t) => {
  const request = (args: string) => `const r = new Request(${args}); return ${describeRequest};`;
  await matchesNode(t, [
    ["defaults", request("'http://example.com'")],
    ["the URL is parsed and serialized, fragment kept", request("'HTTP://Example.COM:80/a/../b c?q#frag'")],
    ["a URL object", request("new URL('https://a/x')")],
    ["standard methods are upper-cased", "return ['get', 'Post', 'put', 'delete', 'options', 'head'].map((m) => new Request('http://a', { method: m }).method);"],
    ["other methods keep their case", "return new Request('http://a', { method: 'PropFind' }).method;"],
    ["options are echoed", request("'http://a', { mode: 'same-origin', credentials: 'include', cache: 'no-store', redirect: 'manual', referrerPolicy: 'no-referrer', integrity: 'sha256-x', keepalive: true, referrer: '' }")],
    ["a referrer URL is parsed", request("'http://a', { referrer: 'http://b/../c' }")],
    ["headers from a record", request("'http://a', { headers: { 'X-A': '1' } }")],
    ["a Request as input copies it", "const a = new Request('http://a', { method: 'PUT', headers: { x: '1' }, redirect: 'manual' }); const r = new Request(a); return " + describeRequest + ";"],
    ["init overrides a Request input", "const a = new Request('http://a', { method: 'PUT', headers: { x: '1' } }); const r = new Request(a, { method: 'POST', headers: { y: '2' } }); return " + describeRequest + ";"],
    ["a relative URL is a TypeError (no base in an isolate)", request("'/path'"), THROWS],
    ["a URL with credentials is a TypeError", request("'http://u:p@a/'"), THROWS],
    ["an invalid method is a TypeError", request("'http://a', { method: 'GE T' }"), THROWS],
    ["CONNECT is a TypeError", request("'http://a', { method: 'connect' }"), THROWS],
    ["TRACE is a TypeError", request("'http://a', { method: 'TRACE' }"), THROWS],
    ["mode navigate is a TypeError", request("'http://a', { mode: 'navigate' }"), THROWS],
    ["an unknown redirect value is a TypeError", request("'http://a', { redirect: 'sometimes' }"), THROWS],
    ["only-if-cached without same-origin is a TypeError", request("'http://a', { cache: 'only-if-cached' }"), THROWS],
    ["an invalid header is a TypeError", request("'http://a', { headers: { 'a b': '1' } }"), THROWS],
    ["null headers are a TypeError", request("'http://a', { headers: null }"), THROWS],
    ["no argument is a TypeError", "return new Request();", THROWS],
  ]);
});

test("Request refuses a body on GET and HEAD with a TypeError, as Node does", async (t) => {
  await matchesNode(t, [
    ["GET with a body", "return new Request('http://a', { body: 'x' });", THROWS],
    ["HEAD with a body", "return new Request('http://a', { method: 'HEAD', body: 'x' });", THROWS],
    ["GET with an empty string body", "return new Request('http://a', { method: 'get', body: '' });", THROWS],
    ["GET with a null body is fine", "return new Request('http://a', { body: null }).method;"],
    ["GET from a POST request that has a body", "const p = new Request('http://a', { method: 'POST', body: 'x' }); return new Request(p, { method: 'GET' });", THROWS],
  ]);
});

const post = (body: string, extra = "") => `new Request('http://a', { method: 'POST', body: ${body}${extra} })`;

test("Request bodies of every supported type read back with the Content-Type Node sets", async (t) => {
  const read = (body: string, extra = "") =>
    `const r = ${post(body, extra)}; return [r.headers.get('content-type'), Array.from(new Uint8Array(await r.arrayBuffer())), r.bodyUsed];`;
  await matchesNode(t, [
    ["a string", read("'héllo 😀'")],
    ["a Uint8Array", read("new Uint8Array([1, 2, 255])")],
    ["a Uint8Array view at an offset", read("new Uint8Array([0, 1, 2, 3]).subarray(1, 3)")],
    ["an ArrayBuffer", read("new Uint8Array([4, 5]).buffer")],
    ["a DataView", read("new DataView(new Uint8Array([6, 7, 8]).buffer, 1)")],
    ["URLSearchParams", read("new URLSearchParams({ a: 'b c', d: 'é' })")],
    ["an explicit Content-Type is kept", read("'{}'", ", headers: { 'Content-Type': 'application/json' }")],
    ["a number is its string", read("42")],
    ["text()", `return await ${post("'héllo'")}.text();`],
    ["json()", `return await ${post("'{\"a\":[1,\"é\"]}'")}.json();`],
    ["json() of invalid JSON is a SyntaxError", `return await ${post("'{'")}.json();`, THROWS],
    ["bytes are copied at construction", "const b = new Uint8Array([1]); const r = " + post("b") + "; b[0] = 9; return Array.from(new Uint8Array(await r.arrayBuffer()));"],
  ]);
});

test("a body can be read once: reading it again is a TypeError, as in Node", async (t) => {
  await matchesNode(t, [
    ["text twice", `const r = ${post("'x'")}; await r.text(); return await r.text();`, THROWS],
    ["json after arrayBuffer", `const r = new Response('1'); await r.arrayBuffer(); return await r.json();`, THROWS],
    ["bodyUsed before and after", `const r = new Response('x'); const before = r.bodyUsed; await r.text(); return [before, r.bodyUsed];`],
    ["a null body reads as empty, as often as asked, and is never used", "const r = new Response(null); return [await r.text(), await r.text(), r.bodyUsed];"],
    ["a Request without a body", "const r = new Request('http://a'); return [await r.text(), r.bodyUsed];"],
    ["clone then read both", "const r = new Response('x'); const c = r.clone(); return [await r.text(), await c.text()];"],
    ["clone after reading", "const r = new Response('x'); await r.text(); return r.clone();", THROWS],
    ["a Request clone keeps method, headers and body", `const r = ${post("'x'", ", headers: { a: '1' }")}; const c = r.clone(); return [c.method, c.url, [...c.headers], await c.text(), await r.text()];`],
    ["a clone's headers are a copy", "const r = new Response('x', { headers: { a: '1' } }); const c = r.clone(); c.headers.set('a', '2'); return [r.headers.get('a'), c.headers.get('a')];"],
    ["new Request(request) takes the body over", `const a = ${post("'x'")}; const b = new Request(a); return [await b.text(), a.bodyUsed];`],
    ["new Request(request) of a used body", `const a = ${post("'x'")}; await a.text(); return new Request(a);`, THROWS],
    ["new Response(response.body, response) copies a response", "const a = new Response('hello', { status: 201, headers: { x: '1' } }); const b = new Response(a.body, a); return [b.status, b.headers.get('x'), await b.text(), a.bodyUsed];"],
    ["text() strips a UTF-8 BOM", "return await new Response(new Uint8Array([0xef, 0xbb, 0xbf, 0x61])).text();"],
    ["text() replaces invalid UTF-8", "return await new Response(new Uint8Array([0x61, 0xff, 0xe2, 0x82])).text();"],
  ]);
});

const describeResponse = "[r.type, r.url, r.redirected, r.status, r.ok, r.statusText, [...r.headers], r.bodyUsed, r.body === null]";

test("Response validates status, status text and body, as Node does", async (t) => {
  const response = (args: string) => `const r = new Response(${args}); return ${describeResponse};`;
  await matchesNode(t, [
    ["defaults", response("")],
    ["a string body", response("'x'")],
    ["status 201 with a status text", response("'x', { status: 201, statusText: 'Created' }")],
    ["status 299 is ok", response("null, { status: 299 }")],
    ["status 300 is not ok", response("null, { status: 300 }")],
    ["status 599", response("null, { status: 599 }")],
    ["status as a string", response("null, { status: '404' }")],
    ["status 204 without a body", response("null, { status: 204 }")],
    ["headers from pairs", response("'x', { headers: [['X-A', '1'], ['x-a', '2']] }")],
    ["an explicit Content-Type", response("'x', { headers: { 'content-type': 'text/html' } }")],
    ["status 199 is a RangeError", response("null, { status: 199 }"), THROWS],
    ["status 600 is a RangeError", response("null, { status: 600 }"), THROWS],
    ["status 0 is a RangeError", response("null, { status: 0 }"), THROWS],
    ["a non-numeric status is a RangeError", response("null, { status: 'abc' }"), THROWS],
    ["status 204 with a body is a TypeError", response("'x', { status: 204 }"), THROWS],
    ["status 304 with an empty body is a TypeError", response("'', { status: 304 }"), THROWS],
    ["a status text with LF is a TypeError", response("null, { statusText: 'a\\nb' }"), THROWS],
    ["a status text above U+00FF is a TypeError", response("null, { statusText: '€' }"), THROWS],
    ["the error's type for a bad status", "try { new Response(null, { status: 600 }); } catch (e) { return e instanceof RangeError; }"],
    ["toStringTag", "return [Object.prototype.toString.call(new Response()), Object.prototype.toString.call(new Request('http://a'))];"],
  ]);
});

test("Response.json, Response.redirect and Response.error behave as Node's", async (t) => {
  const described = (expr: string) => `const r = ${expr}; return [${describeResponse.slice(1, -1)}, await r.text()];`;
  await matchesNode(t, [
    ["json of an object", described("Response.json({ a: [1, 'é'], b: null })")],
    ["json of a string", described("Response.json('x')")],
    ["json with status and headers", described("Response.json([1], { status: 201, headers: { 'x-a': '1' } })")],
    ["json keeps an explicit Content-Type", described("Response.json(1, { headers: { 'content-type': 'application/ld+json' } })")],
    ["json of undefined is a TypeError", described("Response.json(undefined)"), THROWS],
    ["json of a BigInt is a TypeError", described("Response.json(1n)"), THROWS],
    ["json of a cycle is a TypeError", described("Response.json((() => { const o = {}; o.o = o; return o; })())"), THROWS],
    ["json with status 204 is a TypeError", described("Response.json(1, { status: 204 })"), THROWS],
    ["redirect defaults to 302", described("Response.redirect('http://a/b c')")],
    ["redirect with 301", described("Response.redirect('https://a/', 301)")],
    ["redirect with 308", described("Response.redirect(new URL('https://a/x'), 308)")],
    ["redirect with 200 is a RangeError", described("Response.redirect('http://a/', 200)"), THROWS],
    ["redirect to a relative URL is a TypeError", described("Response.redirect('/x')"), THROWS],
    ["a redirect's headers are immutable", "Response.redirect('http://a/').headers.set('x', '1'); return 1;", THROWS],
    ["error()", described("Response.error()")],
    ["error()'s headers are immutable", "Response.error().headers.append('x', '1'); return 1;", THROWS],
    ["a clone of error() keeps its type and immutability", "const c = Response.error().clone(); let threw = false; try { c.headers.set('a', 'b'); } catch { threw = true; } return [c.type, c.status, threw];"],
  ]);
});

test("without streams, a body's stream and blob()/formData() fail with a TypeError that says so", async (t) => {
  const message = (expr: string) =>
    `try { ${expr}; return 'no error'; } catch (e) { return [e.name, /not (available|supported)/.test(e.message)]; }`;
  await matchesExpected(t, [
    ["body is null without a body", "return [new Response().body, new Request('http://a').body];", { value: [null, null] }],
    ["body is the same object every time", "const r = new Response('x'); return r.body === r.body;", { value: true }],
    ["body.locked follows bodyUsed", "const r = new Response('x'); const a = r.body.locked; await r.text(); return [a, r.body.locked];", { value: [false, true] }],
    ["body.getReader()", message("new Response('x').body.getReader()"), { value: ["TypeError", true] }],
    ["for await over a body", "try { for await (const c of new Response('x').body) {} return 'no error'; } catch (e) { return e.name; }", { value: "TypeError" }],
    ["a ReadableStream-like body", message("new Response({ getReader() {} })"), { value: ["TypeError", true] }],
    ["an async iterable body", message("new Response({ async *[Symbol.asyncIterator]() {} })"), { value: ["TypeError", true] }],
    ["blob() rejects", "try { await new Response('x').blob(); return 'no error'; } catch (e) { return e.name; }", { value: "TypeError" }],
    ["formData() rejects", "try { await new Request('http://a', { method: 'POST', body: 'a=1' }).formData(); return 'no error'; } catch (e) { return e.name; }", { value: "TypeError" }],
    ["a body handed to another Response is used up", "const a = new Response('x'); new Response(a.body); return [a.bodyUsed, await a.text().catch((e) => e.name)];", { value: [true, "TypeError"] }],
    ["bytes() reads a Uint8Array", "return Array.from(await new Response('hi').bytes());", { value: [104, 105] }],
    ["lower-case patch stays lower-case", "return new Request('http://a', { method: 'patch' }).method;", { value: "patch" }],
  ]);
});
