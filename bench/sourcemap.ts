/**
 * Source-map benchmark (issue 12): node's own decoder (`SourceMap` from node:module, which the
 * runtime uses, runtime/host/source-map.ts) against the hand-written VLQ decoder it replaced
 * (bench/sourcemap-vlq.ts), both in the same run on the same map.
 *
 *   npm run bench:sourcemap        (or: node --import tsx bench/sourcemap.ts)
 *
 * The map is a realistic module's: a TypeScript module that bundles a real library (acorn,
 * about 6,000 lines) built by the devtool's own build, as `devtool push` builds it. Measured:
 *   parse     map JSON → a decoder ready to answer (both decode eagerly here: the runtime
 *             decodes on the first error of a module version, so this is the first error's cost)
 *   lookup    one stack frame's position → its TypeScript position, over positions spread
 *             across the bundle (the cost of every further frame)
 * Rounds alternate between the two decoders; figures are medians over rounds. Both decoders
 * are also checked to agree on every sampled position that both place.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { buildModule } from "../devtool/build/build.js";
import { SourceMap } from "../runtime/host/source-map.js";
import { ROOT, tempDir } from "../test/helpers/processes.js";
import { VlqSourceMap } from "./sourcemap-vlq.js";

const ROUNDS = 9;
const PARSES_PER_ROUND = 20;
const LOOKUPS = 20_000;

interface Decoder {
  name: string;
  /** Parse and decode fully; returns something that answers lookups. */
  parse(text: string): { lookup(line: number, column: number): { file: string; line: number; column: number } | null };
}

const decoders: Decoder[] = [
  {
    name: "node:module SourceMap",
    parse: (text) => {
      const map = SourceMap.parse(text);
      map.lookup(1, 1); // decoding is lazy: force it, as the first error does
      return map;
    },
  },
  {
    name: "hand-written VLQ",
    parse: (text) => {
      const map = VlqSourceMap.parse(text);
      map.lookup(1, 1);
      return map;
    },
  },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function realisticModule(): Promise<{ code: string; map: string }> {
  const dir = tempDir("fixpoint-bench-sourcemap-");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "parser.ts");
  // A module with a real dependency bundled in, the usual shape of a module with a source map worth the name.
  writeFileSync(
    file,
    `import { defineModule } from "fixpoint";
import { parse } from ${JSON.stringify(join(ROOT, "node_modules/acorn/dist/acorn.mjs"))};

interface Stats { parsed: number; failed: number }

function count(source: string, stats: Stats): number {
  try {
    const program = parse(source, { ecmaVersion: "latest" });
    stats.parsed++;
    return program.body.length;
  } catch (err) {
    stats.failed++;
    throw new Error(\`cannot parse: \${String(err)}\`);
  }
}

export default defineModule({
  version: "1",
  state: { parsed: 0, failed: 0 } as Stats,
  functions: {
    statements: (ctx, source: string) => count(source, ctx.state),
    stats: (ctx) => ctx.state,
  },
});
`,
  );
  try {
    const built = await buildModule(file);
    return { code: Buffer.from(built.code).toString("utf8"), map: Buffer.from(built.sourceMap).toString("utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { code, map } = await realisticModule();
  const lines = code.split("\n");
  // Positions spread over the bundle, as stack frames would be: a random non-blank column of a random line.
  let seed = 12;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const positions: Array<[number, number]> = [];
  while (positions.length < LOOKUPS) {
    const line = 1 + Math.floor(random() * lines.length);
    const text = lines[line - 1]!;
    const first = text.search(/\S/);
    if (first === -1) continue;
    positions.push([line, first + 1 + Math.floor(random() * (text.length - first))]);
  }

  const ready = decoders.map((d) => d.parse(map));
  let agree = 0;
  let both = 0;
  let placed = ready.map(() => 0);
  for (const [line, column] of positions) {
    const answers = ready.map((m) => m.lookup(line, column));
    placed = placed.map((n, i) => n + (answers[i] === null ? 0 : 1));
    const [a, b] = answers;
    if (a != null && b != null) {
      both++;
      if (a.file === b.file && a.line === b.line && a.column === b.column) agree++;
    }
  }

  const jsonMs: number[] = [];
  const parseMs = decoders.map(() => [] as number[]);
  const lookupNs = decoders.map(() => [] as number[]);
  let sink = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const j0 = performance.now();
    for (let n = 0; n < PARSES_PER_ROUND; n++) sink += (JSON.parse(map) as { version: number }).version;
    jsonMs.push((performance.now() - j0) / PARSES_PER_ROUND);
    decoders.forEach((decoder, i) => {
      const started = performance.now();
      for (let n = 0; n < PARSES_PER_ROUND; n++) sink += decoder.parse(map) === null ? 1 : 0;
      parseMs[i]!.push((performance.now() - started) / PARSES_PER_ROUND);
      const m = ready[i]!;
      const t0 = performance.now();
      for (const [line, column] of positions) sink += m.lookup(line, column)?.line ?? 0;
      lookupNs[i]!.push(((performance.now() - t0) * 1e6) / positions.length);
    });
  }

  const cpu = cpus()[0]?.model ?? "?";
  console.log(`source maps: node ${process.version}, ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB`);
  console.log(`map: a module bundling acorn: ${lines.length} generated lines, ${(code.length / 1024).toFixed(0)} KiB of code, ${(map.length / 1024).toFixed(0)} KiB of map (${(JSON.parse(map) as { mappings: string }).mappings.length} bytes of mappings)`);
  console.log(`medians of ${ROUNDS} alternating rounds; parse = JSON.parse + full decode, ${PARSES_PER_ROUND} per round; lookup over ${LOOKUPS} positions spread across the bundle\n`);
  const header = ["decoder", "parse (ms)", "lookup (ns/frame)", "placed"];
  const rows = decoders.map((d, i) => [d.name, median(parseMs[i]!).toFixed(2), median(lookupNs[i]!).toFixed(0), `${((placed[i]! / positions.length) * 100).toFixed(1)}%`]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
  const ratio = (values: number[][]) => (median(values[0]!) / median(values[1]!)).toFixed(2);
  console.log(`(of which JSON.parse of the map alone: ${median(jsonMs).toFixed(2)} ms)`);
  console.log(`\nnode:module / hand-written: parse ×${ratio(parseMs)}, lookup ×${ratio(lookupNs)}`);
  console.log(`agreement where both place a position: ${agree} of ${both} (${((agree / Math.max(1, both)) * 100).toFixed(2)}%)`);
  if (sink === -1) console.log("");
}

await main();
