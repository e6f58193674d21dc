/**
 * TextEncoder, TextDecoder, atob and btoa inside an isolate behave as Node's do.
 */
import { test } from "node:test";
import { type Case, THROWS, matchesExpected, matchesNode } from "./harness.js";

const encode = (s: string) => `return Array.from(new TextEncoder().encode(${JSON.stringify(s)}));`;
const decode = (bytes: number[], options = "{}") =>
  `return new TextDecoder("utf-8", ${options}).decode(new Uint8Array(${JSON.stringify(bytes)}));`;

test("TextEncoder encodes UTF-8 as Node does, lone surrogates as U+FFFD", async (t) => {
  const cases: Case[] = [
    ["empty string", encode("")],
    ["ASCII", encode("hello")],
    ["two-byte é", encode("é")],
    ["three-byte €", encode("€")],
    ["four-byte emoji (a surrogate pair)", encode("😀")],
    ["a lone high surrogate", encode("a\uD800b")],
    ["a lone low surrogate", encode("\uDC00")],
    ["a low surrogate before a high one", encode("\uDC00\uD800")],
    ["no argument", "return Array.from(new TextEncoder().encode());"],
    ["a number is converted to a string", "return Array.from(new TextEncoder().encode(123));"],
    ["null is the string 'null'", "return Array.from(new TextEncoder().encode(null));"],
    ["encoding is utf-8", "return new TextEncoder().encoding;"],
    ["encode returns a Uint8Array", "return Object.prototype.toString.call(new TextEncoder().encode('x'));"],
  ];
  await matchesNode(t, cases);
});

test("TextEncoder.encodeInto writes whole characters only and counts UTF-16 units read", async (t) => {
  const into = (s: string, size: number) =>
    `const d = new Uint8Array(${size}); const r = new TextEncoder().encodeInto(${JSON.stringify(s)}, d); return [r.read, r.written, Array.from(d)];`;
  await matchesNode(t, [
    ["room for everything", into("a€", 8)],
    ["an emoji that does not fit is not split", into("😀a", 3)],
    ["stops before the first character that does not fit", into("a😀b", 5)],
    ["three-byte characters, room for one", into("€€", 4)],
    ["a lone surrogate writes U+FFFD", into("\uD800", 3)],
    ["an empty destination", into("abc", 0)],
    ["a destination that is not a Uint8Array is a TypeError", "return new TextEncoder().encodeInto('a', new Uint16Array(2));", THROWS],
  ]);
});

test("TextDecoder decodes UTF-8 as Node does, replacing invalid sequences with U+FFFD", async (t) => {
  await matchesNode(t, [
    ["ASCII", decode([104, 105])],
    ["€", decode([0xe2, 0x82, 0xac])],
    ["an emoji", decode([0xf0, 0x9f, 0x98, 0x80])],
    ["a lone 0xFF", decode([0x61, 0xff, 0x62])],
    ["an overlong NUL (C0 80) is two errors", decode([0xc0, 0x80])],
    ["an encoded surrogate (ED A0 80) is three errors", decode([0xed, 0xa0, 0x80])],
    ["a truncated four-byte sequence is one error", decode([0xf0, 0x9f, 0x98])],
    ["a truncated sequence followed by ASCII", decode([0xe2, 0x82, 0x61])],
    ["an overlong four-byte start (F0 80 80) is three errors", decode([0xf0, 0x80, 0x80])],
    ["above U+10FFFF (F4 90 80 80) is four errors", decode([0xf4, 0x90, 0x80, 0x80])],
    ["a stray continuation byte", decode([0x80, 0x61])],
    ["F5 and above never start a sequence", decode([0xf5, 0x80, 0x61])],
    ["U+10FFFF, the last code point", decode([0xf4, 0x8f, 0xbf, 0xbf])],
    ["a leading BOM is dropped", decode([0xef, 0xbb, 0xbf, 0x61])],
    ["only the first BOM is dropped", decode([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf, 0x61])],
    ["a BOM is kept with ignoreBOM", decode([0xef, 0xbb, 0xbf, 0x61], "{ ignoreBOM: true }")],
    ["a BOM in the middle is kept", decode([0x61, 0xef, 0xbb, 0xbf])],
    ["fatal mode accepts valid input", decode([0xe2, 0x82, 0xac], "{ fatal: true }")],
    ["fatal mode throws a TypeError on an invalid byte", decode([0x61, 0xff], "{ fatal: true }"), THROWS],
    ["fatal mode throws on a truncated sequence at the end", decode([0xe2, 0x82], "{ fatal: true }"), THROWS],
    [
      "a fatal decoder can be used again after it threw",
      `const d = new TextDecoder("utf-8", { fatal: true });
       try { d.decode(new Uint8Array([0xff])); } catch {}
       return d.decode(new Uint8Array([0x61]));`,
    ],
    ["fatal and ignoreBOM are reported", `const d = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }); return [d.encoding, d.fatal, d.ignoreBOM];`],
    ["defaults", `const d = new TextDecoder(); return [d.encoding, d.fatal, d.ignoreBOM];`],
    ["a 100 kB mixed text round-trips", `const s = "aé€😀".repeat(10000); return new TextDecoder().decode(new TextEncoder().encode(s)) === s;`],
    [
      "a long invalid run",
      `return new TextDecoder().decode(new Uint8Array(20000).fill(0xff)).length;`,
    ],
  ]);
});

