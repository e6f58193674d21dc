/**
 * Runs the same snippet in Node and in a real isolated-vm isolate that has evaluated the
 * prelude, so each test states a case once and Node's own URL, TextEncoder, Headers, Request
 * and Response say what the answer must be.
 *
 * A snippet is a function body; it may await and must return something structured-clone can
 * copy (arrays, not typed arrays). A thrown error is reduced to its name, because messages
 * differ between implementations while the error type is the contract.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { ivm } from "../../../runtime/host/ivm.js";
import { bootstrapSource } from "../../../runtime/host/bootstrap.js";
import { type UrlStandardChange, nodeFollows } from "./url-standard.js";

export type Outcome = { value: unknown } | { error: string };

/**
 * One row of a table: a name for the report, the snippet to run on both sides, and THROWS
 * when the snippet is meant to throw. Without the marker a throwing reference fails the
 * row, so a broken snippet (which throws the same ReferenceError on both sides) cannot pass.
 */
export type Case = readonly [name: string, body: string] | readonly [name: string, body: string, expect: typeof THROWS];

export const THROWS = "throws";

function wrap(body: string): string {
  return `(async () => {
    try { return { value: await (async () => { ${body} })() }; }
    catch (error) { return { error: error instanceof Error || (error && error.name) ? error.name : String(error) }; }
  })()`;
}

export interface PreludeIsolate {
  run(body: string): Promise<Outcome>;
  dispose(): void;
}

/**
 * A fresh 64 MB isolate with the bootstrap every module isolate runs (the prelude and the
 * harness, built with the runtime's own options) evaluated in its only context. The harness's
 * boot function is removed as the runtime's boot removes it, before any module code runs.
 */
export async function openIsolate(): Promise<PreludeIsolate> {
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  try {
    const context = await isolate.createContext();
    await context.eval(bootstrapSource());
    await context.eval("delete globalThis.__fixpoint_boot");
    return {
      run: async (body) => (await context.eval(wrap(body), { promise: true, copy: true })) as Outcome,
      dispose: () => isolate.dispose(),
    };
  } catch (error) {
    isolate.dispose();
    throw error;
  }
}

/** The snippet run with Node's globals (indirect eval: global scope, nothing of this module). */
export function inNode(body: string): Promise<Outcome> {
  return (0, eval)(wrap(body)) as Promise<Outcome>;
}

/** Runs `fn` with a fresh isolate and disposes of it afterwards, whatever happens. */
export async function withIsolate(fn: (isolate: PreludeIsolate) => Promise<void>): Promise<void> {
  const isolate = await openIsolate();
  try {
    await fn(isolate);
  } finally {
    isolate.dispose();
  }
}

/** One subtest per row: the isolate's outcome must equal Node's. */
export async function matchesNode(t: TestContext, cases: readonly Case[]): Promise<void> {
  await withIsolate(async (isolate) => {
    for (const [name, body, expect] of cases) {
      await t.test(name, async () => {
        const expected = await inNode(body);
        assert.equal("error" in expected, expect === THROWS, `Node's outcome ${JSON.stringify(expected)} for ${name}`);
        const actual = await isolate.run(body);
        assert.deepEqual(actual, expected, `${name}\n  snippet: ${body}`);
      });
    }
  });
}

/** One subtest per row, against a stated outcome: where the prelude differs from Node on purpose. */
export async function matchesExpected(t: TestContext, cases: ReadonlyArray<readonly [name: string, body: string, expected: Outcome]>): Promise<void> {
  await withIsolate(async (isolate) => {
    for (const [name, body, expected] of cases) {
      await t.test(name, async () => {
        assert.deepEqual(await isolate.run(body), expected, `${name}\n  snippet: ${body}`);
      });
    }
  });
}

/**
 * One subtest per row about a recent URL Standard change (url-standard.ts), against the
 * standard's answer: the isolate must give it on every line, and Node must give it too
 * wherever its URL follows that change, so the stated answer is checked against Node on 24.
 */
export async function matchesStandard(
  t: TestContext,
  cases: ReadonlyArray<readonly [name: string, body: string, expected: Outcome, change: UrlStandardChange]>,
): Promise<void> {
  await withIsolate(async (isolate) => {
    for (const [name, body, expected, change] of cases) {
      await t.test(name, async () => {
        if (nodeFollows[change]) assert.deepEqual(await inNode(body), expected, `Node's outcome for ${name}\n  snippet: ${body}`);
        assert.deepEqual(await isolate.run(body), expected, `${name}\n  snippet: ${body}`);
      });
    }
  });
}
