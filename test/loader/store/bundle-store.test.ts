import assert from "node:assert/strict";
import { existsSync, mkdirSync, rmSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { keyPairFromSeed } from "../../../loader/protocol/crypto/ed25519.js";
import { FixpointError } from "../../../loader/protocol/errors.js";
import { signBundle } from "../../../devtool/client/sign.js";
import { verifyBundle, type VerifiedBundle } from "../../../loader/bundle/verify.js";
import type { Role } from "../../../loader/protocol/messages.js";
import { BundleStore } from "../../../loader/store/bundle-store.js";
import { snapshotDir, tempDir } from "../../helpers/processes.js";

const dev = keyPairFromSeed(new Uint8Array(32).fill(1));
const builtAt = new Date("2025-01-02T03:04:05.000Z");

/** A trust table the test can edit, as the node's trust file can be edited under it. */
function trustTable(): { rolesOf: (key: Uint8Array) => readonly Role[] | null; revoke(): void } {
  let trusted = true;
  return {
    rolesOf: (key) => (trusted && Buffer.from(key).equals(Buffer.from(dev.publicKey)) ? ["dev"] : null),
    revoke: () => void (trusted = false),
  };
}

function bundle(name: string, source: string, rolesOf: (key: Uint8Array) => readonly Role[] | null): VerifiedBundle {
  const { bundle } = signBundle(name, Buffer.from(source), Buffer.from(`{"version":3,"sources":["${name}.ts"]}`), dev, builtAt);
  return verifyBundle(bundle, rolesOf, "dev");
}

function newStore(): { dir: string; store: BundleStore; trust: ReturnType<typeof trustTable> } {
  const dir = join(tempDir(), "store");
  const trust = trustTable();
  return { dir, store: new BundleStore(dir, trust.rolesOf), trust };
}

/** A bundle stored and made current, as a push does it. */
async function put(store: BundleStore, verified: VerifiedBundle): Promise<{ stored: boolean; changed: boolean }> {
  const stored = await store.storeBundle(verified);
  return { stored, changed: await store.setCurrent(verified.manifest.name, verified.manifest.digest) };
}

/** The current modules whose stored bundle loads (verified again); the rest are in store.problems. */
function verifiedModules(store: BundleStore): { manifest: { name: string } }[] {
  return store.modules().flatMap((e) => {
    try {
      return [store.load(e.digest)];
    } catch {
      return [];
    }
  });
}

/** Digests of the bundle files in a store directory. */
function digests(dir: string): string[] {
  return readdirSync(join(dir, "bundles")).filter((f) => f.endsWith(".bundle")).map((f) => f.slice(0, -".bundle".length));
}

function table(dir: string): unknown {
  return JSON.parse(readFileSync(join(dir, "modules.json"), "utf8"));
}

/** Every name under `dir`, recursively, to look for temporary files. */
function allNames(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" });
}

function throwsStoreCorrupt(fn: () => unknown, causeCode: string): FixpointError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof FixpointError, `expected STORE_CORRUPT, got ${String(caught)}`);
  assert.equal(caught.code, "STORE_CORRUPT", caught.message);
  assert.match(caught.message, new RegExp(causeCode));
  return caught;
}

