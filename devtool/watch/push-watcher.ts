/**
 * `devtool push --watch`: rebuild a module when a file it is built from changes, sign it,
 * and push it to every node at once — the dev loop's hot path.
 *
 * - Incremental esbuild builds (ModuleBuilder); the files watched are the module's inputs as
 *   esbuild reports them, re-read after every build (an import added is watched from then on).
 * - Directories are watched, not files: editors that save by rename replace the file.
 * - fs.watch can fire before the editor has finished writing: a change is built at once, but
 *   pushed only if the file did not change during the build, and never from an empty file.
 * - One build per module at a time; changes arriving meanwhile coalesce into one more build.
 * - Unchanged output (same digest as last pushed) is not resent.
 * - A build error prints file, line and code frame; nothing is pushed; watching goes on.
 */
import { watch, statSync, type FSWatcher } from "node:fs";
import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { signBundle } from "../client/index.js";
import { toFixpointError, type KeyPair, type ResultOf } from "../../loader/index.js";
import { ModuleBuilder } from "../build/build.js";
import type { NodeSessions } from "../nodes/sessions.js";
import type { NodeOutcome } from "../nodes/fan-out.js";

export interface PushReport {
  module: string;
  digest: string;
  /** ms from the change being noticed (or, for the first push, from the build starting) to every node answering. */
  totalMs: number;
  /** Whether a save caused this push; false for the first push when watching starts. */
  saved: boolean;
  buildMs: number;
  outcomes: NodeOutcome<ResultOf<"push">>[];
}

export interface WatchEvents {
  pushed(report: PushReport): void;
  buildFailed(module: string, message: string): void;
  skipped(module: string, why: string): void;
  /**
   * The module builds again after a failed build, and what it builds is what already runs
   * (the file was saved back to good content): nothing to push, but the error is gone.
   */
  fixed(module: string): void;
}

interface Watched {
  builder: ModuleBuilder;
  inputs: Set<string>;
  lastDigest: string | null;
  running: Promise<void> | null;
  again: boolean;
  changedAt: number;
  /** The last build failed (and was reported). */
  failed: boolean;
}

const STABLE_MS = 2;
const STABLE_TRIES = 50;

/** "size:mtime" of a file with content; null when it is empty or missing. */
function stampOf(file: string): string | null {
  try {
    const s = statSync(file);
    return s.size === 0 ? null : `${s.size}:${s.mtimeMs}`;
  } catch {
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class PushWatcher {
  private readonly modules: Watched[];
  private readonly dirWatchers = new Map<string, FSWatcher>();
  private closed = false;

  constructor(
    files: string[],
    private readonly sessions: NodeSessions,
    private readonly identity: KeyPair,
    private readonly events: WatchEvents,
  ) {
    this.modules = files.map((file) => ({ builder: new ModuleBuilder(file), inputs: new Set([file]), lastDigest: null, running: null, again: false, changedAt: 0, failed: false }));
  }

  /** Builds and pushes every module once, then watches. */
  async start(): Promise<void> {
    await Promise.all(this.modules.map((m) => this.schedule(m)));
  }

  private watchDirs(): void {
    const wanted = new Set<string>();
    for (const m of this.modules) for (const input of m.inputs) if (!input.includes("/node_modules/")) wanted.add(dirname(input));
    for (const [dir, w] of this.dirWatchers) {
      if (!wanted.has(dir)) {
        w.close();
        this.dirWatchers.delete(dir);
      }
    }
    for (const dir of wanted) {
      if (this.dirWatchers.has(dir)) continue;
      try {
        const w = watch(dir, (_event, filename) => {
          if (filename !== null) this.changed(join(dir, filename.toString()));
        });
        w.on("error", () => {
          w.close();
          this.dirWatchers.delete(dir);
        });
        this.dirWatchers.set(dir, w);
      } catch {
        // a directory that vanished: the next build re-reads the inputs
      }
    }
  }

  private changed(path: string): void {
    if (this.closed) return;
    for (const m of this.modules) {
      if (m.inputs.has(path)) {
        m.changedAt = performance.now();
        void this.schedule(m);
      }
    }
  }

  private schedule(m: Watched): Promise<void> {
    if (m.running !== null) {
      m.again = true;
      return m.running;
    }
    m.running = (async () => {
      do {
        m.again = false;
        await this.buildAndPush(m);
      } while (m.again && !this.closed);
      m.running = null;
    })();
    return m.running;
  }

  /**
   * The entry file's size and mtime, once it has content: at once if it has (no waiting on
   * the hot path), else after waiting for a save in progress to fill it; null if it stays
   * empty or missing.
   */
  private async contentStamp(file: string): Promise<string | null> {
    for (let i = 0; i < STABLE_TRIES; i++) {
      const s = stampOf(file);
      if (s !== null) return s;
      await sleep(STABLE_MS);
    }
    return null;
  }

  /**
   * Builds as soon as the file has content, and pushes only if it did not change while it was
   * being built (fs.watch can fire mid-save). A change during the build means another build
   * follows, not a push of what may be half a file; a build error is reported only once the
   * file has held still, so a save in progress does not flash one.
   */
  private async buildAndPush(m: Watched): Promise<void> {
    const saved = m.changedAt !== 0;
    const noticed = saved ? m.changedAt : performance.now();
    const file = m.builder.file;
    const before = await this.contentStamp(file);
    if (before === null) {
      this.events.skipped(m.builder.name, `${basename(file)} is empty or still being written; waiting for the next save`);
      return;
    }
    const t0 = performance.now();
    let built;
    try {
      built = await m.builder.build();
    } catch (err) {
      await sleep(STABLE_MS);
      if (stampOf(file) !== before) m.again = true;
      else {
        m.failed = true;
        this.events.buildFailed(m.builder.name, toFixpointError(err).message);
      }
      return;
    } finally {
      this.watchDirsAfter(m);
    }
    if (stampOf(file) !== before) {
      m.again = true;
      return;
    }
    m.inputs = new Set(built.inputs);
    this.watchDirs();
    const buildMs = performance.now() - t0;
    const digest = createHash("sha256").update(built.code).digest("hex");
    const wasFailing = m.failed;
    m.failed = false;
    if (digest === m.lastDigest) {
      if (wasFailing) this.events.fixed(m.builder.name);
      else this.events.skipped(m.builder.name, "the build output did not change");
      return;
    }
    const { bundle } = signBundle(built.name, built.code, built.sourceMap, this.identity);
    const outcomes = await this.sessions.each((conn) => conn.request("push", { bundle }, { timeoutMs: 30_000 }));
    if (outcomes.every((o) => o.error === undefined)) m.lastDigest = digest;
    this.events.pushed({ module: built.name, digest, totalMs: performance.now() - noticed, saved, buildMs, outcomes });
  }

  // Keep watching the entry's directory even when the first build fails.
  private watchDirsAfter(m: Watched): void {
    if (m.inputs.size === 0) m.inputs.add(m.builder.file);
    this.watchDirs();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.dirWatchers.values()) w.close();
    this.dirWatchers.clear();
    await Promise.allSettled(this.modules.map((m) => m.running));
    await Promise.all(this.modules.map((m) => m.builder.dispose()));
  }
}
