import { FixpointError, MODULE_NAME, MODULE_NAME_RULE } from "../../loader/index.js";
import { parseCommandLine, stringOption } from "../ui/args.js";
import { styleFor } from "../ui/output.js";
import { knownNodesPath } from "../home.js";
import { pinnedMessage } from "../nodes/targets.js";
import { runBatch } from "../repl/batch.js";
import { ReplClient } from "../repl/client.js";
import { History, historyPath } from "../repl/history.js";
import { groupInput } from "../repl/input.js";
import { InteractiveRepl } from "../repl/interactive.js";
import { renderOutput } from "../repl/render.js";
import { CONNECTION_HELP, CONNECTION_OPTIONS, DEADLINE_HELP, DEADLINE_OPTION, contextFrom, deadlineFrom } from "./common.js";

export const HELP = `Usage: devtool repl [--node NAME|HOST:PORT] [--module M] [--eval CODE] [options]

A REPL into a running node: the code you type runs on the node, never here — in a scratch
context of this session's own (its own isolate, with the node's memory and CPU limits), or with
--module (or .use M) inside that module's live isolate, where its state, functions and ctx are
in scope. On a terminal it is node's own REPL (node:repl) with a remote evaluator: multi-line
input, top-level await, _ for the last result, Tab completion asked of the node, history per
node in ~/.fixpoint/repl_history/ with Ctrl-R to search it, and the dot-commands:

  .editor       enter several lines at once; Ctrl-D sends them, Ctrl-C cancels
  .load FILE    send a local file's code to the node as one input
  .save FILE    write this session's inputs to a local file
  .break        abandon the unfinished input
  .clear        a fresh scratch context on the node (the session's variables are gone;
                a module's own state is kept)
  .modules      the node's modules, .use M to evaluate in one, .use to come back
  .help, .exit

Ctrl-C abandons the input or stops waiting for an evaluation; Ctrl-D leaves. If the node
restarts, the REPL says so and the next input reconnects (to a fresh scratch context).

In dev mode it needs a key with the dev or admin role; in production, admin, and the node
appends every evaluation to its audit log before running it.

Without a terminal (--eval, or input from a pipe) it evaluates each input in order, prints the
results that are not undefined, and exits 0, or non-zero if anything failed: 1 with EVAL_THREW
when code threw, or the coded error's status. Piped input may use .use, .modules, .clear, .exit.

Options:
  --module M             evaluate inside module M (default: the session's scratch context)
  --eval CODE, -e CODE   evaluate CODE as one input, print the result and exit
${DEADLINE_HELP}${CONNECTION_HELP}`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { ...CONNECTION_OPTIONS, ...DEADLINE_OPTION, module: { type: "string" }, eval: { type: "string", short: "e" } }, 0);
  if (parsed.values["help"] === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const module = stringOption(parsed, "module");
  if (module !== undefined && !MODULE_NAME.test(module)) throw new FixpointError("USAGE", `--module "${module}" is not a module name (${MODULE_NAME_RULE})`);
  const source = stringOption(parsed, "eval");
  if (source !== undefined && source.trim() === "") throw new FixpointError("USAGE", "--eval needs code to evaluate");
  const deadlineMs = deadlineFrom(parsed);
  const ctx = contextFrom(parsed);
  const target = ctx.targets[0];
  if (target === undefined || ctx.targets.length > 1) {
    throw new FixpointError("USAGE", `a REPL talks to one node; pick one with --node (${ctx.targets.map((t) => t.label).join(", ")})`);
  }
  const err = styleFor(process.stderr);
  const interactive = source === undefined && process.stdin.isTTY === true;
  let repl: InteractiveRepl | null = null;
  const client = new ReplClient({
    target,
    identity: ctx.identity,
    pin: {
      knownNodesFile: knownNodesPath(),
      acceptNew: ctx.acceptNew,
      onPinned: (t, key) => process.stderr.write(`${err.yellow("pinned")} ${pinnedMessage(t, key, knownNodesPath())}\n`),
    },
    ...(ctx.timeoutMs === undefined ? {} : { timeoutMs: ctx.timeoutMs }),
    deadlineMs,
    onOutput: (level, text) => {
      if (repl !== null) repl.output(level, text);
      else (level === "error" || level === "warn" ? process.stderr : process.stdout).write(renderOutput(styleFor(process.stdout), level, text) + "\n");
    },
    onLost: (reason) => {
      if (repl !== null) repl.output("warn", `(connection lost: ${reason}; the next input reconnects)`);
    },
  });
  client.module = module ?? null;
  try {
    // Unreachable, untrusted or refused: said now, before any input is taken.
    await client.open();
    if (module !== undefined) {
      const found = (await client.modules()).find((m) => m.name === module);
      if (found === undefined || !found.running) throw new FixpointError("MODULE_NOT_FOUND", `no module "${module}" runs on ${target.label}; \`devtool status\` lists them`);
    }
    if (source !== undefined) return await runBatch(client, [{ kind: "code", source }]);
    if (!interactive) return await runBatch(client, groupInput(await readStdin()));
    repl = new InteractiveRepl(client, new History(historyPath(target.label)));
    return await repl.run();
  } finally {
    client.close();
  }
}
