/**
 * One isolate prepared ahead (bootstrap run, harness booted), so that a swap starts at
 * compiling the module: creating an isolate and loading the web primitives is most of what a
 * swap would otherwise cost.
 *
 * The spare is prepared a moment after a swap, not during or right after it: preparing takes
 * the same CPU the swap (and, with several nodes on one machine, the other nodes' swaps) needs
 * to be live. A swap that comes before the spare is started prepares its own isolate at once
 * instead of waiting for the timer.
 */
import { discardIsolate, prepareIsolate, type IsolateLimits, type WarmIsolate } from "../host/module-isolate.js";

/** How long after a swap the next spare is prepared, ms. */
export const SPARE_DELAY_MS = 50;

type Spare = { state: "waiting"; timer: NodeJS.Timeout } | { state: "preparing"; warm: Promise<WarmIsolate | null>; taken: boolean } | { state: "ready"; warm: WarmIsolate };

export class SpareIsolate {
  private spare: Spare | null = null;
  private disposed = false;

  constructor(
    private readonly limits: IsolateLimits,
    private readonly delayMs = SPARE_DELAY_MS,
  ) {}

  /** The prepared isolate if there is one (or one being prepared); null: prepare your own. */
  async take(): Promise<WarmIsolate | null> {
    const spare = this.spare;
    this.spare = null;
    if (spare === null) return null;
    switch (spare.state) {
      case "ready":
        return spare.warm;
      case "preparing":
        spare.taken = true;
        return spare.warm;
      case "waiting":
        clearTimeout(spare.timer);
        return null;
    }
  }

  /** Prepares the next spare in a moment, unless one is there or on its way. */
  refill(): void {
    if (this.disposed || this.spare !== null) return;
    const timer = setTimeout(() => {
      if (this.spare?.state !== "waiting" || this.spare.timer !== timer) return;
      const warm = prepareIsolate(this.limits).catch(() => null);
      const entry = { state: "preparing" as const, warm, taken: false };
      this.spare = entry;
      void warm.then((w) => {
        if (entry.taken) return;
        if (this.disposed) {
          if (w !== null) discardIsolate(w);
        } else if (this.spare === entry) {
          this.spare = w === null ? null : { state: "ready", warm: w };
        }
      });
    }, this.delayMs);
    timer.unref();
    this.spare = { state: "waiting", timer };
  }

  dispose(): void {
    this.disposed = true;
    const spare = this.spare;
    this.spare = null;
    if (spare?.state === "waiting") clearTimeout(spare.timer);
    if (spare?.state === "ready") discardIsolate(spare.warm);
    // "preparing": discarded when it is done (see refill).
  }
}