describe("BundleStore", () => {
  test("a store made on a folder that does not exist starts empty, and writes no table until a module is put", () => {
    const { dir, store } = newStore();
    assert.equal(existsSync(join(dir, "modules.json")), false);
    assert.deepEqual(readdirSync(join(dir, "bundles")), []);
    assert.deepEqual(store.modules(), []);
    assert.deepEqual(store.problems, []);
  });

  test("put stores the bundle under its digest and makes it the module's current version in modules.json", async () => {
    const { dir, store, trust } = newStore();
    const v1 = bundle("counter", "var a = 1;", trust.rolesOf);
    assert.deepEqual(await put(store, v1), { stored: true, changed: true });
    const digest = v1.manifest.digest;
    assert.ok(existsSync(join(dir, "bundles", `${digest}.bundle`)));
    assert.equal(store.has(digest), true);
    assert.deepEqual(digests(dir), [digest]);
    const { modules } = table(dir) as { modules: Record<string, { digest: string; storedAt: string }> };
    assert.deepEqual(Object.keys(modules), ["counter"]);
    assert.equal(modules["counter"]!.digest, digest);
    assert.ok(!Number.isNaN(Date.parse(modules["counter"]!.storedAt)));
    assert.deepEqual(store.modules(), [{ name: "counter", digest, storedAt: modules["counter"]!.storedAt }]);
  });

  test("a new version of a module replaces it in the table and keeps the old bundle file", async () => {
    const { dir, store, trust } = newStore();
    const v1 = bundle("counter", "var a = 1;", trust.rolesOf);
    const v2 = bundle("counter", "var a = 2;", trust.rolesOf);
    await put(store, v1);
    assert.deepEqual(await put(store, v2), { stored: true, changed: true });
    assert.deepEqual(store.modules().map((m) => m.digest), [v2.manifest.digest]);
    assert.deepEqual(digests(dir).sort(), [v1.manifest.digest, v2.manifest.digest].sort());
    // Going back to v1 stores nothing new but changes the table.
    assert.deepEqual(await put(store, v1), { stored: false, changed: true });
    assert.deepEqual(store.modules().map((m) => m.digest), [v1.manifest.digest]);
  });

  test("putting the same bytes twice stores nothing and changes no file", async () => {
    const { dir, store, trust } = newStore();
    const v1 = bundle("counter", "var a = 1;", trust.rolesOf);
    await put(store, v1);
    const before = snapshotDir(dir);
    const mtime = statSync(join(dir, "modules.json")).mtimeMs;
    assert.deepEqual(await put(store, v1), { stored: false, changed: false });
    assert.deepEqual(snapshotDir(dir), before);
    assert.equal(statSync(join(dir, "modules.json")).mtimeMs, mtime);
  });

  test("a new store on the same directory sees the modules put before, in name order", async () => {
    const { dir, store, trust } = newStore();
    await put(store, bundle("zeta", "var z;", trust.rolesOf));
    await put(store, bundle("alpha", "var a;", trust.rolesOf));
    const reopened = new BundleStore(dir, trust.rolesOf);
    assert.deepEqual(reopened.modules().map((m) => m.name), ["alpha", "zeta"]);
    assert.deepEqual(verifiedModules(reopened).map((m) => m.manifest.name), ["alpha", "zeta"]);
    assert.deepEqual(reopened.problems, []);
  });

  test("load reads a bundle back and re-verifies it", async () => {
    const { store, trust } = newStore();
    const v1 = bundle("counter", "var a = 1;", trust.rolesOf);
    await put(store, v1);
    const loaded = store.load(v1.manifest.digest);
    assert.deepEqual(loaded.manifest, v1.manifest);
    assert.deepEqual(Buffer.from(loaded.bundle.code), Buffer.from(v1.bundle.code));
    assert.deepEqual(Buffer.from(loaded.bundle.sourceMap), Buffer.from(v1.bundle.sourceMap));
    assert.deepEqual(Buffer.from(loaded.bundle.signature), Buffer.from(v1.bundle.signature));
  });

  test("load of a digest that is not stored throws STORE_CORRUPT", () => {
    const { store } = newStore();
    throwsStoreCorrupt(() => store.load("0".repeat(64)), "missing");
    assert.equal(store.problems.length, 1);
  });

  test("a bundle file corrupted on disk is STORE_CORRUPT on load, recorded in problems, and left out of verifiedModules", async () => {
    const { dir, store, trust } = newStore();
    const good = bundle("good", "var good = 1;", trust.rolesOf);
    const bad = bundle("bad", "var bad = 'a payload long enough to find';", trust.rolesOf);
    await put(store, good);
    await put(store, bad);
    // Flip one byte inside the stored code.
    const file = join(dir, "bundles", `${bad.manifest.digest}.bundle`);
    const bytes = readFileSync(file);
    const at = bytes.indexOf("a payload long enough");
    assert.ok(at > 0);
    bytes[at] = bytes[at]! ^ 0x01;
    writeFileSync(file, bytes);

    const err = throwsStoreCorrupt(() => store.load(bad.manifest.digest), "BUNDLE_DIGEST_MISMATCH");
    assert.ok(err.message.includes(file), "names the file");
    assert.equal(store.problems.length, 1);
    assert.equal(store.problems[0]!.file, file);
    assert.equal(store.problems[0]!.error.code, "STORE_CORRUPT");

    const reopened = new BundleStore(dir, trust.rolesOf);
    assert.deepEqual(verifiedModules(reopened).map((m) => m.manifest.name), ["good"]);
    assert.deepEqual(reopened.problems.map((p) => [p.file, p.error.code]), [[file, "STORE_CORRUPT"]]);
  });

  test("putting a bundle again repairs its corrupted stored copy", async () => {
    const { dir, store, trust } = newStore();
    const v1 = bundle("counter", "var a = 1;", trust.rolesOf);
    await put(store, v1);
    const file = join(dir, "bundles", `${v1.manifest.digest}.bundle`);
    const good = readFileSync(file);
    writeFileSync(file, good.subarray(0, good.length - 1));
    assert.throws(() => store.load(v1.manifest.digest));
    assert.deepEqual(await put(store, v1), { stored: true, changed: false });
    assert.deepEqual(readFileSync(file), good);
    assert.deepEqual(store.load(v1.manifest.digest).manifest, v1.manifest);
  });

  test("the same code signed again later is not stored again: the first verified copy stays", async () => {
    const { dir, store, trust } = newStore();
    const first = bundle("counter", "var a = 1;", trust.rolesOf);
    await put(store, first);
    const before = snapshotDir(dir);
    const { bundle: resigned } = signBundle("counter", first.bundle.code, first.bundle.sourceMap, dev, new Date("2026-01-01T00:00:00.000Z"));
    assert.deepEqual(await put(store, verifyBundle(resigned, trust.rolesOf, "dev")), { stored: false, changed: false });
    assert.deepEqual(snapshotDir(dir), before);
  });

  test("a bundle file that is not CBOR at all is STORE_CORRUPT", async () => {
    const { dir, store, trust } = newStore();
    const v1 = bundle("counter", "var a = 1;", trust.rolesOf);
    await put(store, v1);
    writeFileSync(join(dir, "bundles", `${v1.manifest.digest}.bundle`), "not a bundle");
    throwsStoreCorrupt(() => store.load(v1.manifest.digest), "");
    assert.deepEqual(verifiedModules(store), []);
  });

  test("a valid bundle stored under another bundle's digest is STORE_CORRUPT", async () => {
    const { dir, store, trust } = newStore();
    const a = bundle("a", "var a;", trust.rolesOf);
    const b = bundle("b", "var b;", trust.rolesOf);
    await put(store, a);
    await put(store, b);
    writeFileSync(join(dir, "bundles", `${a.manifest.digest}.bundle`), readFileSync(join(dir, "bundles", `${b.manifest.digest}.bundle`)));
    throwsStoreCorrupt(() => store.load(a.manifest.digest), "BUNDLE_DIGEST_MISMATCH");
  });

  test("a stored bundle whose signer was removed from the trust file is STORE_CORRUPT and not loaded", async () => {
    const { store, trust } = newStore();
    const v1 = bundle("counter", "var a = 1;", trust.rolesOf);
    await put(store, v1);
    trust.revoke();
    throwsStoreCorrupt(() => store.load(v1.manifest.digest), "BUNDLE_SIGNER_UNTRUSTED");
    assert.deepEqual(verifiedModules(store), []);
    assert.equal(store.problems.length, 2);
    // The table still names it: revoking trust hides the module, it does not delete it.
    assert.deepEqual(store.modules().map((m) => m.name), ["counter"]);
  });

  test("a malformed modules.json is reported as STORE_CORRUPT and the store starts with no modules", () => {
    const { dir, trust } = newStore();
    writeFileSync(join(dir, "modules.json"), "{ not json");
    const store = new BundleStore(dir, trust.rolesOf);
    assert.deepEqual(store.modules(), []);
    assert.deepEqual(store.problems.map((p) => p.error.code), ["STORE_CORRUPT"]);
  });

  test("a malformed entry in modules.json is reported and skipped, the others kept", async () => {
    const { dir, store, trust } = newStore();
    const v1 = bundle("counter", "var a = 1;", trust.rolesOf);
    await put(store, v1);
    const { modules } = table(dir) as { modules: Record<string, unknown> };
    writeFileSync(join(dir, "modules.json"), JSON.stringify({ modules: { ...modules, "Bad Name": { digest: "x", storedAt: "" } } }));
    const reopened = new BundleStore(dir, trust.rolesOf);
    assert.deepEqual(reopened.modules().map((m) => m.name), ["counter"]);
    assert.equal(reopened.problems.length, 1);
    assert.match(reopened.problems[0]!.error.message, /"Bad Name"/);
  });

  test("puts of several modules at once all reach modules.json, whatever order their writes finish in", async () => {
    const { dir, store, trust } = newStore();
    const names = ["a", "b", "c", "d", "e", "f"];
    await Promise.all(names.map((n) => put(store, bundle(n, `var ${n};`, trust.rolesOf))));
    const { modules } = table(dir) as { modules: Record<string, { digest: string }> };
    assert.deepEqual(Object.keys(modules), names);
    assert.deepEqual(new BundleStore(dir, trust.rolesOf).modules().map((m) => m.digest), store.modules().map((m) => m.digest));
  });

  test("a table that cannot be written is STORE_WRITE_FAILED: the module keeps its previous version and no file changes", async () => {
    const { dir, store, trust } = newStore();
    const v1 = bundle("counter", "var v = 1;", trust.rolesOf);
    await put(store, v1);
    const v2 = bundle("counter", "var v = 2;", trust.rolesOf);
    await store.storeBundle(v2);
    // A directory where the table goes: the rename over it fails, even for root.
    rmSync(join(dir, "modules.json"));
    mkdirSync(join(dir, "modules.json", "blocker"), { recursive: true });
    const before = snapshotDir(dir);
    await assert.rejects(store.setCurrent("counter", v2.manifest.digest), (err: unknown) => err instanceof FixpointError && err.code === "STORE_WRITE_FAILED");
    assert.equal(store.entry("counter")?.digest, v1.manifest.digest);
    assert.deepEqual(snapshotDir(dir), before);
  });

  describe("a push's writes, made durable at the next flush (group commit)", () => {
    test("the table on disk keeps the previous version until flush, which writes it once for a burst", async () => {
      const { dir, store, trust } = newStore();
      const v1 = bundle("counter", "var v = 1;", trust.rolesOf);
      await put(store, v1);
      for (let i = 2; i <= 4; i++) {
        const v = bundle("counter", `var v = ${i};`, trust.rolesOf);
        assert.equal(await store.storeBundle(v, false), true);
        assert.equal(await store.setCurrent("counter", v.manifest.digest, false), true);
      }
      const latest = store.entry("counter")!.digest;
      // A loader killed now comes back on the version of the last flush, whole.
      assert.equal(new BundleStore(dir, trust.rolesOf).entry("counter")?.digest, v1.manifest.digest);
      await store.flush();
      const reopened = new BundleStore(dir, trust.rolesOf);
      assert.equal(reopened.entry("counter")?.digest, latest);
      assert.equal(reopened.load(latest).manifest.digest, latest, "the bundle the table names is there, whole");
    });

    test("a flush that cannot write is STORE_WRITE_FAILED and stays pending: the next one writes", async () => {
      const { dir, store, trust } = newStore();
      const v1 = bundle("counter", "var v = 1;", trust.rolesOf);
      await store.storeBundle(v1, false);
      await store.setCurrent("counter", v1.manifest.digest, false);
      rmSync(join(dir, "modules.json"), { force: true });
      mkdirSync(join(dir, "modules.json", "blocker"), { recursive: true });
      await assert.rejects(store.flush(), (err: unknown) => err instanceof FixpointError && err.code === "STORE_WRITE_FAILED");
      assert.equal(store.entry("counter")?.digest, v1.manifest.digest, "memory stays on what runs");
      rmSync(join(dir, "modules.json"), { recursive: true });
      await store.flush();
      assert.equal(new BundleStore(dir, trust.rolesOf).entry("counter")?.digest, v1.manifest.digest);
    });

    test("with nothing pushed since the last flush, a flush writes nothing", async () => {
      const { dir, store, trust } = newStore();
      await put(store, bundle("counter", "var v = 1;", trust.rolesOf));
      const before = snapshotDir(dir);
      await store.flush();
      assert.deepEqual(snapshotDir(dir), before);
    });
  });

  describe("versions nothing needs are removed, so a store does not grow with every push", () => {
    /** A push as the node makes it: kept for the next flush, current in memory. Whether it was stored anew. */
    async function push(store: BundleStore, v: VerifiedBundle, inUse?: (digest: string) => boolean): Promise<boolean> {
      const stored = await store.storeBundle(v, false);
      await store.setCurrent(v.manifest.name, v.manifest.digest, false, inUse);
      return stored;
    }

    test("after a burst of pushes and a flush, only the current version's bundle is left", async () => {
      const { dir, store, trust } = newStore();
      const versions = Array.from({ length: 6 }, (_, i) => bundle("counter", `var v = ${i};`, trust.rolesOf));
      for (const v of versions) await push(store, v);
      await store.flush();
      assert.deepEqual(digests(dir), [versions[5]!.manifest.digest]);
      assert.equal(new BundleStore(dir, trust.rolesOf).load(versions[5]!.manifest.digest).manifest.name, "counter");
    });

    test("a version a burst replaced before any flush is let go at once, and never written", async () => {
      const { dir, store, trust } = newStore();
      const v1 = bundle("counter", "var v = 1;", trust.rolesOf);
      const v2 = bundle("counter", "var v = 2;", trust.rolesOf);
      await push(store, v1);
      await push(store, v2);
      assert.equal(store.has(v1.manifest.digest), false, "not kept in memory until the flush");
      await store.flush();
      assert.deepEqual(digests(dir), [v2.manifest.digest]);
    });

    test("a version the table on disk names stays until a table naming another is written", async () => {
      const { dir, store, trust } = newStore();
      const v1 = bundle("counter", "var v = 1;", trust.rolesOf);
      const v2 = bundle("counter", "var v = 2;", trust.rolesOf);
      await push(store, v1);
      await store.flush();
      await push(store, v2);
      // A loader killed now restarts on v1, from the table on disk: its bundle must be there.
      // v2 waits in memory for the flush, which writes it before the table that names it.
      assert.deepEqual(digests(dir), [v1.manifest.digest]);
      assert.equal(store.load(v2.manifest.digest).manifest.digest, v2.manifest.digest, "a pending version loads");
      await store.flush();
      assert.deepEqual(digests(dir), [v2.manifest.digest]);
    });

    test("a version a held release names, or one a push is loading, is kept", async () => {
      const dir = join(tempDir(), "store");
      const trust = trustTable();
      const held = new Set<string>();
      const store = new BundleStore(dir, trust.rolesOf, (d) => held.has(d));
      const v1 = bundle("counter", "var v = 1;", trust.rolesOf);
      const v2 = bundle("counter", "var v = 2;", trust.rolesOf);
      const v3 = bundle("counter", "var v = 3;", trust.rolesOf);
      await push(store, v1);
      await store.flush();
      // A release names v1: staged (written at once), then held.
      assert.equal(await store.storeBundle(v1), false, "on disk already");
      held.add(v1.manifest.digest);
      await push(store, v2);
      // Another push (of a module with the same code) is loading v2 meanwhile.
      const loadingV2 = (d: string) => d === v2.manifest.digest;
      await push(store, v3, loadingV2);
      await store.flush(loadingV2);
      assert.deepEqual(digests(dir).sort(), [v1.manifest.digest, v3.manifest.digest].sort());
      assert.ok(store.has(v2.manifest.digest), "the version a push is loading is kept (in memory: no table names it yet)");
      // Once the push is over and no release names v1, both go.
      held.clear();
      await store.flush();
      assert.deepEqual(digests(dir), [v3.manifest.digest]);
      assert.equal(store.has(v2.manifest.digest), false);
    });

    test("a stage of a bundle a push left pending writes it at once, as a stage writes every bundle", async () => {
      const { dir, store, trust } = newStore();
      const v1 = bundle("counter", "var v = 1;", trust.rolesOf);
      await push(store, v1);
      assert.deepEqual(digests(dir), []);
      assert.equal(await store.storeBundle(v1), true, "written now");
      assert.deepEqual(digests(dir), [v1.manifest.digest]);
      assert.equal(new BundleStore(dir, trust.rolesOf).load(v1.manifest.digest).manifest.digest, v1.manifest.digest);
    });

    test("pushing back an older version that was removed stores it again", async () => {
      const { dir, store, trust } = newStore();
      const v1 = bundle("counter", "var v = 1;", trust.rolesOf);
      const v2 = bundle("counter", "var v = 2;", trust.rolesOf);
      await push(store, v1);
      await push(store, v2);
      await store.flush();
      assert.equal(await push(store, v1), true, "stored again");
      await store.flush();
      assert.deepEqual(digests(dir), [v1.manifest.digest]);
      assert.equal(new BundleStore(dir, trust.rolesOf).load(v1.manifest.digest).manifest.digest, v1.manifest.digest);
    });

    test("sweep at boot removes bundles nothing names and temporary files a crash left, and keeps the rest", async () => {
      const { dir, store, trust } = newStore();
      const current = bundle("counter", "var v = 1;", trust.rolesOf);
      const releaseOnly = bundle("other", "var o = 1;", trust.rolesOf);
      const orphan = bundle("counter", "var v = 0;", trust.rolesOf);
      await put(store, current);
      await store.storeBundle(releaseOnly);
      await store.storeBundle(orphan);
      writeFileSync(join(dir, "bundles", `.tmp-${current.manifest.digest}.bundle-abc123`), "torn");
      writeFileSync(join(dir, "bundles", "README"), "someone's note");
      const reopened = new BundleStore(dir, trust.rolesOf, (d) => d === releaseOnly.manifest.digest);
      assert.equal(reopened.sweep(), 2);
      assert.deepEqual(digests(dir).sort(), [current.manifest.digest, releaseOnly.manifest.digest].sort());
      assert.deepEqual(readdirSync(join(dir, "bundles")).filter((n) => !n.endsWith(".bundle")), ["README"]);
    });
  });

  test("puts leave no temporary files behind", async () => {
    const { dir, store, trust } = newStore();
    for (let i = 0; i < 5; i++) await put(store, bundle(`m${i}`, `var x = ${i};`, trust.rolesOf));
    await put(store, bundle("m0", "var x = 'again';", trust.rolesOf));
    assert.deepEqual(allNames(dir).filter((n) => n.includes(".tmp-")), []);
  });
});
