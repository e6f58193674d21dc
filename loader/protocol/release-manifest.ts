/**
 * The release format: a signed, numbered manifest of module digests for one cluster, what a
 * node in production runs (DESIGN.md, "Bundles, releases, modes").
 *
 *   manifest    the signed bytes below
 *   signature   Ed25519 over the manifest bytes, by `signer` (64 bytes, detached)
 *
 * The manifest's bytes are canonical, so that a signature means one thing:
 *
 *   "fixpoint-release/1\n" + JSON with exactly these keys in this order:
 *   {"cluster","number","modules","notes","createdAt","signer"}
 *
 * `modules` is [{"name","digest"}] sorted by name, `digest` the lowercase hex SHA-256 of the
 * module's code. The signature covers every module's digest, so a release vouches for its
 * bundles' code by itself: a bundle carried in a release is accepted when its code hashes to the
 * digest the release names, whoever signed the bundle (its own signature is not needed and not
 * checked, so a CI key with only the `release` role can publish). A bundle's source map is
 * checked against the digest in the bundle's manifest, which the release does not cover: it
 * changes what error locations say, never what runs.
 */
import { FixpointError } from "./errors.js";
import { PUBLIC_KEY_BYTES } from "./crypto/ed25519.js";
import { decodeBase64Exact } from "./crypto/keys.js";
import { DIGEST, MODULE_NAME } from "./messages.js";
import { isUtcTime } from "./bundle-manifest.js";

export const RELEASE_PREFIX = "fixpoint-release/1\n";
/** Most modules in one release. */
export const MAX_RELEASE_MODULES = 256;
/** Longest release notes, characters. */
export const MAX_RELEASE_NOTES = 4096;

export interface ReleaseManifest {
  cluster: string;
  /** 1, 2, 3…: a node refuses one at or below its current release unless told to roll back. */
  number: number;
  modules: { name: string; digest: string }[];
  notes: string;
  createdAt: string;
  /** Base64 Ed25519 public key. */
  signer: string;
}

/** A release as it travels and as a node keeps it. */
export interface WireRelease {
  manifest: Uint8Array;
  signature: Uint8Array;
}

const KEYS = ["cluster", "number", "modules", "notes", "createdAt", "signer"] as const satisfies readonly (keyof ReleaseManifest)[];
const CLUSTER = /^[A-Za-z0-9._-]{1,63}$/;

function invalid(why: string): FixpointError {
  return new FixpointError("RELEASE_INVALID", `release manifest: ${why}; create the release again with \`devtool release create\``);
}

export function encodeReleaseManifest(m: ReleaseManifest): Buffer {
  const ordered: Record<string, unknown> = {};
  for (const key of KEYS) ordered[key] = key === "modules" ? m.modules.map((x) => ({ name: x.name, digest: x.digest })) : m[key];
  return Buffer.from(RELEASE_PREFIX + JSON.stringify(ordered), "utf8");
}

/** Parses canonical release manifest bytes. Throws RELEASE_INVALID. */
export function decodeReleaseManifest(bytes: Uint8Array): ReleaseManifest {
  const text = Buffer.from(bytes).toString("utf8");
  if (!text.startsWith(RELEASE_PREFIX)) throw invalid("wrong format header (expected fixpoint-release/1)");
  let value: unknown;
  try {
    value = JSON.parse(text.slice(RELEASE_PREFIX.length));
  } catch {
    throw invalid("not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid("not an object");
  const r = value as Record<string, unknown>;
  const keys = Object.keys(r);
  if (keys.length !== KEYS.length || keys.some((k, i) => k !== KEYS[i])) throw invalid(`keys must be exactly ${KEYS.join(", ")} in that order`);
  const { cluster, number, modules, notes, createdAt, signer } = r;
  if (typeof cluster !== "string" || !CLUSTER.test(cluster)) throw invalid("cluster must be 1-63 letters, digits, '.', '_' or '-'");
  if (typeof number !== "number" || !Number.isSafeInteger(number) || number < 1) throw invalid("number must be a positive integer");
  if (!Array.isArray(modules) || modules.length === 0 || modules.length > MAX_RELEASE_MODULES) throw invalid(`modules must list 1 to ${MAX_RELEASE_MODULES} modules`);
  const list: { name: string; digest: string }[] = [];
  for (const m of modules as unknown[]) {
    const entry = (m ?? {}) as Record<string, unknown>;
    if (typeof m !== "object" || m === null || Object.keys(entry).join(",") !== "name,digest") throw invalid("each module must be exactly {name, digest}");
    if (typeof entry["name"] !== "string" || !MODULE_NAME.test(entry["name"])) throw invalid(`module name must match ${String(MODULE_NAME)}`);
    if (typeof entry["digest"] !== "string" || !DIGEST.test(entry["digest"])) throw invalid("module digest must be lowercase hex SHA-256");
    if (list.length > 0 && list[list.length - 1]!.name >= entry["name"]) throw invalid("modules must be sorted by name, each once");
    list.push({ name: entry["name"], digest: entry["digest"] });
  }
  if (typeof notes !== "string" || notes.length > MAX_RELEASE_NOTES) throw invalid(`notes must be text of at most ${MAX_RELEASE_NOTES} characters`);
  if (typeof createdAt !== "string" || !isUtcTime(createdAt)) throw invalid("createdAt must be an ISO-8601 UTC time");
  if (typeof signer !== "string" || decodeBase64Exact(signer, PUBLIC_KEY_BYTES) === null) throw invalid("signer must be a base64 Ed25519 public key");
  const manifest: ReleaseManifest = { cluster, number, modules: list, notes, createdAt, signer };
  if (!encodeReleaseManifest(manifest).equals(Buffer.from(bytes))) throw invalid("not in canonical form");
  return manifest;
}
