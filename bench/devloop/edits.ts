/**
 * One edit, measured: note the counter each URL last showed, take the time, write the new
 * source, and poll every URL until it answers with the new version. The time is from just
 * before the write to the first answer carrying the new version (from the poller or the
 * steady traffic, whichever arrives first); the state survived if that answer's counter is
 * above the one seen before the write (a restarted server starts again from 1).
 */
import { writeSource } from "./app.js";
import { pollFor, type Seen } from "./http.js";

/** An edit that is not served within this is counted as missed. */
export const EDIT_TIMEOUT_MS = 15_000;
/**
 * Pause between the poller's requests to one URL, ms, times the number of URLs: the poller
 * sends about one request per ms in all, for one node or five. Its resolution; back to back,
 * or 1 ms per URL for five nodes, would load this 2-core machine more than the change does.
 */
export const POLL_PAUSE_MS = 1;

export interface EditTarget {
  label: string;
  file: string;
  source: (version: string) => string;
  /** The URLs that must all serve the new version (one per node). */
  urls: URL[];
  /** Started right after the write (one-shot `devtool push`); awaited before the next edit. */
  afterWrite?: () => Promise<unknown>;
}

export interface EditResult {
  version: string;
  /** ms until every URL served the new version; null if one did not within EDIT_TIMEOUT_MS. */
  allMs: number | null;
  /** ms until the first URL served it. */
  firstMs: number | null;
  /** Every URL's first new answer showed a counter above what it showed before the write. */
  stateKept: boolean;
  /** The lowest counter among the URLs' first new answers, and the highest before the write. */
  hitsAfter: number;
  hitsBefore: number;
}

export async function edit(target: EditTarget, previous: string, version: string, seen: Seen): Promise<EditResult> {
  const before = target.urls.map((u) => seen.maxHits(u, previous) ?? 0);
  const t0 = performance.now();
  writeSource(target.file, target.source(version));
  const after = target.afterWrite?.();
  const deadline = t0 + EDIT_TIMEOUT_MS;
  const times = await Promise.all(target.urls.map((u) => pollFor(u, version, seen, POLL_PAUSE_MS * target.urls.length, deadline)));
  await after;
  const firsts = target.urls.map((u) => seen.first(u, version));
  const served = times.every((t) => t !== null);
  return {
    version,
    allMs: served ? Math.max(...(times as number[])) - t0 : null,
    firstMs: times.some((t) => t !== null) ? Math.min(...times.filter((t): t is number => t !== null)) - t0 : null,
    stateKept: served && firsts.every((f, i) => f !== undefined && f.hits > before[i]!),
    hitsAfter: Math.min(...firsts.map((f) => f?.hits ?? 0)),
    hitsBefore: Math.max(...before),
  };
}
