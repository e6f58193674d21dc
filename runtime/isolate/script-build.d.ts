// Types of script-build.js (plain JavaScript so that scripts/build.mjs can import it; see there).
import type { BuildOptions } from "esbuild";

/** esbuild's options shared by every script that runs in a module isolate (bootstrap and modules). */
export declare const ISOLATE_SCRIPT_OPTIONS: Readonly<Required<Pick<BuildOptions, "bundle" | "format" | "platform" | "target" | "keepNames">>>;

/** The bootstrap's entry, relative to the package root. */
export declare const BOOTSTRAP_ENTRY: string;

/** The built bootstrap's file name in dist/. */
export declare const BOOTSTRAP_FILE: string;
