/**
 * Node flags for a process whose main work is a loader (`loader start`, `devtool dev`'s local
 * node): a young generation capped at 1 MiB per semi-space. A loader runs for months and
 * allocates in bursts (each push); with V8's default the young generation grows to its maximum
 * and the loader's RSS rose 21 MiB over 1000 pushes after warm-up, with the cap 2 MiB, at no
 * measurable CPU cost (bench/RESULTS.md, issue 10). Given at start: V8 flags set at run time
 * are undefined behaviour (a growth-factor flag set that way deadlocked loaders under load).
 */
export const LOADER_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=1"];
