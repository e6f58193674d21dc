/**
 * Module states on disk: what a node restarted on its data directory — after SIGTERM,
 * `kill -9` or a reboot — brings each module back with, and what the production restart moves
 * data out and back in through.
 *
 *   store/states/<module>/<seq>.state     one saved state; the newest KEEP are kept
 *
 * One file per save, never rewritten: a save writes the next sequence number crash-safely
 * (atomic.ts), then drops files older than the KEEP newest. A crash at any point leaves the
 * previous file whole, so reading falls back to it when the newest is torn or damaged.
 *
 * Each file is in the state file format (loader/protocol/state-file.ts).
 *
 * The loader never deserializes a state (the runtime does, inside the process that runs module
 * code): it stores and returns bytes, checked end to end by the digest. A file that is short,
 * fails its digest, names another module or another format is STATE_CORRUPT, reported, and
 * never read as an empty state.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { FixpointError } from "../protocol/errors.js";
import { decodeState, encodeStateParts, type SavedState } from "../protocol/state-file.js";
import type { StateBytes } from "../protocol/runtime-ipc.js";
import { writeFileAtomicAsync } from "./atomic.js";

/** Saved files kept per module: the newest, and the one before it to fall back to. */
const KEEP = 2;


export interface StateProblem {
  file: string;
  error: FixpointError;
}

/** What reading a module's saved states found. */
export type ReadOutcome =
  /** Nothing was ever saved: the module starts from its initial state. */
  | { kind: "none" }
  /** The newest intact save; `problems` lists newer files that were not. */
  | { kind: "found"; saved: SavedState; problems: StateProblem[] }
  /** Saves exist and none is intact: the module must not start (its state would be reset). */
  | { kind: "corrupt"; problems: StateProblem[] };

export class StateStore {
  private readonly dir: string;
  /** Per module: the write in progress, so saves of one module land in order. */
  private readonly writing = new Map<string, Promise<void>>();
  private readonly nextSeq = new Map<string, number>();
  /** Per module: the newest save this process wrote, which readAt answers without reading it back. */
  private readonly written = new Map<string, SavedState>();

  constructor(storeDir: string) {
    this.dir = join(storeDir, "states");
    mkdirSync(this.dir, { recursive: true });
  }

  private moduleDir(module: string): string {
    return join(this.dir, module);
  }

  /** Sequence numbers of a module's files, newest first. */
  private files(module: string): number[] {
    let names: string[];
    try {
      names = readdirSync(this.moduleDir(module));
    } catch {
      return [];
    }
    return names
      .filter((n) => /^\d{1,15}\.state$/.test(n))
      .map((n) => Number(n.slice(0, -6)))
      .sort((a, b) => b - a);
  }

  private file(module: string, seq: number): string {
    return join(this.moduleDir(module), `${seq}.state`);
  }

  /** The newest intact saved state of `module` (read at boot, and before it starts again). */
  read(module: string): ReadOutcome {
    const seqs = this.files(module);
    this.nextSeq.set(module, Math.max(this.nextSeq.get(module) ?? 1, (seqs[0] ?? 0) + 1));
    if (seqs.length === 0) return { kind: "none" };
    const problems: StateProblem[] = [];
    for (const seq of seqs) {
      const file = this.file(module, seq);
      try {
        return { kind: "found", saved: decodeState(readFileSync(file), module, file), problems };
      } catch (err) {
        const error = err instanceof FixpointError ? err : new FixpointError("STATE_CORRUPT", `saved state ${file} cannot be read: ${(err as Error).message}`);
        problems.push({ file, error });
      }
    }
    return { kind: "corrupt", problems };
  }

  /** One particular save (a guarded restart's rollback restores exactly the states it recorded). */
  readAt(module: string, seq: number): SavedState {
    // A guarded restart asks for what it just saved: 10 MB read back and hashed again cost 70 ms out of service.
    const mine = this.written.get(module);
    if (mine?.seq === seq) return mine;
    const file = this.file(module, seq);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      throw new FixpointError("STATE_CORRUPT", `saved state ${file} is missing (${(err as Error).message})`);
    }
    return decodeState(bytes, module, file);
  }

  /**
   * Saves a state as the module's newest. Resolves once it is on disk (fsynced, renamed, the
   * folder fsynced); a failure leaves the previous files as they were and rejects
   * STORE_WRITE_FAILED. Saves of one module are written one after another, in call order.
   */
  save(module: string, state: StateBytes): Promise<SavedState> {
    const seq = this.nextSeq.get(module) ?? Math.max(1, (this.files(module)[0] ?? 0) + 1);
    this.nextSeq.set(module, seq + 1);
    const saved: SavedState = { ...state, module, seq, savedAt: new Date().toISOString() };
    const before = this.writing.get(module) ?? Promise.resolve();
    const write = before.then(async () => {
      mkdirSync(this.moduleDir(module), { recursive: true });
      try {
        await writeFileAtomicAsync(this.file(module, seq), encodeStateParts(saved), 0o600);
      } catch (err) {
        throw new FixpointError("STORE_WRITE_FAILED", `cannot save the state of module ${module}: ${(err as Error).message}`, { cause: err });
      }
      if ((this.written.get(module)?.seq ?? 0) < seq) this.written.set(module, saved);
      // Only now, with the new file durable, may older ones go.
      for (const old of this.files(module).filter((s) => s < seq).slice(KEEP - 1)) await unlink(this.file(module, old)).catch(() => {});
    });
    const tail = write.catch(() => {});
    this.writing.set(module, tail);
    void tail.then(() => {
      if (this.writing.get(module) === tail) this.writing.delete(module);
    });
    return write.then(() => saved);
  }

  /** Waits for every save in progress (an orderly stop). */
  async settled(): Promise<void> {
    await Promise.all([...this.writing.values()]);
  }

  /** Forgets a module's saved states (it was removed from the node). */
  remove(module: string): void {
    rmSync(this.moduleDir(module), { recursive: true, force: true });
    this.nextSeq.delete(module);
    this.written.delete(module);
  }
}
