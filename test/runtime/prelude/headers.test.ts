/**
 * Headers inside an isolate combines, validates and iterates as Node's (undici's) does.
 */
import { test } from "node:test";
import { THROWS, matchesNode } from "./harness.js";

test("combines values of one name with ', ' and ignores the case of names, as Node does", async (t) => {
  await matchesNode(t, [
    ["append combines", "const h = new Headers(); h.append('Accept', 'a'); h.append('accept', 'b'); return [h.get('ACCEPT'), [...h]];"],
    ["set replaces every value", "const h = new Headers([['a', '1'], ['A', '2']]); h.set('a', '3'); return [...h];"],
    ["delete removes every value", "const h = new Headers([['a', '1'], ['A', '2'], ['b', '3']]); h.delete('A'); return [...h];"],
    ["has and get of a missing name", "const h = new Headers({ a: '1' }); return [h.has('A'), h.has('b'), h.get('b')];"],
    ["an empty value is kept", "const h = new Headers({ a: '' }); return [h.has('a'), h.get('a'), [...h]];"],
    ["empty values combine", "const h = new Headers(); h.append('a', ''); h.append('a', ''); return h.get('a');"],
  ]);
});

test("keeps Set-Cookie values apart, as Node does", async (t) => {
  const h = "const h = new Headers(); h.append('Set-Cookie', 'a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT'); h.append('set-cookie', 'b=2'); h.append('x', '1');";
  await matchesNode(t, [
    ["getSetCookie lists each value", `${h} return h.getSetCookie();`],
    ["get still combines them", `${h} return h.get('set-cookie');`],
    ["iteration yields one entry per cookie", `${h} return [...h];`],
    ["getSetCookie without cookies", "return new Headers({ a: '1' }).getSetCookie();"],
  ]);
});

test("iterates sorted by lower-case name, as Node does", async (t) => {
  await matchesNode(t, [
    ["sorted", "return [...new Headers([['Zeta', '1'], ['alpha', '2'], ['Beta', '3'], ['alpha', '4']])];"],
    ["keys and values", "const h = new Headers({ B: '1', a: '2' }); return [[...h.keys()], [...h.values()]];"],
    ["forEach passes value, name, headers", "const h = new Headers({ B: '1', a: '2' }); const seen = []; h.forEach((v, n, o) => seen.push([v, n, o === h])); return seen;"],
    ["the iterator's toStringTag", "return Object.prototype.toString.call(new Headers().entries());"],
    ["toStringTag", "return Object.prototype.toString.call(new Headers());"],
  ]);
});

test("normalizes values and rejects invalid names and values with a TypeError, as Node does", async (t) => {
  await matchesNode(t, [
    ["surrounding spaces and tabs are stripped", "return new Headers({ a: ' \\t x y \\t ' }).get('a');"],
    ["surrounding CR and LF are stripped", "return new Headers({ a: '\\r\\nx\\r\\n' }).get('a');"],
    ["obs-text (bytes 0x80-0xFF) is allowed", "return new Headers({ a: '\\u00e9' }).get('a');"],
    ["every token character is a valid name", "return new Headers({ \"!#$%&'*+-.^_`|~09azAZ\": '1' }).has(\"!#$%&'*+-.^_`|~09azAZ\");"],
    ["a name with a space", "new Headers({ 'a b': '1' }); return 1;", THROWS],
    ["an empty name", "new Headers({ '': '1' }); return 1;", THROWS],
    ["a name with a colon", "new Headers().append('a:', '1'); return 1;", THROWS],
    ["a non-ASCII name", "new Headers().append('é', '1'); return 1;", THROWS],
    ["a value with LF inside", "new Headers().append('a', 'x\\ny'); return 1;", THROWS],
    ["a value with CR inside", "new Headers().set('a', 'x\\ry'); return 1;", THROWS],
    ["a value with NUL", "new Headers().append('a', 'x\\u0000y'); return 1;", THROWS],
    ["a value above U+00FF", "new Headers().append('a', '€'); return 1;", THROWS],
    ["get with an invalid name", "new Headers().get('a b'); return 1;", THROWS],
    ["has with an invalid name", "new Headers().has('a b'); return 1;", THROWS],
    ["delete with an invalid name", "new Headers().delete('a b'); return 1;", THROWS],
    ["append without a value", "new Headers().append('a'); return 1;", THROWS],
  ]);
});

test("constructs from a record, pairs, a Map or another Headers, and rejects other inits, as Node does", async (t) => {
  await matchesNode(t, [
    ["a record", "return [...new Headers({ a: '1', B: 2 })];"],
    ["pairs", "return [...new Headers([['a', '1'], ['a', '2']])];"],
    ["a Map", "return [...new Headers(new Map([['a', '1']]))];"],
    ["another Headers, Set-Cookie kept apart", "const h = new Headers([['set-cookie', 'a'], ['set-cookie', 'b']]); return new Headers(h).getSetCookie();"],
    ["undefined", "return [...new Headers(undefined)];"],
    ["a pair of one item", "new Headers([['a']]); return 1;", THROWS],
    ["a pair of three items", "new Headers([['a', '1', '2']]); return 1;", THROWS],
    ["a string", "new Headers('a: 1'); return 1;", THROWS],
    ["a number", "new Headers(1); return 1;", THROWS],
    ["null", "new Headers(null); return 1;", THROWS],
  ]);
});
