/**
 * The machine line every bench prints first: what the figures were taken on, including what a
 * fresh page of memory costs, which differs a hundredfold between machines and decides what
 * copying megabytes of state costs (bench/RESULTS.md, 2026-12-01, second section).
 */
import { cpus, totalmem } from "node:os";

/** "machine: AMD EPYC, 2 cores, 23.5 GiB, node v20.20.2, linux/x64, a fresh 4 KiB page 14.2 µs" */
export function machineLine(): string {
  const cpu = cpus();
  return `machine: ${cpu[0]?.model ?? "?"}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, ${process.platform}/${process.arch}, a fresh 4 KiB page ${pageFaultMicros().toFixed(1)} µs`;
}

/**
 * Microseconds to touch one page of memory the process never used (64 MiB, mapped anew, one
 * byte a page): the kernel's page fault and zeroing. Well under 1 µs on most hardware; 13–16 µs
 * on the KVM guest the recorded runs used, where every megabyte copied into new memory costs
 * about 4 ms.
 */
export function pageFaultMicros(): number {
  const bytes = 64 * 2 ** 20;
  const started = performance.now();
  const fresh = Buffer.allocUnsafeSlow(bytes);
  for (let i = 0; i < bytes; i += 4096) fresh[i] = 1;
  return ((performance.now() - started) * 1000) / (bytes / 4096);
}
