/**
 * The rule the README states for releases: a release's signature covers its bundles' digests,
 * so a bundle carried by a release needs no signature of its own — a node checks its code
 * against the digest the release names, and nothing else about who made it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPair } from "../../loader/index.js";
import { signBundle, signRelease } from "../../devtool/client/index.js";
import { startNode } from "../helpers/processes.js";
import { ALL_ROLES } from "../helpers/production.js";

test("a node stages a release's bundle signed by a key it does not trust, and refuses one whose code is not the digest the release names", { timeout: 120_000 }, async () => {
  const key = generateKeyPair();
  const node = await startNode({ roles: ALL_ROLES, dev: key });
  const conn = await node.connect();
  try {
    const stranger = generateKeyPair();
    const code = Buffer.from(`var __fixpoint_module = { default: { functions: {} } };`);
    const bundle = signBundle("counter", code, Buffer.from("{}"), stranger);
    const { release } = signRelease({ cluster: "default", number: 1, modules: [{ name: "counter", digest: bundle.manifest.digest }] }, key);
    assert.deepEqual(await conn.request("stage", { release, bundles: [] }), { number: 1, missing: [bundle.manifest.digest] });

    // Same manifest, one byte of code changed: the release's signature does not cover it.
    const altered = { ...bundle.bundle, code: Buffer.from(code.toString().replace("{}", "{ }").slice(0, code.length)) };
    await assert.rejects(conn.request("stage", { release, bundles: [altered] }), (err: Error & { code?: string }) => err.code === "RELEASE_BUNDLE_INVALID");
    assert.deepEqual((await conn.request("stage", { release, bundles: [] })).missing, [bundle.manifest.digest]);

    // The stranger's signature is never looked at: the digest vouches for the code.
    assert.deepEqual(await conn.request("stage", { release, bundles: [bundle.bundle] }), { number: 1, missing: [] });
    // Nor is a signature at all.
    const { release: second } = signRelease({ cluster: "default", number: 2, modules: [{ name: "counter", digest: bundle.manifest.digest }] }, key);
    assert.deepEqual(await conn.request("stage", { release: second, bundles: [{ ...bundle.bundle, signature: new Uint8Array(64) }] }), { number: 2, missing: [] });
  } finally {
    conn.close();
    await node.stop();
  }
});
