import assert from "node:assert/strict";
import { configRejects } from "../../helpers/expect-code.js";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { keyPairFromSeed } from "../../../loader/protocol/crypto/ed25519.js";
import { encodePublicKey, formatPublicKeyLine } from "../../../loader/protocol/crypto/keys.js";
import { FixpointError } from "../../../loader/protocol/errors.js";
import { findProjectFile, loadProjectConfig, parseProjectConfig } from "../../../devtool/config/project.js";
import { tempDir } from "../../helpers/processes.js";

const FILE = "/home/me/app/fixpoint.json";
const nodeKey = keyPairFromSeed(new Uint8Array(32).fill(5)).publicKey;
const node = { name: "node-1", address: "127.0.0.1:7420", key: formatPublicKeyLine(nodeKey) };

function parse(value: unknown): ReturnType<typeof parseProjectConfig> {
  return parseProjectConfig(JSON.stringify(value), FILE);
}

function rejects(text: string, ...mentions: string[]): void {
  configRejects(() => parseProjectConfig(text, FILE), FILE, ...mentions);
}
const rejectsValue = (value: unknown, ...mentions: string[]) => rejects(JSON.stringify(value), ...mentions);

describe("parseProjectConfig", () => {
  test("parses cluster, modules relative to the file, and nodes with their pinned keys", () => {
    const config = parse({ $schema: "./schema.json", cluster: "prod-eu", modules: ["src/counter.ts", "../shared/greeter.ts"], nodes: [node, { ...node, name: "node-2", address: "[::1]:7421" }] });
    assert.equal(config.file, FILE);
    assert.equal(config.root, "/home/me/app");
    assert.equal(config.cluster, "prod-eu");
    assert.deepEqual(config.modules, ["/home/me/app/src/counter.ts", "/home/me/shared/greeter.ts"]);
    assert.deepEqual(
      config.nodes.map((n) => ({ ...n, key: Buffer.from(n.key) })),
      [
        { name: "node-1", address: { host: "127.0.0.1", port: 7420 }, key: Buffer.from(nodeKey) },
        { name: "node-2", address: { host: "::1", port: 7421 }, key: Buffer.from(nodeKey) },
      ],
    );
  });

  test("an empty object means cluster default, no modules, no nodes", () => {
    assert.deepEqual(parse({}), { file: FILE, root: "/home/me/app", cluster: "default", modules: [], nodes: [] });
  });

  test("accepts a node key as bare base64 or with a comment", () => {
    for (const key of [encodePublicKey(nodeKey), `${formatPublicKeyLine(nodeKey)} node node-1`]) {
      assert.deepEqual(Buffer.from(parse({ nodes: [{ ...node, key }] }).nodes[0]!.key), Buffer.from(nodeKey));
    }
  });

  test("rejects text that is not JSON", () => {
    rejects('{ "nodes": [ }', "not valid JSON");
  });

  test("rejects a top level that is not an object", () => {
    rejects("[]", "must be a JSON object");
    rejects("null", "must be a JSON object");
  });

  test("rejects an unknown key at the top level, naming it", () => {
    rejectsValue({ nodes: [node], modlues: [] }, '"modlues"', "known keys: cluster, modules, nodes");
  });

  test("rejects a bad cluster name", () => {
    rejectsValue({ cluster: "prod eu" }, '"cluster"');
    rejectsValue({ cluster: 1 }, '"cluster"');
  });

  test("rejects modules that are not an array of paths, naming the index", () => {
    rejectsValue({ modules: "src/a.ts" }, '"modules" must be an array');
    rejectsValue({ modules: ["src/a.ts", ""] }, '"modules[1]"');
    rejectsValue({ modules: ["src/a.ts", 3] }, '"modules[1]"');
  });

  test("rejects nodes that are not an array of objects, naming the index", () => {
    rejectsValue({ nodes: {} }, '"nodes" must be an array');
    rejectsValue({ nodes: [node, "node-2"] }, '"nodes[1]" must be an object');
  });

  test("rejects an unknown key in a node, naming the node and the key", () => {
    rejectsValue({ nodes: [node, { ...node, name: "node-2", adress: "x" }] }, '"nodes[1]"', '"adress"', "known keys: name, address, key");
  });

  test("rejects a node with a bad or missing name", () => {
    rejectsValue({ nodes: [{ ...node, name: "node 1" }] }, '"nodes[0]".name');
    const { name: _name, ...nameless } = node;
    rejectsValue({ nodes: [nameless] }, '"nodes[0]".name');
  });

  test("rejects two nodes with the same name", () => {
    rejectsValue({ nodes: [node, { ...node, address: "127.0.0.1:7421" }] }, '"nodes[1]".name "node-1" is used twice');
  });

  test("rejects a bad node address, naming the node", () => {
    for (const address of ["127.0.0.1", "127.0.0.1:99999", "::1:7420", 7420]) rejectsValue({ nodes: [{ ...node, address }] }, '"nodes[0]".address', "HOST:PORT");
  });

  test("rejects a missing or malformed node key, naming the node", () => {
    const { key: _key, ...keyless } = node;
    rejectsValue({ nodes: [keyless] }, '"nodes[0]".key must be');
    rejectsValue({ nodes: [{ ...node, key: "ssh-rsa AAAA" }] }, '"nodes[0]".key', "Ed25519 public key");
    rejectsValue({ nodes: [{ ...node, key: `ed25519 ${Buffer.alloc(31).toString("base64")}` }] }, '"nodes[0]".key');
  });
});

describe("loadProjectConfig", () => {
  test("finds fixpoint.json in the directory or above it", () => {
    const root = tempDir();
    const deep = join(root, "src", "deep");
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(root, "fixpoint.json"), JSON.stringify({ modules: ["src/a.ts"] }));
    assert.equal(findProjectFile(deep), join(root, "fixpoint.json"));
    assert.deepEqual(loadProjectConfig(undefined, deep)?.modules, [join(root, "src/a.ts")]);
  });

  test("an explicit file that cannot be read is CONFIG_INVALID naming it", () => {
    const missing = join(tempDir(), "nope.json");
    assert.throws(() => loadProjectConfig(missing), (err: unknown) => err instanceof FixpointError && err.code === "CONFIG_INVALID" && err.message.includes(missing));
  });
});
