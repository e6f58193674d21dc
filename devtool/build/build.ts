/**
 * Building one module for an isolate with esbuild: one script, no Node built-ins, with an
 * external source map. Build errors become BUILD_FAILED with file, line, column and a code
 * frame, and nothing is produced.
 */
import { builtinModules } from "node:module";
import { basename, extname, join, relative, resolve } from "node:path";
import { build, context, type BuildContext, type BuildOptions, type BuildResult, type Message } from "esbuild";
import { FixpointError, MODULE_NAME, MODULE_NAME_RULE } from "../../loader/index.js";
import { packageRoot } from "../../loader/protocol/version.js";
import { ISOLATE_SCRIPT_OPTIONS } from "../../runtime/isolate/script-build.js";

export const MODULE_API = join(packageRoot(), "runtime/api.ts");

export interface BuiltModule {
  name: string;
  code: Uint8Array;
  sourceMap: Uint8Array;
}

/** The module's name is its file name without the extension, e.g. src/hit-counter.ts → hit-counter. */
export function moduleNameOf(file: string): string {
  const name = basename(file, extname(file));
  if (!MODULE_NAME.test(name)) {
    throw new FixpointError("BUILD_FAILED", `${file}: a module's file name must be ${MODULE_NAME_RULE} (it becomes the module name), got "${name}"`, {
      location: { file },
    });
  }
  return name;
}

const BUILTINS = new Set(builtinModules);

/** What a module has instead of Node's built-ins, said where a build error needs it. */
export const MODULE_GLOBALS =
  "console, timers (setTimeout, setInterval, queueMicrotask), URL, TextEncoder/TextDecoder, atob/btoa, " +
  "fetch-style Request, Response and Headers, and ctx.call to other modules; pure npm packages are bundled in";

/**
 * esbuild's text in the module author's terms (issue 12.9): it speaks of resolving and output
 * formats, which say nothing to someone who does not know how a module is built.
 */
export function explain(text: string): string {
  const unresolved = /^Could not resolve "([^"]+)"$/.exec(text);
  const name = unresolved?.[1];
  if (name !== undefined && (name.startsWith("node:") || BUILTINS.has(name.split("/")[0]!))) {
    return `"${name}" is a Node built-in: Node built-ins are not available inside a module, which runs in a V8 isolate, not in Node. A module has ${MODULE_GLOBALS}.`;
  }
  if (/^Top-level await is (currently )?not supported/.test(text)) {
    return (
      "top-level await is not supported in a module: its file runs to the end, synchronously, when the module loads. " +
      "Move the await into a function, the http handler or health (each may be async), or begin with a default state and fill it in on the first call."
    );
  }
  return text;
}

function describe(message: Message, cwd: string): string {
  const loc = message.location;
  const text = explain(message.text);
  if (loc === null) return text;
  const caret = " ".repeat(loc.column) + "^".repeat(Math.max(1, Math.min(loc.length, 80)));
  return `${relative(cwd, loc.file) || loc.file}:${loc.line}:${loc.column + 1}: ${text}\n  ${loc.lineText}\n  ${caret}`;
}

function optionsFor(file: string, name: string): BuildOptions {
  return {
    // The same options as the bootstrap's (runtime/isolate/script-build.js): a class in a
    // module keeps its name too.
    ...ISOLATE_SCRIPT_OPTIONS,
    entryPoints: [file],
    write: false,
    globalName: "__fixpoint_module",
    mainFields: ["module", "main"],
    sourcemap: "external",
    outfile: `${name}.js`,
    logLevel: "silent",
    metafile: true,
    // `import { defineModule } from "fixpoint"` resolves to the module API in this package,
    // wherever the module's own project lives.
    alias: { fixpoint: MODULE_API },
  };
}

function buildError(err: unknown, file: string, cwd: string): FixpointError {
  const errors = (err as { errors?: Message[] }).errors ?? [];
  const first = errors[0]?.location;
  return new FixpointError("BUILD_FAILED", `cannot build ${relative(cwd, file) || file}:\n${errors.map((m) => describe(m, cwd)).join("\n") || (err as Error).message}`, {
    ...(first == null ? {} : { location: { file: first.file, line: first.line, column: first.column + 1 } }),
    cause: err,
  });
}

function collect(result: BuildResult<{ write: false; metafile: true }>, file: string, name: string): BuiltModule & { inputs: string[] } {
  const code = result.outputFiles.find((f) => f.path.endsWith(".js"));
  const map = result.outputFiles.find((f) => f.path.endsWith(".js.map"));
  if (code === undefined || map === undefined) throw new FixpointError("INTERNAL", `esbuild produced no script for ${file}`);
  const inputs = Object.keys(result.metafile.inputs).map((input) => resolve(input));
  return { name, code: code.contents, sourceMap: map.contents, inputs };
}

export async function buildModule(file: string, cwd = process.cwd()): Promise<BuiltModule> {
  const name = moduleNameOf(file);
  try {
    const { inputs: _inputs, ...built } = collect((await build(optionsFor(file, name))) as BuildResult<{ write: false; metafile: true }>, file, name);
    return built;
  } catch (err) {
    if (err instanceof FixpointError) throw err;
    throw buildError(err, file, cwd);
  }
}

/**
 * An incremental build of one module for watch mode (esbuild's context: rebuilds reuse the
 * parsed inputs). Also reports the files the module is built from, to watch them.
 */
export class ModuleBuilder {
  readonly name: string;
  private context: BuildContext<{ write: false; metafile: true }> | null = null;

  constructor(
    readonly file: string,
    private readonly cwd = process.cwd(),
  ) {
    this.name = moduleNameOf(file);
  }

  async build(): Promise<BuiltModule & { inputs: string[] }> {
    try {
      this.context ??= (await context(optionsFor(this.file, this.name))) as BuildContext<{ write: false; metafile: true }>;
      return collect(await this.context.rebuild(), this.file, this.name);
    } catch (err) {
      if (err instanceof FixpointError) throw err;
      throw buildError(err, this.file, this.cwd);
    }
  }

  async dispose(): Promise<void> {
    await this.context?.dispose();
    this.context = null;
  }
}
