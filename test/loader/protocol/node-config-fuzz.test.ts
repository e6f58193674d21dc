/**
 * Seeded fuzzing of a node's config.json (loader/node/config.ts, issue 13): garbage text, valid
 * files with bytes flipped, cut or inserted, and valid objects with a field replaced, removed or
 * added. parseNodeConfig throws CONFIG_INVALID naming the file, or returns a config that
 * validates to itself, with a listen address that parses. FUZZ_RUNS raises the budget
 * (`npm run fuzz`).
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { FixpointError } from "../../../loader/protocol/errors.js";
import { parseHostPort, parseNodeConfig, readNodeConfig, validateNodeConfig, type NodeConfig } from "../../../loader/protocol/node-config.js";
import { MODES } from "../../../loader/protocol/messages.js";
import { codedOrValid, fuzzParameters, garbage, hostileJson, mutated, mutatedTree } from "../../helpers/fuzz.js";
import { tempDir } from "../../helpers/processes.js";

const fuzz = fuzzParameters(3737);
const FILE = "/var/lib/fixpoint/config.json";

const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);
const listen = fc.tuple(fc.oneof(fc.constantFrom("127.0.0.1", "0.0.0.0", "", "[::]", "[::1]", "localhost"), fc.ipV4()), fc.integer({ min: 0, max: 65535 })).map(([h, p]) => `${h}:${p}`);
const validConfig = fc.record({ name, cluster: name, listen, mode: fc.constantFrom(...MODES) });

function parsesOrRejects(text: string): NodeConfig | null {
  return codedOrValid(
    () => {
      try {
        return parseNodeConfig(text, FILE);
      } catch (err) {
        if (err instanceof FixpointError) assert.deepEqual(err.location, { file: FILE }, "the error names the file");
        throw err;
      }
    },
    ["CONFIG_INVALID"],
    (config) => {
      assert.deepEqual(validateNodeConfig(JSON.parse(JSON.stringify(config)), FILE), config);
      assert.notEqual(parseHostPort(config.listen), null);
    },
    JSON.stringify(text.slice(0, 300)),
  );
}

describe("a node's config.json under fuzzing (seeded)", () => {
  test("every generated valid file parses to itself", () => {
    fc.assert(fc.property(validConfig, (value) => assert.deepEqual(parsesOrRejects(JSON.stringify(value)), value)), fuzz);
  });

  test("garbage text and garbage bytes are CONFIG_INVALID", () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), garbage.map((b) => b.toString("utf8"))), (text) => {
        parsesOrRejects(text);
      }), fuzz);
  });

  test("valid files with bytes flipped, overwritten, inserted, deleted or cut", () => {
    fc.assert(
      fc.property(mutated(validConfig.map((v) => Buffer.from(JSON.stringify(v, null, 2)))), (bytes) => {
        parsesOrRejects(bytes.toString("utf8"));
      }),
      fuzzParameters(3738, 1000),
    );
  });

  test("valid objects with a field replaced, removed or added", () => {
    fc.assert(
      fc.property(mutatedTree(validConfig, fc.oneof(hostileJson, fc.constantFrom("127.0.0.1:65536", "[]:80", "[host]:1", ":7420", "::1:80", "DEV", "production "))), (value) => {
        parsesOrRejects(JSON.stringify(value) ?? "null");
      }),
      fuzzParameters(3739, 1000),
    );
  });

  test("readNodeConfig reads damaged files from disk the same way (a few cases: it writes files)", () => {
    const file = join(tempDir("config-fuzz"), "config.json");
    fc.assert(
      fc.property(mutated(validConfig.map((v) => Buffer.from(JSON.stringify(v)))), (bytes) => {
        writeFileSync(file, bytes);
        codedOrValid(() => readNodeConfig(file), ["CONFIG_INVALID"], (config) => assert.deepEqual(parseNodeConfig(bytes.toString("utf8"), file), config));
      }),
      fuzzParameters(3740, 50),
    );
  });
});
