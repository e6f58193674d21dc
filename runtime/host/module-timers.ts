/**
 * One module version's timers, on the host side: the host keeps the clock, the isolate keeps
 * the callbacks (harness.ts), and this file decides when callbacks run.
 *
 * Why not one Node timer per module timer, as before: a module that scheduled a million timers
 * made a million Node timers, and each firing queued its own entry into the isolate, so the
 * runtime grew past 1 GB and its heartbeat starved until the loader replaced it (issue 13).
 * Here a module has one Node timer, armed for its earliest timer; due timers go into the
 * isolate in batches (one entry for up to BATCH callbacks, which the harness cuts short after
 * its own time budget), one batch in flight per module, and the next batch waits a turn of the
 * event loop (setImmediate), so IPC, the heartbeat and other modules' requests run between
 * batches. Live timers are bounded by MAX_TIMERS (module-limits.ts), which the harness enforces
 * with TIMER_LIMIT and this file again (a timer past it is never scheduled).
 *
 * Modes, set by the isolate's owner (ModuleIsolate), which follow a swap (module-table.ts):
 *
 *   running  every due timer fires
 *   paused   the swap is handing this version's state over: repeating timers skip their runs,
 *            one-shot timers fire only while calls are in flight on the version (they may be
 *            waiting on them); resume() returns to running if the swap fails
 *   retired  new work goes to the next version: repeating timers are gone, one-shot timers fire
 *            only while calls are in flight; stop() once none are
 *   stopped  nothing fires, ever again (also after dispose or death)
 */
import { MAX_TIMERS } from "./module-limits.js";

/** Most callbacks handed to the isolate in one entry. */
const BATCH = 1000;

/** How often a paused version looks again for a call in flight that may wait on its timers, ms. */
const PAUSED_POLL_MS = 10;

export type TimerMode = "running" | "paused" | "retired" | "stopped";

/** The isolate side, as the timers need it. */
export interface TimerRunner {
  /**
   * Runs the callbacks of `ids` in the isolate, in order, and resolves with the ids it had no
   * time for. Never rejects: a failure is the runner's to report.
   */
  fire(ids: number[]): Promise<number[]>;
  /** Whether calls are in flight on this version (see the modes above). */
  busy(): boolean;
}

interface Entry {
  due: number;
  /** The interval, ms, for a repeating timer; null for a one-shot. */
  every: number | null;
  /** Matches the heap entry that is current for this timer (older ones are skipped). */
  seq: number;
}

interface Slot {
  due: number;
  seq: number;
  id: number;
}

export class ModuleTimers {
  private readonly live = new Map<number, Entry>();
  /** A binary min-heap on (due, seq): the order timers fire in, as Node's own. */
  private readonly heap: Slot[] = [];
  private seq = 0;
  private wake: NodeJS.Timeout | null = null;
  private wakeAt = Infinity;
  private immediate: NodeJS.Immediate | null = null;
  private firing = false;
  private state: TimerMode = "running";

  constructor(private readonly runner: TimerRunner) {}

  get mode(): TimerMode {
    return this.state;
  }

  /** How many timers are live (set, neither fired nor cleared). */
  get size(): number {
    return this.live.size;
  }

  /** Schedules timer `id`; false (and nothing scheduled) past MAX_TIMERS or once stopped. */
  set(id: number, ms: number, repeat: boolean): boolean {
    if (this.state === "stopped" || (this.state === "retired" && repeat)) return false;
    if (!this.live.has(id) && this.live.size >= MAX_TIMERS) return false;
    // Node's own floor: an interval of 0 would run back to back.
    const delay = repeat ? Math.max(1, ms) : Math.max(0, ms);
    const entry: Entry = { due: performance.now() + delay, every: repeat ? delay : null, seq: this.seq++ };
    this.live.set(id, entry);
    this.push({ due: entry.due, seq: entry.seq, id });
    this.arm();
    return true;
  }

  clear(id: number): void {
    this.live.delete(id); // its heap slot is skipped when it comes up
    if (this.live.size === 0) this.disarm();
  }

  /** During a swap's handover (see the modes above). */
  pause(): void {
    if (this.state === "running") this.state = "paused";
  }

  /** The swap failed: the version serves on, and its timers with it. */
  resume(): void {
    if (this.state !== "paused") return;
    this.state = "running";
    this.arm();
  }

  /** New work goes to the next version: its repeating timers end now. */
  retire(): void {
    if (this.state === "stopped") return;
    this.state = "retired";
    for (const [id, entry] of this.live) if (entry.every !== null) this.live.delete(id);
    if (!this.runner.busy()) this.stop();
  }

