/**
 * Building one module for an isolate with esbuild: one script, no Node built-ins, with an
 * external source map. Build errors become BUILD_FAILED with file, line, column and a code
 * frame, and nothing is produced.
 */
import { basename, extname, join, relative, resolve } from "node:path";
import { build, context, type BuildContext, type BuildOptions, type BuildResult, type Message } from "esbuild";
import { FixpointError, MODULE_NAME } from "../../loader/index.js";
import { packageRoot } from "../../loader/version.js";

const MODULE_API = join(packageRoot(), "runtime/api.ts");

export interface BuiltModule {
  name: string;
  code: Uint8Array;
  sourceMap: Uint8Array;
}

/** The module's name is its file name without the extension, e.g. src/hit-counter.ts → hit-counter. */
export function moduleNameOf(file: string): string {
  const name = basename(file, extname(file));
  if (!MODULE_NAME.test(name)) {
    throw new FixpointError("BUILD_FAILED", `${file}: a module's file name must be lowercase letters, digits and "-", starting with a letter (it becomes the module name), got "${name}"`, {
      location: { file },
    });
  }
  return name;
}

function describe(message: Message, cwd: string): string {
  const loc = message.location;
  if (loc === null) return message.text;
  const caret = " ".repeat(loc.column) + "^".repeat(Math.max(1, Math.min(loc.length, 80)));
  return `${relative(cwd, loc.file) || loc.file}:${loc.line}:${loc.column + 1}: ${message.text}\n  ${loc.lineText}\n  ${caret}`;
}

function optionsFor(file: string, name: string): BuildOptions {
  return {
    entryPoints: [file],
    bundle: true,
    write: false,
    format: "iife",
    globalName: "__fixpoint_module",
    platform: "neutral",
    mainFields: ["module", "main"],
    target: "es2022",
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
