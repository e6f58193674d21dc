/**
 * The isolate's web-primitives prelude: what a bare V8 context lacks and HTTP handlers
 * expect (URL, URLSearchParams, TextEncoder, TextDecoder, atob, btoa, DOMException, Headers,
 * Request, Response), written in plain JavaScript so that it runs inside the isolate.
 *
 * runtime/isolate/bootstrap-entry.ts bundles this file, then the harness, into one script
 * (esbuild, iife; options in runtime/isolate/script-build.js) evaluated at the start of every
 * isolate, before module code. Running it installs the globals; nothing it exports matters.
 *
 * Each interface is shaped as Web IDL shapes it in browsers and Node, because code and
 * libraries do look: globals are non-enumerable; members (prototype and static) are
 * enumerable; each prototype carries its Symbol.toStringTag ("[object URL]").
 *
 * atob and btoa are non-enumerable too, although browsers and Node make them enumerable, so
 * that Object.keys(globalThis) in a fresh isolate is empty and later lists only what module
 * code added.
 *
 * No imports of Node built-ins or packages here or in anything this file imports: the
 * bundle must run where only ECMAScript exists.
 */
import { DOMException } from "./dom-exception.js";
import { Headers, Request, Response } from "./fetch-types.js";
import { TextDecoder, TextEncoder, atob, btoa } from "./text.js";
import { URLSearchParams } from "./url-search-params.js";
import { URL } from "./url.js";

const INTERFACES: ReadonlyArray<readonly [string, abstract new (...args: never[]) => unknown]> = [
  ["DOMException", DOMException],
  ["Headers", Headers],
  ["Request", Request],
  ["Response", Response],
  ["TextDecoder", TextDecoder],
  ["TextEncoder", TextEncoder],
  ["URL", URL],
  ["URLSearchParams", URLSearchParams],
];

const FUNCTIONS: ReadonlyArray<readonly [string, (...args: never[]) => unknown]> = [
  ["atob", atob],
  ["btoa", btoa],
];

function defineGlobal(name: string, value: unknown): void {
  Object.defineProperty(globalThis, name, { value, writable: true, enumerable: false, configurable: true });
}

/** Web IDL's property attributes: members enumerable, on the prototype and static ones alike. */
function shapeInterface(name: string, constructor: abstract new (...args: never[]) => unknown): void {
  const prototype = constructor.prototype as object;
  makeEnumerable(prototype, ["constructor"]);
  makeEnumerable(constructor, ["length", "name", "prototype"]);
  Object.defineProperty(prototype, Symbol.toStringTag, { value: name, configurable: true });
}

function makeEnumerable(target: object, except: readonly string[]): void {
  for (const key of Object.getOwnPropertyNames(target)) {
    if (except.includes(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(target, key)!;
    Object.defineProperty(target, key, { ...descriptor, enumerable: true });
  }
}

for (const [name, constructor] of INTERFACES) {
  shapeInterface(name, constructor);
  defineGlobal(name, constructor);
}
for (const [name, fn] of FUNCTIONS) defineGlobal(name, fn);
