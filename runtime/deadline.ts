/**
 * Racing work against a timer, in one place: the runtime waits with a deadline for a module's
 * async outcome (its asyncMs), for a REPL evaluation, for an isolate's heap figure and for a
 * health check, and each had written the race (and the clearing of its timer) on its own.
 */

/**
 * Settles as `work` does if it settles within `ms`; otherwise with what `late()` returns, or
 * rejects with what it throws. The timer is cleared either way, and a late rejection of `work`
 * is handled (nobody waits for it any more).
 *
 * @example
 * await withDeadline(isolate.health(), 1000, () => ({ ok: false, detail: "no answer within 1000 ms" }));
 * await withDeadline(settled, asyncMs, () => { throw new FixpointError("MODULE_TIMEOUT", "..."); });
 */
export function withDeadline<T, L = never>(work: Promise<T>, ms: number, late: () => L): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<L>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(late());
      } catch (err) {
        reject(err);
      }
    }, ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
