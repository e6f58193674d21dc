/** Builds module sources written inline in a test, through the devtool's real esbuild build. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { buildModule } from "../../devtool/build/build.js";
import { signBundle } from "../../devtool/client/index.js";
import { type KeyPair } from "../../loader/index.js";
import { tempDir } from "./processes.js";

export interface TestModule {
  name: string;
  code: string;
  sourceMap: string;
  digest: string;
  file: string;
}

const dir = tempDir("fixpoint-modules-");
let counter = 0;

/** Writes `source` to NAME.ts in a fresh folder and builds it. */
export async function buildSource(name: string, source: string): Promise<TestModule> {
  const folder = join(dir, String(counter++));
  mkdirSync(folder, { recursive: true });
  const file = join(folder, `${name}.ts`);
  writeFileSync(file, source);
  const built = await buildModule(file);
  const code = Buffer.from(built.code).toString("utf8");
  return { name, code, sourceMap: Buffer.from(built.sourceMap).toString("utf8"), digest: createHash("sha256").update(built.code).digest("hex"), file };
}

/** A minimal valid module whose code contains `marker` (to find it in stored bytes). */
export function counterSource(marker = "counter-v1"): string {
  return `import { defineModule } from "fixpoint";
export default defineModule({
  version: ${JSON.stringify(marker)},
  state: { hits: 0 },
  functions: { hit: (ctx) => ++ctx.state.hits, hits: (ctx) => ctx.state.hits },
  http: (request, ctx) => new Response(${JSON.stringify(marker)} + " hits=" + ++ctx.state.hits),
});
`;
}

/** Builds `source` as module `name` and signs it with `key`, ready for a push request. */
export async function signedModule(name: string, source: string, key: KeyPair) {
  const built = await buildSource(name, source);
  return { ...signBundle(name, Buffer.from(built.code), Buffer.from(built.sourceMap), key), built };
}
