/**
 * The node's content-addressed bundle store and its table of current modules.
 *
 *   store/
 *   ├── bundles/<digest>.bundle    one verified bundle (CBOR: manifest, signature, code, sourceMap)
 *   ├── modules.json               { "modules": { name: { digest, storedAt } } }: what runs now
 *   └── states/                    each module's saved state (state-store.ts)
 *
 * Writes are crash-safe (atomic.ts) and a bundle is durable before a table on disk points at
 * it. Every read re-verifies digest and signature: a file that fails is reported
 * (STORE_CORRUPT), left out, and never loaded.
 *
 * Bundles nothing needs are removed, so a store does not grow with every save in a dev loop
 * (issue 10): a version that left the table goes once no table on disk names it, no release the
 * node holds names it, and no push is loading it (flush); a version a push replaced before any
 * flush is never written at all. At boot, `sweep` removes what a crash left behind.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { FixpointError, toFixpointError } from "../protocol/errors.js";
import { decodeCbor, encodeCbor } from "../protocol/cbor.js";
import { bundleSchema, DIGEST, MODULE_NAME, type Role, type WireBundle } from "../protocol/messages.js";
import { check, data, object, record, string, validate, validateFile } from "../protocol/schema.js";
import { verifyBundle, type VerifiedBundle } from "../bundle/verify.js";
import { decodeManifest, payloadMismatch } from "../protocol/bundle-manifest.js";
import { syncFiles, writeFileAtomicAsync } from "./atomic.js";

export interface ModuleEntry {
  name: string;
  digest: string;
  storedAt: string;
}

export interface StoreProblem {
  file: string;
  error: FixpointError;
}

/** A bundle's file name is its digest and this. */
const BUNDLE_SUFFIX = ".bundle";

/** modules.json: each entry is checked on its own, so that one malformed entry leaves the others. */
const TABLE = object({ modules: record(data()) });
const TABLE_ENTRY = object({ digest: string(64, DIGEST), storedAt: string(64) });

type SignerRoles = (key: Uint8Array) => readonly Role[] | null;

export class BundleStore {
  private readonly bundlesDir: string;
  private readonly tableFile: string;
  private table: Map<string, ModuleEntry>;
  /** The table write in progress, and one waiting to start (see setCurrent). */
  private lastWrite: Promise<void> = Promise.resolve();
  private queuedWrite: Promise<void> | null = null;
  /**
   * Bundles pushes stored, kept here until a flush writes the ones the table then names (a
   * version a burst replaced is never written), and whether the table has changes not written.
   */
  private readonly pending = new Map<string, VerifiedBundle>();
  private dirty = false;
  /** The digests the table on disk names (as last written or read). */
  private written: Set<string>;
  /** Digests that left the table in memory: removed by `collect` once nothing needs them. */
  private readonly retired = new Set<string>();
  /** Problems met while reading the store; the node reports them in its log. */
  readonly problems: StoreProblem[] = [];

  /**
   * @param vouched whether a release the node holds names `digest`: such a bundle is verified
   *   by its digest, which the release's signature covers (loader/release/release.ts), not by
   *   its own signer's role.
   */
  constructor(
    readonly dir: string,
    private readonly signerRoles: SignerRoles,
    private readonly vouched: (digest: string) => boolean = () => false,
  ) {
    this.bundlesDir = join(dir, "bundles");
    this.tableFile = join(dir, "modules.json");
    mkdirSync(this.bundlesDir, { recursive: true });
    this.table = this.readTable();
    this.written = new Set([...this.table.values()].map((e) => e.digest));
  }

  private readTable(): Map<string, ModuleEntry> {
    const table = new Map<string, ModuleEntry>();
    if (!existsSync(this.tableFile)) return table;
    const problem = (why: string, cause?: unknown) => this.problems.push({ file: this.tableFile, error: new FixpointError("STORE_CORRUPT", why, cause === undefined ? {} : { cause }) });
    let modules: Record<string, unknown>;
    try {
      modules = validateFile(TABLE, JSON.parse(readFileSync(this.tableFile, "utf8")), this.tableFile, "STORE_CORRUPT").modules;
    } catch (err) {
      problem(`${this.tableFile} cannot be read (${(err as Error).message}); starting with no modules`, err);
      return table;
    }
    for (const [name, entry] of Object.entries(modules)) {
      try {
        const { digest, storedAt } = validate(TABLE_ENTRY, entry, name);
        if (!MODULE_NAME.test(name)) throw new Error("not a module name");
        table.set(name, { name, digest, storedAt });
      } catch (err) {
        problem(`${this.tableFile}: entry "${name}" is malformed (${(err as Error).message}) and was ignored`, err);
      }
    }
    return table;
  }

  private bundleFile(digest: string): string {
    return join(this.bundlesDir, digest + BUNDLE_SUFFIX);
  }

  has(digest: string): boolean {
    return this.pending.has(digest) || existsSync(this.bundleFile(digest));
  }

