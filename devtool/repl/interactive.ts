/**
 * The interactive REPL on a terminal, on node's readline: prompt, multi-line continuation,
 * tab completion asked of the node, history per node, dot-commands, and the keys node's REPL
 * users expect:
 *
 *   Ctrl-C   with input: abandons it; during an evaluation: stops waiting for it (the node
 *            goes on until the code ends or hits its limits); on an empty line: once warns,
 *            twice leaves
 *   Ctrl-D   leaves
 *
 * Lines are handled one at a time, in order, even when typed during an evaluation.
 */
import { createInterface, type Interface } from "node:readline";
import { styleFor, type Style } from "../ui/output.js";
import { toFixpointError } from "../../loader/index.js";
import type { ReplClient } from "./client.js";
import { DOT_COMMANDS, runDotCommand } from "./dot-commands.js";
import { History, HISTORY_SIZE } from "./history.js";
import { isUnfinished } from "./input.js";
import { colorsOn, renderError, renderOutput, renderResult } from "./render.js";

type Completer = (line: string, callback: (err: Error | null, result: [string[], string]) => void) => void;

export class InteractiveRepl {
  private readonly style: Style;
  private readonly colors: boolean;
  private readonly rl: Interface;
  private buffer = "";
  private evaluating: { abandon: () => void } | null = null;
  private warnedExit = false;
  private queue: Promise<void> = Promise.resolve();
  private done!: () => void;
  private readonly finished = new Promise<void>((resolve) => (this.done = resolve));

  constructor(
    private readonly client: ReplClient,
    private readonly history: History,
  ) {
    this.style = styleFor(process.stdout);
    this.colors = colorsOn(process.stdout);
    this.rl = createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: process.stdin.isTTY === true && process.stdout.isTTY === true,
      history: history.load(),
      historySize: HISTORY_SIZE,
      removeHistoryDuplicates: true,
      completer: this.completer,
      tabSize: 2,
    });
  }

  /** Prints output from the node's code, above the prompt when one is showing. */
  output(level: string, text: string): void {
    const line = renderOutput(this.style, level, text);
    if (this.evaluating !== null) {
      process.stdout.write(line + "\n");
      return;
    }
    process.stdout.write(`\r\x1b[2K${line}\n`);
    this.rl.prompt(true);
  }

  /** Runs until .exit, Ctrl-D or a second Ctrl-C. */
  async run(): Promise<number> {
    process.stdout.write(this.style.dim(`Fixpoint REPL on ${this.client.label}: code runs on the node. .help for commands, Ctrl-D to leave.\n`));
    this.rl.on("line", (line) => {
      this.history.add(line);
      this.queue = this.queue.then(() => this.onLine(line));
    });
    this.rl.on("SIGINT", () => this.onInterrupt());
    this.rl.on("close", () => {
      process.stdout.write("\n");
      this.done();
    });
    this.setPrompt();
    this.rl.prompt();
    await this.finished;
    this.evaluating?.abandon();
    return 0;
  }

  private setPrompt(): void {
    if (this.buffer !== "") {
      this.rl.setPrompt("... ");
      return;
    }
    const where = this.client.module === null ? this.client.label : `${this.client.label}:${this.client.module}`;
    this.rl.setPrompt(`${this.style.bold(where)}> `);
  }

  private async onLine(line: string): Promise<void> {
    this.warnedExit = false;
    if (this.buffer === "" && /^\s*\.[a-z]/.test(line)) {
      await this.dotCommand(line);
    } else {
      this.buffer = this.buffer === "" ? line : `${this.buffer}\n${line}`;
      if (this.buffer.trim() === "") this.buffer = "";
      else if (!isUnfinished(this.buffer)) {
        const source = this.buffer;
        this.buffer = "";
        await this.evaluate(source);
      }
    }
    this.setPrompt();
    this.rl.prompt();
  }

  private async dotCommand(line: string): Promise<void> {
    try {
      const outcome = await runDotCommand(line, this.client, this.style);
      if (outcome.kind === "exit") this.rl.close();
      else if (outcome.kind === "print") process.stdout.write(outcome.text + "\n");
    } catch (err) {
      process.stdout.write(renderError(this.style, toFixpointError(err)) + "\n");
    }
  }

  private async evaluate(source: string): Promise<void> {
    const abandoned = new Promise<"abandoned">((resolve) => (this.evaluating = { abandon: () => resolve("abandoned") }));
    try {
      const outcome = await Promise.race([this.client.evaluate(source, this.colors), abandoned]);
      if (this.client.takeReconnected()) process.stdout.write(this.style.yellow("(reconnected: the scratch variables of the lost connection are gone)\n"));
      if (outcome === "abandoned") {
        process.stdout.write(this.style.yellow("(interrupted: stopped waiting; the node goes on with it until it ends or hits its CPU or time limit, and its result will not be shown)\n"));
        return;
      }
      process.stdout.write(renderResult(this.style, source, outcome) + "\n");
    } catch (err) {
      process.stdout.write(renderError(this.style, toFixpointError(err)) + "\n");
    } finally {
      this.evaluating = null;
    }
  }

  private onInterrupt(): void {
    if (this.evaluating !== null) {
      this.evaluating.abandon();
      return;
    }
    const typed = this.rl.line;
    if (this.buffer !== "" || typed !== "") {
      this.buffer = "";
      this.warnedExit = false;
      // Clear what is typed on the line, as node's REPL does, then a fresh prompt.
      this.rl.write(null, { ctrl: true, name: "e" });
      this.rl.write(null, { ctrl: true, name: "u" });
      process.stdout.write("\n");
      this.setPrompt();
      this.rl.prompt();
      return;
    }
    if (this.warnedExit) {
      this.rl.close();
      return;
    }
    this.warnedExit = true;
    process.stdout.write("\n(To exit, press Ctrl+C again or Ctrl+D or type .exit)\n");
    this.rl.prompt();
  }

  private readonly completer: Completer = (line, callback) => {
    if (this.buffer === "" && /^\s*\.\w*$/.test(line)) {
      const word = line.trim();
      callback(null, [DOT_COMMANDS.filter((c) => c.startsWith(word)), word]);
      return;
    }
    const use = /^\s*\.use\s+([a-z0-9-]*)$/.exec(line);
    if (use !== null) {
      this.client.modules().then(
        (modules) => callback(null, [modules.filter((m) => m.running && m.name.startsWith(use[1]!)).map((m) => m.name), use[1]!]),
        () => callback(null, [[], use[1]!]),
      );
      return;
    }
    // Completion of what is typed on this line, with earlier lines of the input before it.
    this.client.complete(line).then(
      (result) => callback(null, [result.candidates, result.prefix]),
      () => callback(null, [[], ""]),
    );
  };
}
