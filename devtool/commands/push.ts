import { relative } from "node:path";
import { FixpointError, parseCommandLine, signBundle, styleFor } from "../../loader/index.js";
import { buildModule } from "../build/build.js";
import { CONNECTION_HELP, CONNECTION_OPTIONS, contextFrom, exitStatusOf, fanOut, printFailures } from "./common.js";

export const HELP = `Usage: devtool push [FILE...] [--node NAME|HOST:PORT] [options]

Builds each module with esbuild, signs it with your key, and sends it to every target node
at once. A node stores a bundle by its digest; pushing the same bytes again changes nothing.
With no FILE, pushes the "modules" of fixpoint.json. A build error shows the file, line and
code, and nothing is pushed.

Options:
${CONNECTION_HELP}`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { ...CONNECTION_OPTIONS }, 1000);
  if (parsed.values["help"] === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const ctx = contextFrom(parsed);
  const files = parsed.positionals.length > 0 ? parsed.positionals : (ctx.project?.modules ?? []);
  if (files.length === 0) throw new FixpointError("USAGE", "no module to push: name FILEs or list them in fixpoint.json's \"modules\"");
  // Build and sign everything first: a build error means nothing is sent anywhere.
  const started = performance.now();
  const bundles: ReturnType<typeof signBundle>[] = [];
  for (const file of files) {
    const built = await buildModule(file);
    bundles.push(signBundle(built.name, built.code, built.sourceMap, ctx.identity));
  }
  const buildMs = performance.now() - started;
  const outcomes = await fanOut(ctx, async (conn) => {
    const t0 = performance.now();
    const results = await Promise.all(bundles.map((b) => conn.request("push", { bundle: b.bundle }, { timeoutMs: 30_000 })));
    return { results, ms: performance.now() - t0 };
  });
  const out = styleFor(process.stdout);
  for (const { target, value } of outcomes) {
    if (value === undefined) continue;
    for (const r of value.results) {
      const what = r.changed ? out.green("updated") : out.dim("unchanged");
      process.stdout.write(`${target.label}  ${r.name.padEnd(20)} ${r.digest.slice(0, 12)}  ${what}  ${value.ms.toFixed(1)} ms\n`);
    }
  }
  process.stdout.write(out.dim(`built ${bundles.length} module(s) in ${buildMs.toFixed(0)} ms from ${files.map((f) => relative(process.cwd(), f) || f).join(", ")}\n`));
  printFailures(outcomes);
  return exitStatusOf(outcomes);
}
