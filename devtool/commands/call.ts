import { FixpointError, MODULE_NAME, parseCommandLine, styleFor, type Data } from "../../loader/index.js";
import { CONNECTION_HELP, CONNECTION_OPTIONS, contextFrom, exitStatusOf, fanOut, printFailures } from "./common.js";

export const HELP = `Usage: devtool call MODULE FUNCTION [ARG...] [--node NAME|HOST:PORT] [--json] [options]

Calls an exported function of a running module — Erlang's {M, F, A} — and prints its result.
Each ARG is a JSON value (42, true, '"text"', '{"a":1}'); a bare word that is not JSON is
refused rather than guessed. With several nodes, calls each and prints the result per node.

Options:
  --json                 print results as JSON, one line per node
${CONNECTION_HELP}`;

export function parseArgument(text: string, index: number): Data {
  try {
    return JSON.parse(text) as Data;
  } catch {
    throw new FixpointError("ARGUMENTS_INVALID", `argument ${index + 1} (${JSON.stringify(text)}) is not JSON; quote strings as '"${text}"'`);
  }
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { ...CONNECTION_OPTIONS, json: { type: "boolean" } }, 258);
  if (parsed.values["help"] === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const [module, fn, ...rest] = parsed.positionals;
  if (module === undefined || fn === undefined) throw new FixpointError("USAGE", "devtool call needs MODULE and FUNCTION");
  if (!MODULE_NAME.test(module)) throw new FixpointError("USAGE", `"${module}" is not a module name (lowercase letters, digits, "-")`);
  const callArgs = rest.map(parseArgument);
  const ctx = contextFrom(parsed);
  const json = parsed.values["json"] === true;
  const outcomes = await fanOut(ctx, (conn) => conn.request("call", { module, fn, args: callArgs }, { timeoutMs: 60_000 }));
  const out = styleFor(process.stdout);
  const many = outcomes.length > 1;
  for (const { target, value } of outcomes) {
    if (value === undefined) continue;
    const text = value.value === undefined ? "undefined" : JSON.stringify(value.value, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v), json ? undefined : 2);
    process.stdout.write(json ? JSON.stringify({ node: target.label, value: value.value ?? null }) + "\n" : `${many ? out.dim(`${target.label}: `) : ""}${text}\n`);
  }
  printFailures(outcomes);
  return exitStatusOf(outcomes);
}
