/**
 * The node's content-addressed bundle store and its table of current modules.
 *
 *   store/
 *   ├── bundles/<digest>.bundle    one verified bundle (CBOR: manifest, signature, code, sourceMap)
 *   ├── modules.json               { "modules": { name: { digest, storedAt } } }: what runs now
 *   └── states/                    each module's saved state (state-store.ts)
 *
 * Writes are crash-safe (atomic.ts) and a bundle is written before the table points at it.
 * Every read re-verifies digest and signature: a file that fails is reported (STORE_CORRUPT),
 * left out, and never loaded.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { FixpointError, toFixpointError } from "../protocol/errors.js";
import { decodeCbor, encodeCbor } from "../protocol/cbor.js";
import { bundleSchema, DIGEST, MODULE_NAME, type Role, type WireBundle } from "../protocol/messages.js";
import { check } from "../protocol/schema.js";
import { verifyBundle, type VerifiedBundle } from "../bundle/verify.js";
import { decodeManifest, payloadMismatch } from "../protocol/bundle-manifest.js";
import { syncFiles, writeFileAtomic, writeFileAtomicAsync } from "./atomic.js";

export interface ModuleEntry {
  name: string;
  digest: string;
  storedAt: string;
}

export interface StoreProblem {
  file: string;
  error: FixpointError;
}

type SignerRoles = (key: Uint8Array) => readonly Role[] | null;

export class BundleStore {
  private readonly bundlesDir: string;
  private readonly tableFile: string;
  private table: Map<string, ModuleEntry>;
  /** The table write in progress, and one waiting to start (see setCurrent). */
  private lastWrite: Promise<void> = Promise.resolve();
  private queuedWrite: Promise<void> | null = null;
  /** Bundles written without an fsync, and whether the table has changes not written (see flush). */
  private readonly unsynced = new Set<string>();
  private dirty = false;
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
  }

  /** Creates an empty store. */
  static init(dir: string): void {
    mkdirSync(join(dir, "bundles"), { recursive: true });
    writeFileAtomic(join(dir, "modules.json"), JSON.stringify({ modules: {} }, null, 2) + "\n");
  }

  private readTable(): Map<string, ModuleEntry> {
    const table = new Map<string, ModuleEntry>();
    if (!existsSync(this.tableFile)) return table;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.tableFile, "utf8"));
    } catch (err) {
      this.problems.push({ file: this.tableFile, error: new FixpointError("STORE_CORRUPT", `${this.tableFile} is not JSON; starting with no modules`, { cause: err }) });
      return table;
    }
    const modules = (parsed as { modules?: unknown }).modules;
    if (typeof modules !== "object" || modules === null) {
      this.problems.push({ file: this.tableFile, error: new FixpointError("STORE_CORRUPT", `${this.tableFile} has no "modules" map; starting with no modules`) });
      return table;
    }
    for (const [name, entry] of Object.entries(modules as Record<string, unknown>)) {
      const { digest, storedAt } = (entry ?? {}) as { digest?: unknown; storedAt?: unknown };
      if (!MODULE_NAME.test(name) || typeof digest !== "string" || !DIGEST.test(digest) || typeof storedAt !== "string") {
        this.problems.push({ file: this.tableFile, error: new FixpointError("STORE_CORRUPT", `${this.tableFile}: entry "${name}" is malformed and was ignored`) });
        continue;
      }
      table.set(name, { name, digest, storedAt });
    }
    return table;
  }

  private bundleFile(digest: string): string {
    return join(this.bundlesDir, `${digest}.bundle`);
  }

  has(digest: string): boolean {
    return existsSync(this.bundleFile(digest));
  }

  /**
   * Writes a verified bundle under its digest unless an intact copy is there already.
   * Storing does not make it current: a node stores first (or while it loads), and only then
   * points at it.
   */
  async storeBundle(verified: VerifiedBundle, durable = true): Promise<boolean> {
    const { manifest, bundle } = verified;
    if (await this.intact(manifest.digest)) return false;
    try {
      await writeFileAtomicAsync(this.bundleFile(manifest.digest), encodeCbor(bundle), 0o644, durable);
      if (!durable) this.unsynced.add(manifest.digest);
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
  async setCurrent(name: string, digest: string, durable = true): Promise<boolean> {
    const before = this.table.get(name);
    if (before?.digest === digest) return false;
    const entry = { name, digest, storedAt: new Date().toISOString() };
    this.table.set(name, entry);
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
   * a burst of them one table write): the bundles first, then the table that names them. The
   * node's snapshot calls this every second, before it saves states, and on an orderly stop; so a
   * loader killed meanwhile comes back with the versions of the last flush. Failed: tried again next time.
   */
  async flush(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const bundles = [...this.unsynced];
    try {
      await syncFiles([...bundles.map((d) => this.bundleFile(d)), this.bundlesDir]);
      for (const d of bundles) this.unsynced.delete(d);
      await this.flushTable();
    } catch (err) {
      this.dirty = true;
      throw new FixpointError("STORE_WRITE_FAILED", `cannot write ${this.tableFile}: ${(err as Error).message}`, { cause: err });
    }
  }

  private flushTable(): Promise<void> {
    if (this.queuedWrite !== null) return this.queuedWrite;
    const queued = this.lastWrite.catch(() => {}).then(() => {
      this.queuedWrite = null;
      const modules: Record<string, { digest: string; storedAt: string }> = {};
      for (const [name, e] of [...this.table].sort(([a], [b]) => a.localeCompare(b))) modules[name] = { digest: e.digest, storedAt: e.storedAt };
      return writeFileAtomicAsync(this.tableFile, JSON.stringify({ modules }, null, 2) + "\n");
    });
    this.queuedWrite = queued;
    this.lastWrite = queued;
    return queued;
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
    return this.decodeAndVerify(readFileSync(this.bundleFile(digest)), digest, role);
  }

  private decodeAndVerify(bytes: Uint8Array, digest: string, role: Role): VerifiedBundle {
    const value = decodeCbor(bytes);
    check(bundleSchema, value, "bundle");
    const verified = this.vouched(digest) ? verifyByDigest(value as WireBundle) : verifyBundle(value as WireBundle, this.signerRoles, role);
    if (verified.manifest.digest !== digest) throw new FixpointError("BUNDLE_DIGEST_MISMATCH", `holds bundle ${verified.manifest.digest}, not ${digest}`);
    return verified;
  }

  /** Whether an intact, verifying copy of `digest` is stored. */
  private async intact(digest: string): Promise<boolean> {
    // A new version's file is not there: a stat says so without a trip through the thread pool.
    if (!this.has(digest)) return false;
    let bytes: Buffer;
    try {
      bytes = await readFile(this.bundleFile(digest));
    } catch {
      return false;
    }
    try {
      this.decodeAndVerify(bytes, digest, "dev");
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
    try {
      await this.flushTable();
    } catch (err) {
      if (this.table === next) this.table = before;
      throw new FixpointError("STORE_WRITE_FAILED", `cannot write ${this.tableFile}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Removes a stored bundle nothing refers to (a push that did not become current). */
  discard(digest: string): void {
    if ([...this.table.values()].some((e) => e.digest === digest)) return;
    rmSync(this.bundleFile(digest), { force: true });
  }

}

/** A bundle checked against its own manifest's digests only (its release vouches for the code). */
function verifyByDigest(bundle: WireBundle): VerifiedBundle {
  const manifest = decodeManifest(bundle.manifest);
  const altered = payloadMismatch(bundle, manifest);
  if (altered !== null) throw new FixpointError("BUNDLE_DIGEST_MISMATCH", `bundle ${manifest.name}: its ${altered} does not match its manifest's digest`);
  return { manifest, bundle };
}