  /**
   * Writes a verified bundle under its digest unless an intact copy is there already; with
   * `durable = false` (a push), keeps it for the next flush instead, which writes it if the
   * table still names it then. Storing does not make it current: a node stores first (or while
   * it loads), and only then points at it.
   */
  async storeBundle(verified: VerifiedBundle, durable = true): Promise<boolean> {
    const { manifest, bundle } = verified;
    // A bundle a push left pending and a stage now sends is written at once: a release's
    // bundles are on disk before the stage answers.
    const pending = this.pending.has(manifest.digest);
    const onDisk = !pending && existsSync(this.bundleFile(manifest.digest));
    if (pending ? !durable : onDisk && (await this.intact(manifest.digest))) return false;
    // A damaged copy on disk is replaced now: no table change may come to make a flush write it.
    if (!durable && !onDisk) {
      this.pending.set(manifest.digest, verified);
      return true;
    }
    try {
      await writeFileAtomicAsync(this.bundleFile(manifest.digest), encodeCbor(bundle));
      this.pending.delete(manifest.digest);
    } catch (err) {
      throw new FixpointError("STORE_WRITE_FAILED", `cannot store bundle ${manifest.name} ${manifest.digest.slice(0, 12)}: ${(err as Error).message}`, { cause: err });
    }
    return true;
  }

  /**
   * Makes `digest` (already stored) the current version of module `name`; false if it already
   * was. The table in memory changes at once; the file follows, one write at a time, each
   * writing the whole table as it is when the write starts (so writes of several modules
   * coalesce and the last one on disk is the newest). If the write fails, the entry goes back.
   */
  async setCurrent(name: string, digest: string, durable = true, inUse: (digest: string) => boolean = () => false): Promise<boolean> {
    const before = this.table.get(name);
    if (before?.digest === digest) return false;
    const entry = { name, digest, storedAt: new Date().toISOString() };
    this.table.set(name, entry);
    if (before !== undefined) this.retired.add(before.digest);
    // A version replaced before a flush wrote it goes now: held until then, a burst's bundles
    // all lived long enough for V8 to move them to the old generation (the loader's RSS grew).
    if (before !== undefined && this.pending.has(before.digest) && !this.needed(before.digest, inUse)) this.pending.delete(before.digest);
    this.dirty ||= !durable;
    if (!durable) return true;
    try {
      await this.flushTable();
    } catch (err) {
      if (this.table.get(name) === entry) {
        if (before === undefined) this.table.delete(name);
        else this.table.set(name, before);
      }
      throw new FixpointError("STORE_WRITE_FAILED", `cannot write ${this.tableFile}: ${(err as Error).message}`, { cause: err });
    }
    return true;
  }

  /**
   * Makes durable what pushes changed without (`durable = false`: a push then costs no fsync, and
   * a burst of them one table write): the bundles the table names, then the table. The node's
   * snapshot calls this every second, before it saves states, and on an orderly stop; so a
   * loader killed meanwhile comes back with the versions of the last flush. Failed: tried again
   * next time. Then removes the versions nothing needs any more (collect); `inUse` names those a
   * push is loading.
   */
  async flush(inUse: (digest: string) => boolean = () => false): Promise<void> {
    if (this.dirty) {
      this.dirty = false;
      try {
        await this.flushTable();
      } catch (err) {
        this.dirty = true;
        throw new FixpointError("STORE_WRITE_FAILED", `cannot write ${this.tableFile}: ${(err as Error).message}`, { cause: err });
      }
    }
    this.collect(inUse);
  }

  /**
   * Writes the whole table as it is when the write starts, after every bundle it names that a
   * push left pending (written, then fsynced together): a table on disk never names a bundle a
   * machine's crash could lose.
   */
  private flushTable(): Promise<void> {
    if (this.queuedWrite !== null) return this.queuedWrite;
    const queued = this.lastWrite.catch(() => {}).then(async () => {
      this.queuedWrite = null;
      const entries = [...this.table].sort(([a], [b]) => a.localeCompare(b));
      const digests = new Set(entries.map(([, e]) => e.digest));
      const pending = [...digests].filter((d) => this.pending.has(d));
      if (pending.length > 0) {
        for (const d of pending) await writeFileAtomicAsync(this.bundleFile(d), encodeCbor(this.pending.get(d)!.bundle), 0o644, false);
        await syncFiles([...pending.map((d) => this.bundleFile(d)), this.bundlesDir]);
        for (const d of pending) this.pending.delete(d);
      }
      const modules: Record<string, { digest: string; storedAt: string }> = {};
      for (const [name, e] of entries) modules[name] = { digest: e.digest, storedAt: e.storedAt };
      await writeFileAtomicAsync(this.tableFile, JSON.stringify({ modules }, null, 2) + "\n");
      this.written = digests;
    });
    this.queuedWrite = queued;
    this.lastWrite = queued;
    return queued;
  }

