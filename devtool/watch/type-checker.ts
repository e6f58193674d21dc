/**
 * Type errors beside the dev loop, the way `tsc --watch` runs beside Vite: esbuild only
 * strips types, so a module with `const n: number = "x"` goes live; this reports it without
 * ever delaying a push (issue 12.8).
 *
 * - It runs the TypeScript the user already has: the project's own (resolved from its
 *   folder), else the one installed with the devtool; with neither, it says once that types
 *   are not checked.
 * - One `tsc --watch` process for the session (incremental, so a save costs a recheck of
 *   what changed), at the lowest CPU priority, so that the build, push and swap of a save get
 *   the processor first.
 * - With a tsconfig.json in the project folder it uses that; else it checks the module files
 *   with the module environment (ES2022 + the DOM lib's console, timers, URL, Request and
 *   Response; no Node types) and "fixpoint" mapped to the module API.
 * - After each check it reports the errors, or that the errors are gone; never a repeat of
 *   the same all-clear.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { setPriority, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { packageRoot } from "../../loader/protocol/version.js";
import { styleFor, type Style } from "../ui/output.js";
import { MODULE_API } from "../build/build.js";

export interface TypeReport {
  /** tsc's diagnostics, one per line (file(line,col): error TSnnnn: text), empty when clean. */
  errors: string[];
}

export interface TypeCheckerEvents {
  /** After a check whose result differs from the last one reported. */
  checked(report: TypeReport): void;
  /** Once, when no TypeScript can be found. */
  unavailable(why: string): void;
}

function findTsc(projectDir: string): string | null {
  for (const from of [join(projectDir, "package.json"), join(packageRoot(), "package.json")]) {
    try {
      return join(dirname(createRequire(from).resolve("typescript/package.json")), "bin", "tsc");
    } catch {
      // not installed there
    }
  }
  return null;
}

export class TypeChecker {
  private child: ChildProcess | null = null;
  private tempDir: string | null = null;
  /** The errors last reported, joined; "" (clean) at first, so a clean start says nothing. */
  private lastReported = "";

  constructor(
    private readonly projectDir: string,
    private readonly files: string[],
    private readonly events: TypeCheckerEvents,
  ) {}

  start(): void {
    const tsc = findTsc(this.projectDir);
    if (tsc === null) {
      this.events.unavailable("no TypeScript installed in this project (npm install --save-dev typescript)");
      return;
    }
    let project = join(this.projectDir, "tsconfig.json");
    if (!existsSync(project)) {
      this.tempDir = mkdtempSync(join(tmpdir(), "fixpoint-types-"));
      project = join(this.tempDir, "tsconfig.json");
      writeFileSync(
        project,
        JSON.stringify({
          compilerOptions: {
            target: "ES2022",
            lib: ["ES2022", "DOM"],
            types: [],
            module: "ESNext",
            moduleResolution: "Bundler",
            strict: true,
            skipLibCheck: true,
            noEmit: true,
            paths: { fixpoint: [MODULE_API] },
          },
          files: this.files,
        }),
      );
    }
    const child = spawn(process.execPath, [tsc, "--noEmit", "--watch", "--preserveWatchOutput", "--pretty", "false", "-p", project], {
      cwd: this.projectDir,
      stdio: ["ignore", "pipe", "ignore"],
    });
    this.child = child;
    // A devtool that ends without its orderly shutdown must not leave tsc watching.
    const kill = () => child.kill("SIGTERM");
    process.once("exit", kill);
    child.once("exit", () => process.off("exit", kill));
    try {
      // The nicest priority: type errors can wait a moment, a swap should not.
      if (child.pid !== undefined) setPriority(child.pid, 19);
    } catch {
      // Not permitted here: it still runs, at normal priority.
    }
    let errors: string[] = [];
    let partial = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop()!;
      for (const raw of lines) {
        const line = raw.replace(/^\[?[\d:APM .]+\]? ?- /, "").trimEnd();
        if (/error TS\d+:/.test(line)) errors.push(line);
        else if (/^\s+\S/.test(raw) && errors.length > 0) errors[errors.length - 1] += "\n" + raw.trimEnd();
        else if (/Found \d+ errors?\b/.test(line)) {
          const key = errors.join("\n");
          if (key !== this.lastReported) {
            this.lastReported = key;
            this.events.checked({ errors });
          }
          errors = [];
        }
      }
    });
  }

  close(): void {
    if (this.child !== null && this.child.exitCode === null) this.child.kill("SIGTERM");
    this.child = null;
    if (this.tempDir !== null) rmSync(this.tempDir, { recursive: true, force: true });
  }
}


/** How `devtool dev` and `push --watch` print what the checker finds, on stderr. */
export function typeEvents(style: Style = styleFor(process.stderr)): TypeCheckerEvents {
  return {
    checked: ({ errors }) =>
      process.stderr.write(
        errors.length === 0
          ? `${style.green("types")} no type errors now\n`
          : `${style.yellow("types")} ${errors.length} type error${errors.length === 1 ? "" : "s"} (tsc, beside the dev loop; what was pushed runs anyway):\n${errors.map((e) => `  ${e}`).join("\n")}\n`,
      ),
    unavailable: (why) => process.stderr.write(style.dim(`types: not checked: ${why}\n`)),
  };
}
