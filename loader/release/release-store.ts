/**
 * Releases on a node's disk, and the one pointer that says which runs.
 *
 *   store/
 *   ├── releases/<N>.release    a release the node holds (CBOR { manifest, signature }),
 *   │                           re-verified whenever it is read
 *   └── release.json            THE POINTER: { format, committed, trying, highest }
 *
 * The pointer is the guarded restart's only commit point (DESIGN.md, Mender/RAUC, OTP's
 * release_handler): it is replaced whole by an atomic rename, fsynced with its folder, and
 * everything it names is on disk before it names it. `committed` is the release the node
 * boots; `trying` is a release being tried, with the module states (state-store sequence
 * numbers) saved from the committed release just before, so a boot that finds `trying`
 * comes back on `committed` with exactly those states. `highest` is the highest release
 * number the node ever committed (a replay of an older release is refused against it).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { FixpointError } from "../protocol/errors.js";
import { decodeCbor, encodeCbor } from "../protocol/cbor.js";
import { MODULE_NAME, releaseSchema, type Role } from "../protocol/messages.js";
import { nullable, object, record, string, uint, validate } from "../protocol/schema.js";
import { writeFileAtomicAsync } from "../store/atomic.js";
import type { ReleaseManifest, WireRelease } from "../protocol/release-manifest.js";
import { verifyRelease } from "./release.js";

export interface Pointer {
  format: 1;
  committed: { number: number; at: string } | null;
  trying: { number: number; from: number; states: Record<string, number>; at: string } | null;
  highest: number;
}

const EMPTY: Pointer = { format: 1, committed: null, trying: null, highest: 0 };

const pointerSchema = object({
  format: uint(1),
  committed: nullable(object({ number: uint(), at: string(64) })),
  trying: nullable(object({ number: uint(), from: uint(), states: record(uint(), 1024), at: string(64) })),
  highest: uint(),
});

export class ReleaseStore {
  private readonly dir: string;
  private readonly pointerFile: string;

  constructor(
    storeDir: string,
    private readonly rolesOf: (key: Uint8Array) => readonly Role[] | null,
    private readonly cluster: string,
  ) {
    this.dir = join(storeDir, "releases");
    this.pointerFile = join(storeDir, "release.json");
    mkdirSync(this.dir, { recursive: true });
  }

  /** The pointer as on disk; a damaged one stops the node from starting (it cannot know what to run). */
  readPointer(): Pointer {
    if (!existsSync(this.pointerFile)) return { ...EMPTY };
    try {
      const value = validate(pointerSchema, JSON.parse(readFileSync(this.pointerFile, "utf8")), "release.json");
      // Each key is a module whose state a rollback reads from store/states/<key>/: only a module
      // name may become that path ("../x" or "__proto__" passed the record schema; found by
      // test/loader/release/pointer-fuzz.test.ts).
      const stray = Object.keys(value.trying?.states ?? {}).find((key) => !MODULE_NAME.test(key));
      if (stray !== undefined) throw new FixpointError("STORE_CORRUPT", `release.json.trying.states: ${JSON.stringify(stray.slice(0, 80))} is not a module name`);
      return { format: 1, committed: value.committed, trying: value.trying === null ? null : { ...value.trying, states: { ...value.trying.states } }, highest: value.highest };
    } catch (err) {
      throw new FixpointError("STORE_CORRUPT", `${this.pointerFile} is damaged (${(err as Error).message}); the node cannot tell which release to run. Restore it from a backup`, { cause: err });
    }
  }

  /** Replaces the pointer: the commit point. Resolves once it is durable. */
  async writePointer(pointer: Pointer): Promise<void> {
    try {
      await writeFileAtomicAsync(this.pointerFile, JSON.stringify(pointer, null, 2) + "\n");
    } catch (err) {
      throw new FixpointError("STORE_WRITE_FAILED", `cannot write ${this.pointerFile}: ${(err as Error).message}`, { cause: err });
    }
  }

  private file(number: number): string {
    return join(this.dir, `${number}.release`);
  }

  /** Keeps a verified release. The same number with other content is refused: a release number means one thing. */
  async hold(release: WireRelease, manifest: ReleaseManifest): Promise<void> {
    if (existsSync(this.file(manifest.number))) {
      const held = this.read(manifest.number);
      if (!Buffer.from(held.release.manifest).equals(Buffer.from(release.manifest))) {
        throw new FixpointError("RELEASE_INVALID", `this node already holds a different release ${manifest.number}; release numbers are never reused — create a new release`);
      }
      return;
    }
    try {
      await writeFileAtomicAsync(this.file(manifest.number), encodeCbor({ manifest: release.manifest, signature: release.signature }));
    } catch (err) {
      throw new FixpointError("STORE_WRITE_FAILED", `cannot keep release ${manifest.number}: ${(err as Error).message}`, { cause: err });
    }
  }

  has(number: number): boolean {
    return existsSync(this.file(number));
  }

  /** A held release, re-verified (signature, signer's role, cluster). */
  read(number: number): { release: WireRelease; manifest: ReleaseManifest } {
    let release: WireRelease;
    try {
      release = validate(releaseSchema, decodeCbor(readFileSync(this.file(number))), "release");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new FixpointError("RELEASE_NOT_STAGED", `this node does not hold release ${number}; stage it first (\`devtool upgrade\` does)`);
      throw new FixpointError("STORE_CORRUPT", `held release ${this.file(number)} is damaged: ${(err as Error).message}`, { cause: err });
    }
    return { release, manifest: verifyRelease(release, this.rolesOf, this.cluster) };
  }

  /** Numbers of the releases held, ascending. */
  held(): number[] {
    return readdirSync(this.dir)
      .filter((f) => /^\d{1,15}\.release$/.test(f))
      .map((f) => Number(f.slice(0, -8)))
      .sort((a, b) => a - b);
  }
}