  /** Nothing fires again. */
  stop(): void {
    this.state = "stopped";
    this.live.clear();
    this.heap.length = 0;
    this.disarm();
  }

  /** Calls are in flight again on a paused or retired version: its due one-shots may fire. */
  nudge(): void {
    if (this.state === "paused" || this.state === "retired") this.arm();
  }

  private arm(): void {
    if (this.state === "stopped" || this.firing || this.immediate !== null) return;
    const next = this.peek();
    if (next === undefined) return this.disarm();
    if (this.wake !== null && this.wakeAt <= next.due) return;
    this.disarm();
    this.wakeAt = next.due;
    this.wake = setTimeout(() => this.tick(), Math.max(0, Math.ceil(next.due - performance.now())));
    // The runtime's IPC keeps the process alive; a module's timer should not.
    this.wake.unref();
  }

  private disarm(): void {
    if (this.wake !== null) clearTimeout(this.wake);
    this.wake = null;
    this.wakeAt = Infinity;
  }

  private tick(): void {
    this.wake = null;
    this.wakeAt = Infinity;
    this.immediate = null;
    if (this.state === "stopped" || this.firing) return;
    const now = performance.now();
    const oneShotsOnly = this.state !== "running";
    const mayFire = !oneShotsOnly || this.runner.busy();
    const ids: number[] = [];
    const deferred: Slot[] = [];
    let next: Slot | undefined;
    while (ids.length < BATCH && (next = this.peek()) !== undefined && next.due <= now) {
      this.pop();
      const entry = this.live.get(next.id)!;
      if (entry.every !== null) {
        // The next run counts from this one, as Node's setInterval does; a paused version skips it.
        entry.due = now + entry.every;
        entry.seq = this.seq++;
        this.push({ due: entry.due, seq: entry.seq, id: next.id });
        if (!oneShotsOnly) ids.push(next.id);
      } else if (mayFire) {
        this.live.delete(next.id);
        ids.push(next.id);
      } else {
        deferred.push(next);
      }
    }
    for (const slot of deferred) this.push(slot);
    if (ids.length === 0) {
      // Paused with nothing in flight: look again shortly rather than spin on due one-shots.
      if (deferred.length > 0) {
        this.wakeAt = now + PAUSED_POLL_MS;
        this.wake = setTimeout(() => this.tick(), PAUSED_POLL_MS);
        this.wake.unref();
      } else {
        this.arm();
      }
      return;
    }
    this.firing = true;
    void this.runner.fire(ids).then(
      (unrun) => this.afterBatch(ids, unrun),
      () => this.afterBatch(ids, []),
    );
  }

  private afterBatch(ids: number[], unrun: number[]): void {
    this.firing = false;
    if (this.state === "stopped") return;
    // One-shots the harness had no time for go back, due at once; a repeating one just misses a run.
    if (unrun.length > 0) {
      const asked = new Set(ids);
      const now = performance.now();
      for (const id of unrun) {
        if (!asked.has(id) || this.live.has(id) || this.live.size >= MAX_TIMERS) continue;
        const entry: Entry = { due: now, every: null, seq: this.seq++ };
        this.live.set(id, entry);
        this.push({ due: entry.due, seq: entry.seq, id });
      }
    }
    const next = this.peek();
    if (next !== undefined && next.due <= performance.now()) {
      // More is due: after a turn of the event loop, so the rest of the runtime is not starved.
      this.immediate = setImmediate(() => this.tick());
      this.immediate.unref();
    } else {
      this.arm();
    }
  }

  /** The earliest slot still current, dropping stale ones. */
  private peek(): Slot | undefined {
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      if (this.live.get(top.id)?.seq === top.seq) return top;
      this.pop();
    }
    return undefined;
  }

  private push(slot: Slot): void {
    // Cleared timers leave their slots behind until they come up; a module that sets and clears
    // in a loop (a debounce) must not grow the heap without bound, so it is rebuilt from the live ones.
    if (this.heap.length > 2 * this.live.size + 1024) this.compact();
    const h = this.heap;
    h.push(slot);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private compact(): void {
    const current = this.heap.filter((slot) => this.live.get(slot.id)?.seq === slot.seq);
    this.heap.length = 0;
    for (const slot of current) this.push(slot);
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < h.length && before(h[l]!, h[least]!)) least = l;
      if (r < h.length && before(h[r]!, h[least]!)) least = r;
      if (least === i) return;
      [h[i], h[least]] = [h[least]!, h[i]!];
      i = least;
    }
  }
}

function before(a: Slot, b: Slot): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}
