import assert from "node:assert/strict";
import { configRejects } from "../../helpers/expect-code.js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { FixpointError } from "../../../loader/protocol/errors.js";
import { parseHostPort, readNodeConfig, validateNodeConfig, type NodeConfig } from "../../../loader/protocol/node-config.js";
import { tempDir } from "../../helpers/processes.js";

const FILE = "/data/config.json";
const good: NodeConfig = { name: "node-1", cluster: "default", listen: "127.0.0.1:7420", mode: "dev" };

function rejects(value: unknown, ...mentions: string[]): void {
  configRejects(() => validateNodeConfig(value, FILE), FILE, ...mentions);
}

describe("validateNodeConfig", () => {
  test("accepts a complete config", () => {
    assert.deepEqual(validateNodeConfig({ ...good }, FILE), good);
    assert.deepEqual(validateNodeConfig({ ...good, mode: "production", listen: "[::1]:0", name: "a.b_c-9" }, FILE), {
      ...good,
      mode: "production",
      listen: "[::1]:0",
      name: "a.b_c-9",
    });
  });

  test("rejects anything but an object", () => {
    for (const value of [null, [], "node", 7]) rejects(value, "must be a JSON object");
  });

  test("rejects an unknown key, naming it and the known keys", () => {
    rejects({ ...good, lisen: "127.0.0.1:1" }, '"lisen"', "name, cluster, listen, mode");
  });

  test("rejects a missing key, naming it", () => {
    const { cluster: _cluster, ...rest } = good;
    rejects(rest, '"cluster"');
  });

  test("rejects a bad listen address, naming the key", () => {
    for (const listen of ["127.0.0.1", "127.0.0.1:65536", "host:port", "::1:7420", 7420]) rejects({ ...good, listen }, '"listen"', "HOST:PORT");
  });

  test("rejects a mode that is neither dev nor production", () => {
    for (const mode of ["prod", "DEV", "", undefined]) rejects({ ...good, mode }, '"mode"', "dev, production");
  });

  test("rejects a bad name or cluster, naming the key", () => {
    for (const name of ["", "-node", "node 1", "nödé", "n".repeat(64), 1]) rejects({ ...good, name }, '"name"');
    rejects({ ...good, cluster: "a/b" }, '"cluster"');
  });
});

describe("readNodeConfig", () => {
  test("reads and validates a file", () => {
    const file = join(tempDir(), "config.json");
    writeFileSync(file, JSON.stringify(good));
    assert.deepEqual(readNodeConfig(file), good);
  });

  test("rejects a file that is not JSON with CONFIG_INVALID naming the file", () => {
    const file = join(tempDir(), "config.json");
    writeFileSync(file, "{ name: node-1 }");
    assert.throws(() => readNodeConfig(file), (err: unknown) => err instanceof FixpointError && err.code === "CONFIG_INVALID" && err.message.includes(file) && /not valid JSON/.test(err.message));
  });

  test("a missing file means the node was never initialized", () => {
    const file = join(tempDir(), "config.json");
    assert.throws(() => readNodeConfig(file), (err: unknown) => err instanceof FixpointError && err.code === "NODE_NOT_INITIALIZED" && err.message.includes("loader init"));
  });
});

describe("parseHostPort", () => {
  const cases: [string, { host: string; port: number } | null][] = [
    ["127.0.0.1:7420", { host: "127.0.0.1", port: 7420 }],
    ["localhost:0", { host: "localhost", port: 0 }],
    ["node-1.example.com:65535", { host: "node-1.example.com", port: 65535 }],
    ["[::1]:7420", { host: "::1", port: 7420 }],
    ["[fe80::1:2]:80", { host: "fe80::1:2", port: 80 }],
    [":7420", { host: "0.0.0.0", port: 7420 }],
    ["127.0.0.1:007", { host: "127.0.0.1", port: 7 }],
    ["127.0.0.1", null],
    ["127.0.0.1:", null],
    ["127.0.0.1:65536", null],
    ["127.0.0.1:123456", null],
    ["127.0.0.1:-1", null],
    ["127.0.0.1:80a", null],
    ["::1:7420", null],
    ["[::1]", null],
    ["[]:80", null],
    ["[not-v6]:80", null],
    [" 127.0.0.1:80", null],
    ["127.0.0.1:80 ", null],
    ["my host:80", null],
    ["", null],
  ];
  for (const [text, expected] of cases) {
    test(`${JSON.stringify(text)} → ${expected === null ? "rejected" : `${expected.host} port ${expected.port}`}`, () => {
      assert.deepEqual(parseHostPort(text), expected);
    });
  }
});
