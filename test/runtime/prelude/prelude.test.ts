/**
 * The prelude as a whole: it builds into one script that runs in a bare isolate, installs
 * its globals the way browsers shape them, and depends on nothing but ECMAScript.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { ivm } from "../../../runtime/host/ivm.js";
import { THROWS, matchesExpected, matchesNode } from "./harness.js";

const PRELUDE_DIR = new URL("../../../runtime/prelude/", import.meta.url);
const INTERFACES = ["DOMException", "Headers", "Request", "Response", "TextDecoder", "TextEncoder", "URL", "URLSearchParams"];
const GLOBALS = [...INTERFACES, "atob", "btoa"];

test("a bare isolate lacks every global the prelude provides", async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  try {
    const context = await isolate.createContext();
    const types = await context.eval(`JSON.stringify(${JSON.stringify(GLOBALS)}.map((name) => typeof globalThis[name]))`, { copy: true });
    assert.deepEqual(JSON.parse(types as string), GLOBALS.map(() => "undefined"));
  } finally {
    isolate.dispose();
  }
});

test("installs its globals non-enumerable, writable and configurable, and adds nothing enumerable", async (t) => {
  const descriptor = (name: string) =>
    `const d = Object.getOwnPropertyDescriptor(globalThis, ${JSON.stringify(name)}); return [typeof d.value, d.enumerable, d.writable, d.configurable];`;
  await matchesExpected(t, [
    ...GLOBALS.map((name) => [name, descriptor(name), { value: ["function", false, true, true] }] as const),
    ["no enumerable global", "return Object.keys(globalThis);", { value: [] }],
    ["the prelude's helpers stay out of reach", "return ['BodyState', 'BodyStream', 'Utf8Decoder', 'basicParse', 'parseHost'].filter((n) => n in globalThis);", { value: [] }],
  ]);
});

test("each interface has Node's name, length, toStringTag and enumerable prototype members", async (t) => {
  const shape = (name: string, omit: string[] = []) =>
    `return [${name}.name, ${name}.length, Object.prototype.toString.call(${name}.prototype),
      Object.keys(${name}.prototype).filter((k) => !${JSON.stringify(omit)}.includes(k)).sort()];`;
  await matchesNode(t, [
    ...INTERFACES.filter((name) => name !== "Request" && name !== "Response" && name !== "DOMException").map((name) => [name, shape(name)] as const),
    // Node's Request also has `signal` (no AbortSignal here) and a stray `attribute` (an undici bug).
    // From Node 26 on, both have `textStream()` (Fetch Standard, 2026), which returns a
    // ReadableStream: modules have none (body.ts), so they have no textStream either.
    ["Request", shape("Request", ["signal", "attribute", "textStream"])],
    ["Response", shape("Response", ["textStream"])],
    ["DOMException", `return [DOMException.name, DOMException.length, Object.keys(DOMException.prototype).sort(), DOMException.ABORT_ERR];`],
    ["atob and btoa", "return [atob.name, atob.length, btoa.name, btoa.length];"],
    // createObjectURL and revokeObjectURL need Blob, which does not exist here.
    ...INTERFACES.map((name) => [`${name}'s static members`, `return Object.keys(${name}).filter((k) => !k.endsWith("ObjectURL")).sort();`] as const),
  ]);
});

test("DOMException behaves as Node's", async (t) => {
  await matchesNode(t, [
    ["name, message and code", "const e = new DOMException('m', 'AbortError'); return [e.name, e.message, e.code, e instanceof Error, String(e)];"],
    ["defaults", "const e = new DOMException(); return [e.name, e.message, e.code];"],
    ["an unknown name has code 0", "return new DOMException('m', 'Custom').code;"],
    ["no own enumerable properties", "return Object.keys(new DOMException('m', 'SyntaxError'));"],
    ["its stack starts with name and message", "return new DOMException('m', 'AbortError').stack.split('\\n')[0];"],
    ["thrown and caught as an Error", "try { throw new DOMException('m', 'TimeoutError'); } catch (e) { return [e instanceof DOMException, e.code === DOMException.TIMEOUT_ERR]; }"],
    ["its name is read-only", "const e = new DOMException('m', 'AbortError'); try { e.name = 'x'; } catch {} return e.name;"],
    ["calling it without new", "return DOMException('m');", THROWS],
  ]);
});

test("the prelude's sources import nothing but each other", () => {
  const problems: string[] = [];
  for (const file of readdirSync(PRELUDE_DIR).filter((name) => name.endsWith(".ts"))) {
    const text = readFileSync(new URL(file, PRELUDE_DIR), "utf8");
    for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']/g)) {
      if (!/^\.\/[\w-]+\.js$/.test(match[1]!)) problems.push(`${file} imports ${match[1]}`);
    }
    for (const match of text.matchAll(/\b(require|process|Buffer|globalThis\.process|setTimeout|queueMicrotask)\b\s*[.(]/g)) {
      problems.push(`${file} uses ${match[1]}, which a bare isolate does not have`);
    }
  }
  assert.deepEqual(problems, []);
});
