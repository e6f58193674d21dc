/**
 * Seeded fuzzing of fixpoint.json (devtool/config/project.ts, issue 13): garbage text, valid
 * files with bytes flipped, cut or inserted, and valid objects with a field replaced, removed or
 * added at any depth. parseProjectConfig throws CONFIG_INVALID naming the file, or returns a
 * config that, written back as fixpoint.json, parses to itself. FUZZ_RUNS raises the budget
 * (`npm run fuzz`).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { parseProjectConfig, type ProjectConfig } from "../../../devtool/config/project.js";
import { encodePublicKey } from "../../../loader/protocol/crypto/keys.js";
import { FixpointError } from "../../../loader/protocol/errors.js";
import { codedOrValid, fuzzParameters, garbage, hostileJson, mutated, mutatedTree } from "../../helpers/fuzz.js";

const fuzz = fuzzParameters(2727);
const FILE = "/home/me/app/fixpoint.json";

const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);
const host = fc.oneof(fc.constantFrom("127.0.0.1", "localhost", "[::1]", "[fe80::1]", "", "node-1.example.com"), fc.ipV4(), fc.domain());
const address = fc.tuple(host, fc.integer({ min: 0, max: 65535 })).map(([h, p]) => `${h}:${p}`);
const key = fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom("ed25519 ", ""), fc.constantFrom("", " node-1", " a comment")).map(([k, prefix, comment]) =>
  prefix === "" ? encodePublicKey(k) : `${prefix}${encodePublicKey(k)}${comment}`,
);
const validProject = fc.record(
  {
    $schema: fc.constant("./node_modules/fixpoint/schema.json"),
    cluster: name,
    modules: fc.array(fc.constantFrom("src/counter.ts", "../shared/a.ts", "/abs/b.ts", "ü/ñ.ts"), { maxLength: 3 }),
    nodes: fc.uniqueArray(fc.record({ name, address, key }), { maxLength: 3, selector: (n) => n.name }),
  },
  { requiredKeys: [] },
);

/** A parsed config written back as fixpoint.json. */
function writeBack(config: ProjectConfig): string {
  return JSON.stringify({
    cluster: config.cluster,
    modules: config.modules,
    nodes: config.nodes.map((n) => ({ name: n.name, address: `${n.address.host.includes(":") ? `[${n.address.host}]` : n.address.host}:${n.address.port}`, key: `ed25519 ${encodePublicKey(n.key)}` })),
  });
}

function parsesOrRejects(text: string): void {
  codedOrValid(
    () => {
      try {
        return parseProjectConfig(text, FILE);
      } catch (err) {
        if (err instanceof FixpointError) {
          assert.deepEqual(err.location, { file: FILE }, "the error names the file");
          assert.ok(err.message.startsWith(`${FILE}: `), err.message);
        }
        throw err;
      }
    },
    ["CONFIG_INVALID"],
    (config) => {
      assert.deepEqual(parseProjectConfig(writeBack(config), FILE), config);
      for (const m of config.modules) assert.ok(m.startsWith("/"), "module paths are absolute");
    },
    JSON.stringify(text.slice(0, 300)),
  );
}

describe("fixpoint.json under fuzzing (seeded)", () => {
  test("every generated valid file parses, and writes back to itself", () => {
    fc.assert(
      fc.property(validProject, (value) => {
        const config = parseProjectConfig(JSON.stringify(value), FILE);
        assert.equal(config.nodes.length, value.nodes?.length ?? 0);
        parsesOrRejects(JSON.stringify(value));
      }),
      fuzz,
    );
  });

  test("garbage text and garbage bytes are CONFIG_INVALID", () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.fullUnicodeString({ maxLength: 50 }), garbage.map((b) => b.toString("utf8"))), parsesOrRejects), fuzz);
  });

  test("valid files with bytes flipped, overwritten, inserted, deleted or cut", () => {
    fc.assert(
      fc.property(mutated(validProject.map((v) => Buffer.from(JSON.stringify(v, null, 2)))), (bytes) => parsesOrRejects(bytes.toString("utf8"))),
      fuzzParameters(2728, 1000),
    );
  });

  test("valid objects with a field replaced, removed or added at any depth", () => {
    fc.assert(
      fc.property(mutatedTree(validProject, fc.oneof(hostileJson, fc.constantFrom("127.0.0.1:99999", "[]:80", "[name]:1", ":7420", "ed25519 AAAA", "x".repeat(64)))), (value) =>
        parsesOrRejects(JSON.stringify(value) ?? "undefined"),
      ),
      fuzzParameters(2729, 1000),
    );
  });
});
