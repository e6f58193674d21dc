/**
 * Where one edit's time goes, step by step, in this process against one idle node: the
 * same steps `devtool push --watch` takes (fs.watch on the folder, esbuild's incremental
 * rebuild, signing, the push round trip over an open connection, whose answer carries the
 * node's swap time), each timed on its own. Their sum is a floor for the dev loop measured
 * end to end; what is left over is waiting (the watcher's stats, timers, scheduling).
 */
import { mkdirSync, watch } from "node:fs";
import { join } from "node:path";
import { signBundle, type ClientConnection } from "../../devtool/client/index.js";
import { type KeyPair } from "../../loader/index.js";
import { ModuleBuilder } from "../../devtool/build/build.js";
import { moduleSource, writeSource } from "./app.js";
import { percentile, sleep } from "./measure.js";

export interface Step {
  step: string;
  p50: number;
  p95: number;
}

export async function breakdown(dir: string, conn: ClientConnection, identity: KeyPair, rounds: number): Promise<Step[]> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "app.ts");
  writeSource(file, moduleSource("breakdown-0"));
  const builder = new ModuleBuilder(file);
  await builder.build();
  const times = { notice: [] as number[], build: [] as number[], sign: [] as number[], push: [] as number[], swap: [] as number[], verifyStore: [] as number[] };
  let noticed: (() => void) | null = null;
  const watcher = watch(dir, () => noticed?.());
  try {
    for (let i = 1; i <= rounds + 2; i++) {
      const record = i > 2; // two rounds to warm up
      const seen = new Promise<void>((r) => (noticed = r));
      const t0 = performance.now();
      writeSource(file, moduleSource(`breakdown-${i}`));
      await seen;
      const t1 = performance.now();
      noticed = null;
      const built = await builder.build();
      const t2 = performance.now();
      const { bundle } = signBundle(built.name, built.code, built.sourceMap, identity);
      const t3 = performance.now();
      const r = await conn.request("push", { bundle }, { timeoutMs: 30_000 });
      const t4 = performance.now();
      if (record) {
        times.notice.push(t1 - t0);
        times.build.push(t2 - t1);
        times.sign.push(t3 - t2);
        times.push.push(t4 - t3);
        if (r.swapMs !== undefined) {
          times.swap.push(r.swapMs);
          times.verifyStore.push(t4 - t3 - r.swapMs);
        }
      }
      await sleep(100);
    }
  } finally {
    watcher.close();
    await builder.dispose();
  }
  const step = (name: string, values: number[]): Step => {
    const sorted = [...values].sort((a, b) => a - b);
    return { step: name, p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
  };
  return [
    step("write → fs.watch fires (folder watch)", times.notice),
    step("esbuild incremental rebuild", times.build),
    step("sign (Ed25519)", times.sign),
    step("push round trip (open connection)", times.push),
    step("  of which the node's swap (runtime load: compile, start, migrate)", times.swap),
    step("  of which the rest (channel, verify, store with fsync, snapshot, set current)", times.verifyStore),
  ];
}
