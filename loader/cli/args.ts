/**
 * Command-line parsing shared by both CLIs, on node:util's parseArgs in strict mode: an
 * unknown flag, a missing value or a stray positional is a USAGE error that names it, and the
 * CLI prints the command's help after it.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { FixpointError } from "../errors.js";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parseCommandLine(args: string[], options: OptionSpec, maxPositionals: number): Parsed {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args, options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: true }) as Parsed;
  } catch (err) {
    // parseArgs' messages name the flag but suggest "--" for positionals, which we never need.
    const message = (err as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, "");
    throw new FixpointError("USAGE", message);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new FixpointError("USAGE", `unexpected argument "${parsed.positionals[maxPositionals]}"`);
  }
  return parsed;
}

export function stringOption(parsed: Parsed, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === "string" ? value : undefined;
}

export function requireOption(parsed: Parsed, name: string): string {
  const value = stringOption(parsed, name);
  if (value === undefined || value === "") throw new FixpointError("USAGE", `--${name} is required`);
  return value;
}
