/**
 * The bundle format. A bundle is one module built for an isolate:
 *
 *   manifest    the signed bytes below
 *   signature   Ed25519 over the manifest bytes, by `signer` (64 bytes, detached)
 *   code        the script esbuild produced
 *   sourceMap   its source map (JSON text)
 *
 * The manifest's bytes are canonical so that a signature means one thing:
 *
 *   "fixpoint-bundle/1\n" + JSON with exactly these keys in this order:
 *   {"name","digest","size","sourceMapDigest","sourceMapSize","builtAt","signer"}
 *
 * `digest` is the lowercase hex SHA-256 of `code` and names the bundle in the store;
 * `sourceMapDigest` that of `sourceMap`; `builtAt` is an ISO-8601 UTC time; `signer` the
 * base64 public key. A parser rejects anything whose re-encoding differs from its bytes.
 */
import { createHash } from "node:crypto";
import { FixpointError } from "./errors.js";
import { PUBLIC_KEY_BYTES } from "./crypto/ed25519.js";
import { decodeBase64Exact } from "./crypto/keys.js";
import { DIGEST, MODULE_NAME } from "./messages.js";

export const MANIFEST_PREFIX = "fixpoint-bundle/1\n";

export interface Manifest {
  name: string;
  digest: string;
  size: number;
  sourceMapDigest: string;
  sourceMapSize: number;
  builtAt: string;
  signer: string;
}

const KEYS = ["name", "digest", "size", "sourceMapDigest", "sourceMapSize", "builtAt", "signer"] as const satisfies readonly (keyof Manifest)[];
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

/**
 * Whether `text` is a UTC time as `Date#toISOString` writes it (milliseconds optional) that
 * names a real instant: the pattern alone let "2024-13-45T25:61:61Z" through (found by
 * test/loader/bundle/manifest-fuzz.test.ts), which any reader turning it into a Date gets as
 * Invalid Date, or as another day ("2024-02-30" is read as March 1).
 */
export function isUtcTime(text: string): boolean {
  if (!ISO_TIME.test(text)) return false;
  const time = new Date(text);
  return !Number.isNaN(time.getTime()) && time.toISOString() === (text.length === 20 ? `${text.slice(0, 19)}.000Z` : text);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function encodeManifest(manifest: Manifest): Buffer {
  const ordered: Record<string, unknown> = {};
  for (const key of KEYS) ordered[key] = manifest[key];
  return Buffer.from(MANIFEST_PREFIX + JSON.stringify(ordered), "utf8");
}

function invalid(why: string): FixpointError {
  return new FixpointError("BUNDLE_INVALID", `bundle manifest: ${why}; rebuild and push again`);
}

/** Parses canonical manifest bytes. Throws BUNDLE_INVALID. */
export function decodeManifest(bytes: Uint8Array): Manifest {
  const text = Buffer.from(bytes).toString("utf8");
  if (!text.startsWith(MANIFEST_PREFIX)) throw invalid("wrong format header (expected fixpoint-bundle/1)");
  let value: unknown;
  try {
    value = JSON.parse(text.slice(MANIFEST_PREFIX.length));
  } catch {
    throw invalid("not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid("not an object");
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length !== KEYS.length || keys.some((k, i) => k !== KEYS[i])) throw invalid(`keys must be exactly ${KEYS.join(", ")} in that order`);
  const { name, digest, size, sourceMapDigest, sourceMapSize, builtAt, signer } = record;
  if (typeof name !== "string" || !MODULE_NAME.test(name)) throw invalid(`name must match ${String(MODULE_NAME)}`);
  if (typeof digest !== "string" || !DIGEST.test(digest)) throw invalid("digest must be lowercase hex SHA-256");
  if (typeof sourceMapDigest !== "string" || !DIGEST.test(sourceMapDigest)) throw invalid("sourceMapDigest must be lowercase hex SHA-256");
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) throw invalid("size must be a byte count");
  if (typeof sourceMapSize !== "number" || !Number.isSafeInteger(sourceMapSize) || sourceMapSize < 0) throw invalid("sourceMapSize must be a byte count");
  if (typeof builtAt !== "string" || !isUtcTime(builtAt)) throw invalid("builtAt must be an ISO-8601 UTC time");
  if (typeof signer !== "string" || decodeBase64Exact(signer, PUBLIC_KEY_BYTES) === null) throw invalid("signer must be a base64 Ed25519 public key");
  const manifest: Manifest = { name, digest, size, sourceMapDigest, sourceMapSize, builtAt, signer };
  if (!encodeManifest(manifest).equals(Buffer.from(bytes))) throw invalid("not in canonical form");
  return manifest;
}

/**
 * Which of a bundle's payloads does not match its manifest's size and SHA-256, or null when
 * both do. Every path that accepts a bundle asks this one question (a push, the store's
 * re-verification, a release carrying it).
 */
export function payloadMismatch(bundle: { code: Uint8Array; sourceMap: Uint8Array }, manifest: Manifest): "code" | "source map" | null {
  if (bundle.code.length !== manifest.size || sha256Hex(bundle.code) !== manifest.digest) return "code";
  if (bundle.sourceMap.length !== manifest.sourceMapSize || sha256Hex(bundle.sourceMap) !== manifest.sourceMapDigest) return "source map";
  return null;
}
