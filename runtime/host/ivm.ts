/**
 * The one place that picks the isolated-vm release for the Node.js line the runtime runs on.
 *
 * isolated-vm is compiled against V8's C++ API, which changes with each Node.js major, and no
 * one release covers every line in service (issue 14):
 *
 *   Node.js  release   how it installs
 *   20       5.0.4     built from source (node-gyp); 6 and later need Node 22's V8
 *   22       6.2.0     prebuilt binary shipped in the registry package (ABI 127)
 *   24       7.0.1     prebuilt binary shipped in the registry package (ABI 137); 5 fails to build
 *   26       7.0.1     prebuilt binary shipped in the registry package (ABI 147); 6 fails to build
 *
 * The three are optional dependencies under npm aliases (`isolated-vm-5`, `-6`, `-7` in
 * package.json). npm leaves out an optional dependency whose `engines` exclude the running Node
 * (6 needs >= 22, 7 needs >= 24), and removes one whose install script fails (5 on 24 and 26, 6
 * on 26) without failing the install, so `npm ci` succeeds on every line and leaves the release
 * this table names. Odd lines (21, 23, 25) are refused: isolated-vm supports none of them.
 *
 * Types come from `isolated-vm.d.cts`, a copy of the declarations (with isolated-vm's ISC
 * notice), which are the same file in all three releases (a test checks each installed one
 * against it): on any one line some of the aliases are not installed, so the types cannot be
 * taken from one of them.
 *
 * Every release asks for `--no-node-snapshot` on Node 20 and later; the loader starts the
 * runtime process with it (loader/supervisor/runtime-entry.ts), and `npm test` runs with it.
 */
import { createRequire } from "node:module";
import { FixpointError } from "../../loader/protocol/errors.js";
import type IsolatedVM from "./isolated-vm.cjs";

export type { IsolatedVM };

/** Node.js major → the npm alias (package.json `optionalDependencies`) of its isolated-vm release. */
export const ISOLATED_VM_FOR_NODE = {
  20: "isolated-vm-5",
  22: "isolated-vm-6",
  24: "isolated-vm-7",
  26: "isolated-vm-7",
} as const satisfies Record<number, string>;

export type IsolatedVmPackage = (typeof ISOLATED_VM_FOR_NODE)[keyof typeof ISOLATED_VM_FOR_NODE];

/** The supported Node.js majors, ascending: `[20, 22, 24, 26]`. */
export const SUPPORTED_NODE_MAJORS: readonly number[] = Object.keys(ISOLATED_VM_FOR_NODE).map(Number);

const table: Readonly<Record<number, IsolatedVmPackage | undefined>> = ISOLATED_VM_FOR_NODE;

/**
 * The package to load isolated-vm from on Node.js `nodeVersion` (`process.versions.node`, with
 * or without a leading `v`). Throws `NODEJS_UNSUPPORTED` for a line with no release.
 *
 * @example
 * isolatedVmPackageFor("24.11.0"); // "isolated-vm-7"
 */
export function isolatedVmPackageFor(nodeVersion: string): IsolatedVmPackage {
  const major = /^v?(\d+)\.\d+\.\d+/.exec(nodeVersion)?.[1];
  const name = major === undefined ? undefined : table[Number(major)];
  if (name === undefined) {
    throw new FixpointError(
      "NODEJS_UNSUPPORTED",
      `Node.js ${nodeVersion} is not supported: Fixpoint runs on Node.js ${SUPPORTED_NODE_MAJORS.join(", ")} (the lines isolated-vm has a release for); run it with one of those`,
    );
  }
  return name;
}

/**
 * Loads the isolated-vm release for `nodeVersion` (default: this process's). Throws
 * `NODEJS_UNSUPPORTED` for a line with no release, and `ISOLATED_VM_MISSING` when the release
 * is not installed or does not load (node_modules installed with another Node.js line, or its
 * native build failed and npm dropped it).
 */
export function loadIsolatedVm(nodeVersion: string = process.versions.node): typeof IsolatedVM {
  const name = isolatedVmPackageFor(nodeVersion);
  try {
    return createRequire(import.meta.url)(name) as typeof IsolatedVM;
  } catch (err) {
    const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new FixpointError(
      "ISOLATED_VM_MISSING",
      `${name}, the isolated-vm release for Node.js ${nodeVersion}, did not load (${why}). ` +
        `It is an optional dependency, installed only on the Node.js line it fits: run \`npm ci\` with this Node.js ` +
        `(${process.execPath}); if it is still missing, \`npm ci --foreground-scripts\` shows why its install failed`,
      { cause: err },
    );
  }
}

/** isolated-vm, the release for this process's Node.js line. Loaded when the runtime starts, so a wrong line fails at once. */
export const ivm: typeof IsolatedVM = loadIsolatedVm();
