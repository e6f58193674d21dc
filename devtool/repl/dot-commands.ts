/**
 * The REPL's own dot-commands, run by the devtool (they never reach the node as code):
 * .help, .modules, .use [M], .clear, .exit. Piped input runs them here; on a terminal
 * node:repl runs them beside its own (.editor, .load, .save, .break: see interactive.ts).
 */
import { FixpointError, MODULE_NAME, MODULE_NAME_RULE } from "../../loader/index.js";
import { type Style } from "../ui/output.js";
import type { ReplClient } from "./client.js";

export const DOT_HELP = `.help       this text
.modules    the node's modules, with versions and whether they run
.use M      evaluate inside module M's isolate (its state, functions and ctx in scope)
.use        back to this session's scratch context
.clear      a fresh scratch context on the node (earlier variables are gone; a module keeps its state)
.exit       leave (or Ctrl-D)

On a terminal there are also node's .editor, .load FILE, .save FILE and .break, and Ctrl-R
searches the history. Ctrl-C abandons the current input, or stops waiting for a running
evaluation. Tab completes globals and names in scope, asked of the node. _ is the last result.
`;

export type DotOutcome = { kind: "print"; text: string } | { kind: "exit" } | { kind: "switched" };

/** Runs one dot-command line. Throws USAGE for an unknown command, MODULE_NOT_FOUND for `.use` of a module not running. */
export async function runDotCommand(line: string, client: ReplClient, style: Style): Promise<DotOutcome> {
  const [command, ...rest] = line.trim().split(/\s+/);
  switch (command) {
    case ".help":
      return { kind: "print", text: DOT_HELP.trimEnd() };
    case ".exit":
      return { kind: "exit" };
    case ".clear":
      // The node disposes a session's scratch context when its connection closes.
      client.reset();
      return { kind: "switched" };
    case ".modules": {
      const modules = await client.modules();
      if (modules.length === 0) return { kind: "print", text: style.dim("(no modules on this node)") };
      const width = Math.max(...modules.map((m) => m.name.length));
      return {
        kind: "print",
        text: modules
          .map((m) => `${m.name.padEnd(width)}  ${m.running ? `v${m.version ?? "?"}` : style.yellow("not running")}  ${style.dim(m.digest.slice(0, 12))}${m.functions === undefined || m.functions.length === 0 ? "" : `  ${m.functions.join(", ")}`}`)
          .join("\n"),
      };
    }
    case ".use": {
      const name = rest[0];
      if (rest.length > 1) throw new FixpointError("USAGE", ".use takes one module name");
      if (name === undefined) {
        client.module = null;
        return { kind: "switched" };
      }
      if (!MODULE_NAME.test(name)) throw new FixpointError("USAGE", `"${name}" is not a module name (${MODULE_NAME_RULE})`);
      const modules = await client.modules();
      const found = modules.find((m) => m.name === name);
      if (found === undefined || !found.running) {
        const running = modules.filter((m) => m.running).map((m) => m.name);
        throw new FixpointError("MODULE_NOT_FOUND", `no module "${name}" runs on ${client.label}${running.length > 0 ? ` (running: ${running.join(", ")})` : ""}`);
      }
      client.module = name;
      return { kind: "switched" };
    }
    default:
      throw new FixpointError("USAGE", `unknown REPL command "${command ?? line}"; .help lists them`);
  }
}
