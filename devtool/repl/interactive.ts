/**
 * The interactive REPL on a terminal, built on node's own `node:repl` (issue 12): its line
 * editor, multi-line input, `.editor`, `.load`, `.save`, `.break`, reverse history search
 * (Ctrl-R) and Ctrl-C/Ctrl-D behave exactly as in `node`. What is ours:
 *
 *   evaluator   asynchronous, remote: each complete input is sent to the node; input that only
 *               ends too soon is `repl.Recoverable`, so node:repl asks for the next line
 *   completer   asked of the node (dot-commands and `.use` names here)
 *   history     per node, appended as lines are entered (History), so that two sessions on one
 *               node both keep theirs; node's setupHistory rewrites the whole file instead
 *   commands    .modules, .use [M], .clear (a fresh scratch context on the node), .help
 *
 * While an evaluation runs, keys are held and replayed after it, as node's REPL does with its
 * own evaluator, so inputs run one at a time in the order typed; Ctrl-C then stops waiting for
 * the evaluation (the node goes on until the code ends or hits its limits).
 */
import { Recoverable, start, type REPLServer, type ReplOptions } from "node:repl";
import { inspect } from "node:util";
import { styleFor, type Style } from "../ui/output.js";
import { toFixpointError } from "../../loader/index.js";
import type { ReplClient } from "./client.js";
import { runDotCommand } from "./dot-commands.js";
import { History, HISTORY_SIZE } from "./history.js";
import { isUnfinished } from "./input.js";
import { colorsOn, renderError, renderOutput, renderResult } from "./render.js";

type Key = { name?: string; ctrl?: boolean; meta?: boolean; shift?: boolean } | undefined;

/**
 * The parts of REPLServer (and its readline Interface) that node's typings leave out but that
 * node:repl itself relies on: `history` (newest first) is readline's, `_ttyWrite` is the key
 * handler node:repl wraps for its own pausing and editor mode (we wrap it once more, outside),
 * `editorMode` is set by `.editor` and `.load`.
 */
interface ServerInternals {
  history?: string[];
  _ttyWrite(data: string | undefined, key: Key): void;
  editorMode: boolean;
  line: string;
}

/** What the evaluator hands node:repl's writer: text already rendered, printed as it is. */
class Rendered {
  constructor(readonly text: string) {}
}

const CLEAR_HELP = "Break, and start a fresh scratch context on the node (a module's own state is kept)";

export class InteractiveRepl {
  private readonly style: Style;
  private readonly colors: boolean;
  private readonly terminal: boolean;
  private server: REPLServer | null = null;
  /** Set while an evaluation or a dot-command that asks the node is under way. */
  private busy: { abandon?: () => void } | null = null;
  /** Keys typed while busy, replayed in order after it. */
  private readonly held: Array<[string | undefined, Key]> = [];
  /** Set by Ctrl-D in editor mode: that input is sent as it is, finished or not, as node does. */
  private editorSubmit = false;

  constructor(
    private readonly client: ReplClient,
    private readonly history: History,
  ) {
    this.style = styleFor(process.stdout);
    this.colors = colorsOn(process.stdout);
    this.terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
  }

  /** Prints output from the node's code, above the prompt when one is showing. */
  output(level: string, text: string): void {
    const line = renderOutput(this.style, level, text);
    if (this.server === null || this.busy !== null || !this.terminal) {
      process.stdout.write(line + "\n");
      return;
    }
    process.stdout.write(`\r\x1b[2K${line}\n`);
    this.server.prompt(true);
  }

  /** Runs until .exit, Ctrl-D or a second Ctrl-C on an empty line; the exit status is 0. */
  async run(): Promise<number> {
    process.stdout.write(this.style.dim(`Fixpoint REPL on ${this.client.label}: code runs on the node. .help for commands, Ctrl-D to leave.\n`));
    // readline keeps 30 lines unless told otherwise. node:repl hands its `historySize` option on
    // to readline on every line (20 to 26), though node's typings leave it out; setting it on the
    // server afterwards throws from Node 24 on, where it is a getter only.
    const options: ReplOptions & { historySize: number } = {
      historySize: HISTORY_SIZE,
      prompt: this.promptText(),
      input: process.stdin,
      output: process.stdout,
      terminal: this.terminal,
      useColors: this.colors,
      // Previews would evaluate in a local context that has nothing of the node's.
      preview: false,
      eval: (code, _context, _file, callback) => this.evaluate(code, callback),
      writer: (value: unknown) => (value instanceof Rendered ? value.text : inspect(value, { colors: this.colors })),
      completer: (line: string, callback: (err: Error | null, result: [string[], string]) => void) => this.complete(line, callback),
    };
    const server = start(options);
    this.server = server;
    const internals = server as unknown as ServerInternals;
    // Seed node:repl's history (readline's array, newest first) with this node's saved lines.
    if (Array.isArray(internals.history)) internals.history.splice(0, internals.history.length, ...this.history.load().slice(0, HISTORY_SIZE));
    server.on("line", (line) => this.history.add(line));
    this.holdKeysWhileBusy(server, internals);
    this.defineCommands(server);
    const exited = new Promise<void>((resolve) => server.on("exit", () => resolve()));
    await exited;
    this.busy?.abandon?.();
    process.stdout.write("\n");
    return 0;
  }

  private promptText(): string {
    const where = this.client.module === null ? this.client.label : `${this.client.label}:${this.client.module}`;
    return `${this.style.bold(where)}> `;
  }

