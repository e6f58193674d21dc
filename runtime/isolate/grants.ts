/**
 * The names of the host's grants, in the order the harness receives them. What each one is,
 * and the host side of it, is runtime/host/capabilities.ts; this list stands apart only so that
 * the isolate's bundle takes the names without the host code.
 */
export const GRANTS = ["log", "setTimer", "clearTimer", "call", "settle", "host"] as const;
export type Grant = (typeof GRANTS)[number];