  /** Whether anything may still need `digest`: the table in memory or on disk, a held release, a push in progress. */
  private needed(digest: string, inUse: (digest: string) => boolean): boolean {
    return this.written.has(digest) || this.vouched(digest) || inUse(digest) || [...this.table.values()].some((e) => e.digest === digest);
  }

  /** Removes the retired versions nothing needs (synchronously: no push can start meanwhile). */
  private collect(inUse: (digest: string) => boolean): void {
    for (const digest of this.retired) {
      if (this.needed(digest, inUse)) continue;
      this.retired.delete(digest);
      if (!this.pending.delete(digest)) rmSync(this.bundleFile(digest), { force: true });
    }
  }

  /**
   * At boot, once the node knows which releases it holds: removes every bundle file nothing
   * needs (versions replaced before a crash, a stage cut short) and temporary files of writes
   * a crash interrupted. Returns how many files went.
   */
  sweep(): number {
    let removed = 0;
    for (const name of readdirSync(this.bundlesDir)) {
      const digest = name.endsWith(BUNDLE_SUFFIX) ? name.slice(0, -BUNDLE_SUFFIX.length) : "";
      if (DIGEST.test(digest) ? this.needed(digest, () => false) : !name.startsWith(".tmp-")) continue;
      rmSync(join(this.bundlesDir, name), { force: true });
      removed++;
    }
    return removed;
  }

  /** One module's entry in the table, or undefined. */
  entry(name: string): ModuleEntry | undefined {
    return this.table.get(name);
  }

  /** The current modules, as the table says (not re-verified; see `load`). */
  modules(): ModuleEntry[] {
    return [...this.table.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  private read(digest: string, role: Role): VerifiedBundle {
    const pending = this.pending.get(digest);
    if (pending !== undefined) return this.vouched(digest) ? pending : verifyBundle(pending.bundle, this.signerRoles, role);
    return this.decodeAndVerify(readFileSync(this.bundleFile(digest)), digest, role);
  }

  private decodeAndVerify(bytes: Uint8Array, digest: string, role: Role): VerifiedBundle {
    const value = decodeCbor(bytes);
    check(bundleSchema, value, "bundle");
    const verified = this.vouched(digest) ? verifyByDigest(value as WireBundle) : verifyBundle(value as WireBundle, this.signerRoles, role);
    if (verified.manifest.digest !== digest) throw new FixpointError("BUNDLE_DIGEST_MISMATCH", `holds bundle ${verified.manifest.digest}, not ${digest}`);
    return verified;
  }

  /** Whether the copy of `digest` on disk is intact and verifies (storeBundle asks only when there is one). */
  private async intact(digest: string): Promise<boolean> {
    try {
      this.decodeAndVerify(await readFile(this.bundleFile(digest)), digest, "dev");
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Reads a bundle back and re-verifies it. Throws STORE_CORRUPT when the file is missing,
   * malformed, or fails verification, and records the problem.
   */
  load(digest: string, role: Role = "dev"): VerifiedBundle {
    const file = this.bundleFile(digest);
    try {
      return this.read(digest, role);
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
      const cause = toFixpointError(err);
      const why = missing ? "the file is missing" : `${cause.code}: ${cause.message}`;
      const error = new FixpointError("STORE_CORRUPT", `stored bundle ${file} failed verification (${why}); it was ignored`, { cause });
      this.problems.push({ file, error });
      throw error;
    }
  }

  /**
   * Makes the table exactly `modules` (a committed release), in one write. Every bundle must be
   * stored already.
   */
  async setAll(modules: { name: string; digest: string }[]): Promise<void> {
    const now = new Date().toISOString();
    const next = new Map(modules.map((m) => [m.name, this.table.get(m.name)?.digest === m.digest ? this.table.get(m.name)! : { name: m.name, digest: m.digest, storedAt: now }]));
    const before = this.table;
    this.table = next;
    for (const e of before.values()) this.retired.add(e.digest);
    try {
      await this.flushTable();
    } catch (err) {
      if (this.table === next) this.table = before;
      throw new FixpointError("STORE_WRITE_FAILED", `cannot write ${this.tableFile}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Removes a stored bundle nothing refers to (a push that did not become current). */
  discard(digest: string): void {
    if (this.needed(digest, () => false)) return;
    if (!this.pending.delete(digest)) rmSync(this.bundleFile(digest), { force: true });
  }

}

/** A bundle checked against its own manifest's digests only (its release vouches for the code). */
function verifyByDigest(bundle: WireBundle): VerifiedBundle {
  const manifest = decodeManifest(bundle.manifest);
  const altered = payloadMismatch(bundle, manifest);
  if (altered !== null) throw new FixpointError("BUNDLE_DIGEST_MISMATCH", `bundle ${manifest.name}: its ${altered} does not match its manifest's digest`);
  return { manifest, bundle };
}