  /** node:repl's evaluator: Recoverable for input that ends too soon, else the node's answer. */
  private evaluate(code: string, callback: (err: Error | null, result?: unknown) => void): void {
    // node:repl hands over the buffered lines with a newline after the last.
    const source = code.replace(/\n$/, "");
    const submitted = this.editorSubmit;
    this.editorSubmit = false;
    if (source.trim() === "") {
      callback(null);
      return;
    }
    if (!submitted && isUnfinished(source)) {
      callback(new Recoverable(new SyntaxError("Unexpected end of input")));
      return;
    }
    let settled = false;
    const settle = (text: string) => {
      if (settled) return;
      settled = true;
      this.busy = null;
      callback(null, new Rendered(text));
      if (this.terminal) this.replayHeld();
      else this.server?.resume();
    };
    if (!this.terminal) this.server?.pause();
    this.busy = {
      abandon: () => settle(this.style.yellow("(interrupted: stopped waiting; the node goes on with it until it ends or hits its CPU or time limit, and its result will not be shown)")),
    };
    this.client.evaluate(source, this.colors).then(
      (result) => settle(this.reconnectNote() + renderResult(this.style, source, result)),
      (err: unknown) => settle(this.reconnectNote() + renderError(this.style, toFixpointError(err))),
    );
  }

  private reconnectNote(): string {
    return this.client.takeReconnected() ? this.style.yellow("(reconnected: the scratch variables of the lost connection are gone)") + "\n" : "";
  }

  /**
   * Wraps the key handler outside node:repl's own wrapper: while busy, Ctrl-C abandons the wait
   * and other keys are held; Ctrl-D in editor mode marks the input as submitted whole. Without a
   * terminal there are no keys: input is paused while busy instead.
   */
  private holdKeysWhileBusy(server: REPLServer, internals: ServerInternals): void {
    const inner = internals._ttyWrite.bind(server);
    internals._ttyWrite = (data, key) => {
      if (this.busy !== null) {
        if (key?.ctrl === true && key.name === "c") this.busy.abandon?.();
        else this.held.push([data, key]);
        return;
      }
      if (internals.editorMode && key?.ctrl === true && key.name === "d") this.editorSubmit = true;
      inner(data, key);
    };
    // A prompt shown while an answer is awaited would be overwritten by it; node:repl shows the
    // prompt again once the evaluator has answered.
    const displayPrompt = server.displayPrompt.bind(server);
    server.displayPrompt = (preserveCursor?: boolean) => {
      if (this.busy === null) displayPrompt(preserveCursor);
    };
  }

  private replayHeld(): void {
    const internals = this.server as unknown as ServerInternals;
    while (this.busy === null && this.held.length > 0) {
      const [data, key] = this.held.shift()!;
      internals._ttyWrite(data, key);
    }
  }

  private defineCommands(server: REPLServer): void {
    const dot = (line: string) =>
      this.whileBusy(async () => {
        const outcome = await runDotCommand(line, this.client, this.style);
        if (outcome.kind === "print") process.stdout.write(outcome.text + "\n");
        if (outcome.kind === "switched") server.setPrompt(this.promptText());
      });
    server.defineCommand("modules", { help: "The node's modules, with versions and whether they run", action: () => dot(".modules") });
    server.defineCommand("use", {
      help: "Evaluate inside module M's isolate (.use M: its state, functions and ctx in scope); .use alone: back to the scratch context",
      action: (rest) => dot(`.use ${rest}`),
    });
    server.defineCommand("clear", {
      help: CLEAR_HELP,
      action: () => {
        server.clearBufferedCommand();
        this.client.reset();
        process.stdout.write("Clearing context...\n");
        server.displayPrompt();
      },
    });
    server.defineCommand("help", {
      help: "Print this help message",
      action: () => {
        const names = Object.keys(server.commands).sort();
        const width = Math.max(...names.map((n) => n.length));
        for (const name of names) process.stdout.write(`.${name.padEnd(width + 3)}${server.commands[name]?.help ?? ""}\n`);
        process.stdout.write(
          "\nCode runs on the node: in this session's scratch context, or with .use M inside module M.\n" +
            "Tab completes names asked of the node; _ is the last result; Ctrl-R searches the history.\n" +
            "Press Ctrl+C to abort current expression (or stop waiting for an evaluation), Ctrl+D to exit the REPL\n",
        );
        server.displayPrompt();
      },
    });
  }

  /** Runs a dot-command that asks the node, holding keys meanwhile, then shows the prompt. */
  private whileBusy(work: () => Promise<void>): void {
    this.busy = {};
    work()
      .catch((err: unknown) => void process.stdout.write(renderError(this.style, toFixpointError(err)) + "\n"))
      .finally(() => {
        this.busy = null;
        this.server?.displayPrompt();
        this.replayHeld();
      });
  }

  private complete(line: string, callback: (err: Error | null, result: [string[], string]) => void): void {
    const server = this.server;
    if (server !== null && /^\s*\.\w*$/.test(line)) {
      const word = line.trim();
      callback(null, [Object.keys(server.commands).map((c) => `.${c}`).filter((c) => c.startsWith(word)).sort(), word]);
      return;
    }
    const use = /^\s*\.use\s+([a-z0-9-]*)$/.exec(line);
    if (use !== null) {
      const prefix = use[1]!;
      this.client.modules().then(
        (modules) => callback(null, [modules.filter((m) => m.running && m.name.startsWith(prefix)).map((m) => m.name), prefix]),
        () => callback(null, [[], prefix]),
      );
      return;
    }
    this.client.complete(line).then(
      (result) => callback(null, [result.candidates, result.prefix]),
      () => callback(null, [[], ""]),
    );
  }
}
