/**
 * Which isolated-vm release runs on which Node.js line (runtime/host/ivm.ts): a pure function
 * of the version string, the package.json and lock that have to agree with it, and the release
 * this checkout's `npm ci` installed for the Node.js running the tests.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { ISOLATED_VM_FOR_NODE, SUPPORTED_NODE_MAJORS, isolatedVmPackageFor, ivm, loadIsolatedVm } from "../../runtime/host/ivm.js";
import { hasCode } from "../../loader/protocol/errors.js";
import { ROOT } from "../helpers/processes.js";

const require = createRequire(join(ROOT, "package.json"));
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { engines: { node: string }; optionalDependencies: Record<string, string> };
const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string; optional?: boolean; engines?: { node?: string } }> };

function installed(name: string): boolean {
  try {
    require.resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
}

test("picks isolated-vm 5 on Node.js 20, 6 on 22, and 7 on 24 and 26, with or without a leading v", () => {
  const cases: Record<string, string> = {
    "20.0.0": "isolated-vm-5",
    "20.20.2": "isolated-vm-5",
    "v20.19.1": "isolated-vm-5",
    "22.0.0": "isolated-vm-6",
    "22.23.5": "isolated-vm-6",
    "24.0.0": "isolated-vm-7",
    "v24.22.3": "isolated-vm-7",
    "26.12.1": "isolated-vm-7",
    "26.0.0-pre": "isolated-vm-7",
  };
  for (const [version, expected] of Object.entries(cases)) assert.equal(isolatedVmPackageFor(version), expected, version);
  assert.deepEqual(SUPPORTED_NODE_MAJORS, [20, 22, 24, 26]);
});

test("refuses a Node.js line with no isolated-vm release, or a malformed version, with NODEJS_UNSUPPORTED naming the supported lines", () => {
  for (const version of ["18.20.4", "19.9.0", "21.7.3", "23.11.0", "25.1.0", "27.0.0", "28.0.0", "2.0.0", "200.0.0", "", "v24", "24", "node 24.1.0"]) {
    assert.throws(
      () => isolatedVmPackageFor(version),
      (err: unknown) => hasCode(err, "NODEJS_UNSUPPORTED") && (err as Error).message.includes(`Node.js ${version} is not supported`) && (err as Error).message.includes("20, 22, 24, 26"),
      version,
    );
  }
});

test("every release the table names is an optional dependency on isolated-vm, and the engines field names the same lines", () => {
  const aliases = [...new Set(Object.values(ISOLATED_VM_FOR_NODE))].sort();
  const declared = Object.entries(pkg.optionalDependencies).filter(([, spec]) => spec.startsWith("npm:isolated-vm@"));
  assert.deepEqual(declared.map(([name]) => name).sort(), aliases, "no release is declared that the table does not use, nor missing");
  assert.deepEqual(pkg.engines.node.split("||").map((s) => Number(s.trim())), SUPPORTED_NODE_MAJORS);
});

test("the lock installs each line's release on that line: its engines admit the line, and npm may drop it elsewhere", () => {
  for (const major of SUPPORTED_NODE_MAJORS) {
    const alias = isolatedVmPackageFor(`${major}.0.0`);
    const entry = lock.packages[`node_modules/${alias}`];
    assert.ok(entry !== undefined, `${alias} is in the lock`);
    // Optional: npm leaves it out where its engines do not fit, and drops it when its build fails.
    assert.equal(entry.optional, true, `${alias} is optional`);
    assert.equal(pkg.optionalDependencies[alias], `npm:isolated-vm@${entry.version}`, `${alias} is locked at the version package.json names`);
    const minimum = /^>=(\d+)\.\d+\.\d+$/.exec(entry.engines?.node ?? "")?.[1];
    assert.ok(minimum !== undefined, `${alias}'s engines (${entry.engines?.node}) are a lower bound`);
    assert.ok(Number(minimum) <= major, `${alias} (engines ${entry.engines?.node}) installs on Node.js ${major}`);
  }
});

test("loads the release locked for the running Node.js line, and it runs code in an isolate", () => {
  const alias = isolatedVmPackageFor(process.versions.node);
  const version = (require(`${alias}/package.json`) as { version: string }).version;
  assert.equal(version, lock.packages[`node_modules/${alias}`]?.version);
  const isolate = new ivm.Isolate({ memoryLimit: 16 });
  try {
    assert.equal(isolate.createContextSync().evalSync("[1, 2, 3].map((n) => n * 2).join()"), "2,4,6");
  } finally {
    isolate.dispose();
  }
});

test("a line's release that npm did not install here gives ISOLATED_VM_MISSING naming the package and what to run", () => {
  // On any one line at least one release is absent: npm skips 6 and 7 on Node 20, 7 on 22, and
  // drops 5 on 24 and 26 when its build fails.
  const absent = SUPPORTED_NODE_MAJORS.find((major) => !installed(isolatedVmPackageFor(`${major}.0.0`)));
  assert.ok(absent !== undefined, "some line's release is not installed");
  const alias = isolatedVmPackageFor(`${absent}.0.0`);
  assert.throws(
    () => loadIsolatedVm(`${absent}.0.0`),
    (err: unknown) => hasCode(err, "ISOLATED_VM_MISSING") && (err as Error).message.startsWith(`${alias}, the isolated-vm release for Node.js ${absent}.0.0, did not load`) && (err as Error).message.includes("npm ci"),
  );
});

test("the vendored declarations are the same file as every installed release's", () => {
  const copy = readFileSync(join(ROOT, "runtime", "host", "isolated-vm.d.cts"), "utf8");
  const marker = "// ---- isolated-vm.d.ts as published ----\n";
  assert.ok(copy.includes(marker));
  const vendored = copy.slice(copy.indexOf(marker) + marker.length);
  const present = [...new Set(Object.values(ISOLATED_VM_FOR_NODE))].filter(installed);
  assert.ok(present.length > 0);
  for (const alias of present) {
    const dir = dirname(require.resolve(`${alias}/package.json`));
    assert.equal(readFileSync(join(dir, "isolated-vm.d.ts"), "utf8"), vendored, `${alias}'s isolated-vm.d.ts`);
  }
});
