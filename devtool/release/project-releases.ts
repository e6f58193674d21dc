/**
 * The releases a project keeps, beside its fixpoint.json:
 *
 *   PROJECT/.fixpoint/releases/
 *   ├── <N>/
 *   │   ├── release                  CBOR { manifest, signature }: the same bytes a node keeps
 *   │   │                            as store/releases/<N>.release
 *   │   └── bundles/<digest>.bundle  CBOR bundle { manifest, signature, code, sourceMap }, one
 *   │                                per module, as a node's store keeps it
 *   └── .tmp-<N>-…/                  a release being written (ignored; left by a crash)
 *
 * A release folder appears whole or not at all: it is written under a temporary name, fsynced,
 * and renamed to its number, and a rename onto a number that exists fails, so two `release
 * create` at once cannot both take one number. Everything read back is checked (the release's
 * signature against its signer, each bundle's code against the digest the release names): a
 * release edited on disk is RELEASE_INVALID here, before any node sees it.
 *
 * Out of git on purpose (the folder's .gitignore says `*`, as `devtool dev` writes it): a
 * release is a build artifact of megabytes per number, reproducible from the commit it was
 * built from, and its authority is its signature, not the repository. See the README's
 * "Production" section.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  FixpointError,
  PUBLIC_KEY_BYTES,
  bundleSchema,
  decodeBase64Exact,
  decodeCbor,
  encodeCbor,
  releaseSchema,
  validate,
  verifyDetached,
  type WireBundle,
} from "../../loader/index.js";
import { fsyncDir } from "../files/write-atomic.js";
import { decodeReleaseManifest, verifyReleaseBundle, type ReleaseManifest, type WireRelease } from "../../loader/index.js";

/** A release as the project keeps it, checked. */
export interface ProjectRelease {
  number: number;
  manifest: ReleaseManifest;
  release: WireRelease;
  /** Its folder. */
  dir: string;
}

const NUMBER_DIR = /^[1-9]\d{0,14}$/;

const IGNORE_TEXT = "# Written by devtool: local nodes, private keys and releases (build artifacts). Never commit them.\n*\n";

export class ProjectReleases {
  /** PROJECT/.fixpoint/releases */
  readonly dir: string;

  /** `stateDir`: the project's .fixpoint folder. */
  constructor(private readonly stateDir: string) {
    this.dir = join(stateDir, "releases");
  }

  /** Release numbers kept, ascending. */
  numbers(): number[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((name) => NUMBER_DIR.test(name) && existsSync(join(this.dir, name, "release")))
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** The number the next release gets: one above the last kept. */
  nextNumber(): number {
    return (this.numbers().at(-1) ?? 0) + 1;
  }

  /** The newest release, or null when the project has none. */
  newest(): ProjectRelease | null {
    const last = this.numbers().at(-1);
    return last === undefined ? null : this.read(last);
  }

  /** Release `number`, its signature checked. USAGE when the project has no such release. */
  read(number: number): ProjectRelease {
    const dir = join(this.dir, String(number));
    const file = join(dir, "release");
    if (!existsSync(file)) {
      const have = this.numbers();
      throw new FixpointError("USAGE", `this project has no release ${number} in ${this.dir} (${have.length === 0 ? "none yet: create one with `devtool release create`" : `it has ${have.join(", ")}`})`);
    }
    let release: WireRelease;
    let manifest: ReleaseManifest;
    try {
      release = validate(releaseSchema, decodeCbor(readFileSync(file)), "release");
      manifest = decodeReleaseManifest(release.manifest);
    } catch (err) {
      throw new FixpointError("RELEASE_INVALID", `${file} is damaged (${(err as Error).message}); delete ${dir} and create the release again`, { cause: err });
    }
    const signer = decodeBase64Exact(manifest.signer, PUBLIC_KEY_BYTES)!;
    if (!verifyDetached(release.manifest, release.signature, signer)) {
      throw new FixpointError("RELEASE_SIGNATURE_INVALID", `${file}: the signature does not verify; the release was altered after it was signed. Delete ${dir} and create the release again`);
    }
    if (manifest.number !== number) throw new FixpointError("RELEASE_INVALID", `${file} is release ${manifest.number}, kept under ${number}; delete ${dir} and create the release again`);
    return { number, manifest, release, dir };
  }

  /** The bundle of `digest` in release `r`, checked against the digest the release names. */
  bundle(r: ProjectRelease, digest: string): WireBundle {
    const file = join(r.dir, "bundles", `${digest}.bundle`);
    let bundle: WireBundle;
    try {
      bundle = validate(bundleSchema, decodeCbor(readFileSync(file)), "bundle");
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "is missing" : `is damaged (${(err as Error).message})`;
      throw new FixpointError("RELEASE_BUNDLE_INVALID", `${file} ${why}; delete ${r.dir} and create the release again`, { cause: err });
    }
    verifyReleaseBundle(bundle, r.manifest);
    return bundle;
  }

  /**
   * Keeps a signed release and its bundles under its number, whole or not at all. Throws
   * RELEASE_INVALID if the number is taken meanwhile (another `release create` got there first).
   */
  write(release: WireRelease, manifest: ReleaseManifest, bundles: WireBundle[]): ProjectRelease {
    this.ensureIgnored();
    mkdirSync(this.dir, { recursive: true });
    const final = join(this.dir, String(manifest.number));
    const tmp = join(this.dir, `.tmp-${manifest.number}-${process.pid}-${Date.now()}`);
    mkdirSync(join(tmp, "bundles"), { recursive: true });
    try {
      for (const bundle of bundles) {
        // What is kept is what a node will accept: each bundle checked against the release.
        const { digest } = verifyReleaseBundle(bundle, manifest);
        writeDurable(join(tmp, "bundles", `${digest}.bundle`), encodeCbor(bundle));
      }
      writeDurable(join(tmp, "release"), encodeCbor({ manifest: release.manifest, signature: release.signature }));
      fsyncDir(join(tmp, "bundles"));
      fsyncDir(tmp);
      if (existsSync(final)) throw new FixpointError("RELEASE_INVALID", `release ${manifest.number} appeared in ${this.dir} while this one was made; run \`devtool release create\` again`);
      renameSync(tmp, final);
      fsyncDir(this.dir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      if ((err as NodeJS.ErrnoException).code === "ENOTEMPTY" || (err as NodeJS.ErrnoException).code === "EEXIST") {
        throw new FixpointError("RELEASE_INVALID", `release ${manifest.number} appeared in ${this.dir} while this one was made; run \`devtool release create\` again`, { cause: err });
      }
      throw err;
    }
    return { number: manifest.number, manifest, release, dir: final };
  }

  /** The project's .fixpoint folder holds private keys (devtool dev) and artifacts: keep it out of git. */
  private ensureIgnored(): void {
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    const ignore = join(this.stateDir, ".gitignore");
    if (!existsSync(ignore)) writeFileSync(ignore, IGNORE_TEXT);
  }
}

function writeDurable(file: string, bytes: Uint8Array): void {
  writeFileSync(file, bytes, { flush: true });
}
