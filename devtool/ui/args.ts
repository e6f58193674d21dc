/**
 * Command-line parsing shared by both CLIs, on node:util's parseArgs in strict mode: an
 * unknown flag (with a "did you mean" when one is close), a missing value or a stray
 * positional is a USAGE error that names it, and the CLI prints the command's help after it.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { FixpointError } from "../../loader/protocol/errors.js";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

const shapeErrors = new WeakSet<FixpointError>();

/**
 * A USAGE error about the shape of the command line (an unknown flag or command, a missing
 * value, a stray argument): the CLI prints the command's help after it. Other USAGE errors (a
 * file that exists, a value out of range) say all there is to say in their message, and the
 * help after them would bury it (issue 12.11: `keygen` over an existing key printed its help).
 */
export function shapeError(message: string): FixpointError {
  const error = new FixpointError("USAGE", message);
  shapeErrors.add(error);
  return error;
}

export function isShapeError(err: unknown): boolean {
  return err instanceof FixpointError && shapeErrors.has(err);
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length]!;
}

/** The candidate closest to `typed`, if it is close enough to be what was meant. */
export function closest(typed: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = candidate.startsWith(typed) || typed.startsWith(candidate) ? Math.min(1, distance(typed, candidate)) : distance(typed, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(typed.length / 3)) ? best : undefined;
}

export function parseCommandLine(args: string[], options: OptionSpec, maxPositionals: number): Parsed {
  let parsed: Parsed;
  const all: OptionSpec = { ...options, help: { type: "boolean", short: "h" } };
  try {
    parsed = parseArgs({ args, options: all, strict: true, allowPositionals: true }) as Parsed;
  } catch (err) {
    // parseArgs' messages name the flag but suggest "--" for positionals, which we never need.
    let message = (err as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, "");
    const unknown = /^Unknown option '--?([^']+)'/.exec(message)?.[1];
    const suggestion = unknown === undefined ? undefined : closest(unknown, Object.keys(all));
    if (suggestion !== undefined) message += `; did you mean --${suggestion}?`;
    throw shapeError(message);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw shapeError(`unexpected argument "${parsed.positionals[maxPositionals]}"`);
  }
  return parsed;
}

export function stringOption(parsed: Parsed, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === "string" ? value : undefined;
}

export function requireOption(parsed: Parsed, name: string): string {
  const value = stringOption(parsed, name);
  if (value === undefined || value === "") throw shapeError(`--${name} is required`);
  return value;
}
