/**
 * The project's fixpoint.json, validated strictly: an unknown key anywhere is CONFIG_INVALID
 * naming the key, and so is a value of the wrong shape.
 *
 *   {
 *     "cluster": "default",
 *     "modules": ["src/counter.ts", "src/greeter.ts"],
 *     "nodes": [{ "name": "node-1", "address": "127.0.0.1:7420", "key": "ed25519 AAAA…" }]
 *   }
 *
 * A node's `key` pins it: the devtool talks only to a node that proves that key.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { FixpointError, NAME, parseHostPort, parsePublicKey, type HostPort } from "../../loader/index.js";

export const PROJECT_FILE = "fixpoint.json";

export interface ProjectNode {
  name: string;
  address: HostPort;
  /** The pinned public key. */
  key: Uint8Array;
}

export interface ProjectConfig {
  /** Absolute path of fixpoint.json. */
  file: string;
  /** Directory holding it; module paths are relative to it. */
  root: string;
  cluster: string;
  /** Absolute paths of module entry files. */
  modules: string[];
  nodes: ProjectNode[];
}

export function parseProjectConfig(text: string, file: string): ProjectConfig {
  const fail = (why: string): never => {
    throw new FixpointError("CONFIG_INVALID", `${file}: ${why}`, { location: { file } });
  };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    fail(`not valid JSON (${(err as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail("must be a JSON object");
  const record = value as Record<string, unknown>;
  const known = ["$schema", "cluster", "modules", "nodes"];
  for (const key of Object.keys(record)) if (!known.includes(key)) fail(`unknown key "${key}" (known keys: cluster, modules, nodes)`);
  const root = dirname(file);

  const cluster = record["cluster"] ?? "default";
  if (typeof cluster !== "string" || !NAME.test(cluster)) fail(`"cluster" must be 1-63 letters, digits, ".", "_" or "-"`);

  const modulesValue = record["modules"] ?? [];
  if (!Array.isArray(modulesValue)) fail(`"modules" must be an array of file paths`);
  const modules = (modulesValue as unknown[]).map((m, i) => {
    if (typeof m !== "string" || m === "") fail(`"modules[${i}]" must be a file path`);
    return resolve(root, m as string);
  });

  const nodesValue = record["nodes"] ?? [];
  if (!Array.isArray(nodesValue)) fail(`"nodes" must be an array of { name, address, key }`);
  const names = new Set<string>();
  const nodes = (nodesValue as unknown[]).map((n, i): ProjectNode => {
    const at = `"nodes[${i}]"`;
    if (typeof n !== "object" || n === null || Array.isArray(n)) fail(`${at} must be an object { name, address, key }`);
    const node = n as Record<string, unknown>;
    for (const key of Object.keys(node)) if (!["name", "address", "key"].includes(key)) fail(`${at}: unknown key "${key}" (known keys: name, address, key)`);
    const { name, address, key } = node;
    if (typeof name !== "string" || !NAME.test(name)) fail(`${at}.name must be 1-63 letters, digits, ".", "_" or "-"`);
    if (names.has(name as string)) fail(`${at}.name "${String(name)}" is used twice`);
    names.add(name as string);
    const hp = typeof address === "string" ? parseHostPort(address) : null;
    if (hp === null) fail(`${at}.address must be "HOST:PORT"`);
    if (typeof key !== "string") fail(`${at}.key must be the node's public key ("ed25519 BASE64", printed by \`loader init\`)`);
    let pinned: Uint8Array;
    try {
      pinned = parsePublicKey(key as string, `${at}.key`);
    } catch (err) {
      fail((err as Error).message);
    }
    return { name: name as string, address: hp!, key: pinned! };
  });
  return { file, root, cluster: cluster as string, modules, nodes };
}

/** Finds fixpoint.json in `dir` or above it; null if there is none. */
export function findProjectFile(dir: string): string | null {
  let current = resolve(dir);
  for (;;) {
    const candidate = join(current, PROJECT_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(current);
    if (parent === current) return null;
    current = parent;
  }
}

/** Loads `explicit` (--config) or the nearest fixpoint.json; null when there is none and none was asked for. */
export function loadProjectConfig(explicit: string | undefined, cwd = process.cwd()): ProjectConfig | null {
  const file = explicit !== undefined ? resolve(explicit) : findProjectFile(cwd);
  if (file === null) return null;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new FixpointError("CONFIG_INVALID", `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? "error"})`, { cause: err });
  }
  return parseProjectConfig(text, file);
}

/** Throws CONFIG_INVALID naming fixpoint.json if a module it lists does not exist. */
export function checkListedModules(project: ProjectConfig): void {
  const missing = project.modules.find((m) => !existsSync(m));
  if (missing !== undefined) {
    throw new FixpointError("CONFIG_INVALID", `${project.file}: "modules" lists ${relative(project.root, missing)}, which does not exist`, { location: { file: project.file } });
  }
}