test("TextDecoder accepts ArrayBuffer, DataView and typed-array views at an offset", async (t) => {
  await matchesNode(t, [
    ["no input", "return new TextDecoder().decode();"],
    ["an ArrayBuffer", "return new TextDecoder().decode(new Uint8Array([104, 105]).buffer);"],
    ["a DataView at an offset", "const b = new Uint8Array([0, 104, 105, 0]).buffer; return new TextDecoder().decode(new DataView(b, 1, 2));"],
    ["a subarray", "return new TextDecoder().decode(new Uint8Array([0, 0xe2, 0x82, 0xac, 0]).subarray(1, 4));"],
    ["a Uint16Array is read as its bytes", "return new TextDecoder().decode(new Uint16Array([0x6968]));"],
    ["a string is a TypeError", "return new TextDecoder().decode('abc');", THROWS],
    ["null is a TypeError", "return new TextDecoder().decode(null);", THROWS],
  ]);
});

test("TextDecoder knows the UTF-8 labels and refuses others with a RangeError", async (t) => {
  await matchesNode(t, [
    ["upper case", "return new TextDecoder('UTF-8').encoding;"],
    ["utf8", "return new TextDecoder('utf8').encoding;"],
    ["surrounding whitespace", "return new TextDecoder(' utf-8\\n').encoding;"],
    ["unicode-1-1-utf-8", "return new TextDecoder('unicode-1-1-utf-8').encoding;"],
    ["an unknown label", "return new TextDecoder('no-such-encoding');", THROWS],
    ["an options argument that is not an object", "return new TextDecoder('utf-8', 1);", THROWS],
  ]);
});

test("TextDecoder streams: a character split across calls is held back", async (t) => {
  await matchesNode(t, [
    [
      "an emoji in two chunks",
      `const d = new TextDecoder();
       return [d.decode(new Uint8Array([0xf0, 0x9f]), { stream: true }), d.decode(new Uint8Array([0x98, 0x80]))];`,
    ],
    [
      "the final call reports what is still open",
      `const d = new TextDecoder();
       return [d.decode(new Uint8Array([0x61, 0xe2, 0x82]), { stream: true }), d.decode()];`,
    ],
    [
      "a BOM split across chunks is still dropped",
      `const d = new TextDecoder();
       return [d.decode(new Uint8Array([0xef]), { stream: true }), d.decode(new Uint8Array([0xbb, 0xbf, 0x61]), { stream: true }), d.decode()];`,
    ],
    [
      "each stream starts afresh: the BOM of the second is dropped too",
      `const d = new TextDecoder();
       const a = d.decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]));
       return [a, d.decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x62]))];`,
    ],
    [
      "every byte in its own chunk",
      `const d = new TextDecoder(); const bytes = new TextEncoder().encode("a€😀é"); let s = "";
       for (const b of bytes) s += d.decode(new Uint8Array([b]), { stream: true });
       return s + d.decode();`,
    ],
  ]);
});

test("btoa and atob follow HTML's forgiving base64, as Node does", async (t) => {
  await matchesNode(t, [
    ["btoa of nothing", "return btoa('');"],
    ["btoa with two padding characters", "return btoa('a');"],
    ["btoa with one padding character", "return btoa('ab');"],
    ["btoa without padding", "return btoa('abc');"],
    ["btoa of every byte", "let s = ''; for (let i = 0; i < 256; i++) s += String.fromCharCode(i); return btoa(s);"],
    ["btoa of a character above U+00FF", "return btoa('€');", THROWS],
    ["btoa's error is a DOMException with code 5", "try { btoa('€'); } catch (e) { return [e instanceof DOMException, e.name, e.code]; }"],
    ["btoa without an argument", "return btoa();", THROWS],
    ["atob with padding", "return atob('YWJj');"],
    ["atob without padding", "return atob('YQ');"],
    ["atob ignores ASCII whitespace", "return atob(' Y W\\nJ j\\t');"],
    ["atob with one padding character", "return atob('YWI=');"],
    ["atob with padding in the wrong place", "return atob('YQ=');", THROWS],
    ["atob with too much padding", "return atob('YQ===');", THROWS],
    ["atob of a length that leaves one character", "return atob('YWJjZ');", THROWS],
    ["atob of a character outside the alphabet", "return atob('YW-j');", THROWS],
    ["atob of URL-safe base64", "return atob('_w');", THROWS],
    ["atob of the string 'null'", "return atob(null);"],
    ["atob of undefined (the string 'undefined')", "return atob(undefined);", THROWS],
    ["atob reverses btoa for every byte", "let s = ''; for (let i = 0; i < 256; i++) s += String.fromCharCode(i); return atob(btoa(s)) === s;"],
  ]);
});

test("TextDecoder refuses a label Node's ICU build would accept: only UTF-8 exists here", async (t) => {
  await matchesExpected(t, [
    ["latin1", "return new TextDecoder('latin1');", { error: "RangeError" }],
    ["utf-16le", "return new TextDecoder('utf-16le');", { error: "RangeError" }],
  ]);
});
