/** Small measuring tools shared by the dev-loop benchmark's sections. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** The sample at rank p/100 (same rule as bench/channel.ts). */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Completed operations per second with `inFlight` callers each waiting for its previous answer. */
export async function rate(op: () => Promise<unknown>, inFlight: number, ms: number): Promise<{ ops: number; perSecond: number }> {
  let ops = 0;
  const start = performance.now();
  const end = start + ms;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      await op();
      ops++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { ops, perSecond: ops / ((performance.now() - start) / 1000) };
}

const TICKS_PER_SECOND = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** The fields of /proc/PID/stat after the parenthesized name: index 0 is field 3 (state). */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** User + system CPU time of other processes so far, µs (from /proc/PID/stat, in clock ticks of 10 ms). */
export function cpuOfPids(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = statFields(pid);
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  }
  return (ticks / TICKS_PER_SECOND) * 1e6;
}

/** Minor page faults of other processes so far (field 10 of /proc/PID/stat). */
export function minorFaultsOfPids(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + Number(statFields(pid)[7]), 0);
}

/** CPU (µs) this process and `pids` spent while `f` ran. */
export async function withCpu<T>(pids: number[], f: () => Promise<T>): Promise<{ result: T; cpuUs: number }> {
  const s0 = cpuOfPids(pids);
  const c0 = process.cpuUsage();
  const result = await f();
  const c = process.cpuUsage(c0);
  return { result, cpuUs: c.user + c.system + (cpuOfPids(pids) - s0) };
}

export function cpuText(us: number): string {
  return us >= 10_000 ? `${(us / 1000).toFixed(1)} ms` : `${us.toFixed(0)} µs`;
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** A markdown table, numbers right-aligned (columns listed in `right`). */
export function table(header: string[], body: string[][], right: Set<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => "| " + cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(" | ") + " |";
  return [line(header), "|" + widths.map((w, i) => (right.has(i) ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2))).join("|") + "|", ...body.map(line)].join("\n");
}

/**
 * CPU time of other processes counted only while the work it is given runs, summed over calls:
 * pauses between (RSS readings, settling) are left out.
 */
export class CpuMeter {
  private total = 0;
  constructor(private readonly pids: number[]) {}

  async during<T>(f: () => Promise<T>): Promise<T> {
    const c0 = cpuOfPids(this.pids);
    try {
      return await f();
    } finally {
      this.total += cpuOfPids(this.pids) - c0;
    }
  }

  /** µs counted so far. */
  get us(): number {
    return this.total;
  }
}
