/** `devtool call`'s arguments (issue 12.4): advice to quote only for a bare word. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseArgument } from "../../devtool/commands/call.js";
import { runCli, tempDir } from "../helpers/processes.js";

const messageOf = (text: string): string => {
  try {
    parseArgument(text, 0);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${text} parsed`);
};

test("a bare word is refused with advice to quote it as a JSON string", () => {
  assert.equal(messageOf("three"), `argument 1 ("three") is not JSON; to pass it as a string, quote it: '"three"'`);
  assert.equal(messageOf("Ada Lovelace"), `argument 1 ("Ada Lovelace") is not JSON; to pass it as a string, quote it: '"Ada Lovelace"'`);
});

test("malformed JSON is refused with what is wrong with it, and no advice to quote it", () => {
  for (const text of ['{"a":', "[1,2", '"unterminated', "{a:1}"]) {
    const message = messageOf(text);
    assert.match(message, /is not JSON \(.+\); pass each argument as one JSON value/, message);
    assert.ok(!message.includes(`'"${text}`), `no quoting advice: ${message}`);
  }
});

test("devtool call with malformed JSON exits 2 with ARGUMENTS_INVALID before connecting", () => {
  const r = runCli("devtool", ["call", "m", "f", '{"a":', "--node", "127.0.0.1:1"], { cwd: tempDir(), env: { FIXPOINT_HOME: tempDir() } });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^error ARGUMENTS_INVALID: argument 1 \("\{\\"a\\":"\) is not JSON \(/m);
  assert.doesNotMatch(r.stderr, /quote it/);
});
