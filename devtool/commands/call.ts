import { FixpointError, MODULE_NAME, MODULE_NAME_RULE, toFixpointError, type Data } from "../../loader/index.js";
import { parseCommandLine, shapeError } from "../ui/args.js";
import { styleFor } from "../ui/output.js";
import { CONNECTION_HELP, CONNECTION_OPTIONS, DEADLINE_HELP, DEADLINE_OPTION, contextFrom, deadlineFrom, exitStatusOf, fanOut, pastDeadline, printFailures } from "./common.js";

export const HELP = `Usage: devtool call MODULE FUNCTION [ARG...] [--node NAME|HOST:PORT] [--json] [options]

Calls an exported function of a running module (Erlang's {M, F, A}) and prints its result.
Each ARG is a JSON value (42, true, '"text"', '{"a":1}'); a bare word that is not JSON is
refused rather than guessed. With several nodes, calls each and prints the result per node.

Options:
  --json                 print results as JSON, one line per node
${DEADLINE_HELP}${CONNECTION_HELP}`;

/**
 * One ARG as JSON. Advice to quote is given only for a bare word (\`three\`, \`Ada Lovelace\`),
 * which is a string the shell stripped of its quotes; text that tries to be JSON and is broken
 * (\`{"a":\`) is told what is wrong with it (issue 12.4: it was told to quote it as '"{"a":"').
 */
export function parseArgument(text: string, index: number): Data {
  try {
    return JSON.parse(text) as Data;
  } catch (err) {
    const what = `argument ${index + 1} (${JSON.stringify(text)})`;
    if (BARE_WORD.test(text)) {
      throw new FixpointError("ARGUMENTS_INVALID", `${what} is not JSON; to pass it as a string, quote it: '${JSON.stringify(text)}'`);
    }
    const why = (err as Error).message.replace(/^JSON\.parse: /, "");
    throw new FixpointError("ARGUMENTS_INVALID", `${what} is not JSON (${why}); pass each argument as one JSON value, in single quotes in a shell: 42, '"text"', '{"a":1}'`);
  }
}

/** Words with no JSON punctuation or quotes in them. */
const BARE_WORD = /^[^\s"'{}[\],:]+(?: [^\s"'{}[\],:]+)*$/u;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { ...CONNECTION_OPTIONS, ...DEADLINE_OPTION, json: { type: "boolean" } }, 258);
  if (parsed.values["help"] === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const [module, fn, ...rest] = parsed.positionals;
  if (module === undefined || fn === undefined) throw shapeError("devtool call needs MODULE and FUNCTION");
  if (!MODULE_NAME.test(module)) throw new FixpointError("USAGE", `"${module}" is not a module name (${MODULE_NAME_RULE})`);
  const callArgs = rest.map(parseArgument);
  const deadlineMs = deadlineFrom(parsed);
  const ctx = contextFrom(parsed);
  const json = parsed.values["json"] === true;
  const outcomes = await fanOut(ctx, (conn) =>
    conn.request("call", { module, fn, args: callArgs }, { timeoutMs: deadlineMs }).catch((e: unknown) => {
      throw toFixpointError(e).code === "REQUEST_TIMEOUT" ? pastDeadline(`${module}.${fn}`, deadlineMs) : e;
    }),
  );
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
