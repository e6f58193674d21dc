/**
 * The devtool's end of a REPL session: one connection to one node, opened on first use, which
 * is the session (the node keeps the scratch variables for as long as it stays open). Console
 * output the node's code prints arrives as "repl" events and goes to `onOutput`. If the
 * connection drops, the next input opens a new one and the caller is told the scratch
 * variables are gone; an input is never sent twice.
 */
import { toFixpointError, type Data, type KeyPair, type ResultOf } from "../../loader/index.js";
import { type ClientConnection } from "../client/index.js";
import { connectTarget, type PinOptions, type Target } from "../nodes/targets.js";
import { pastDeadline } from "../commands/common.js";

export interface ReplClientOptions {
  target: Target;
  identity: KeyPair;
  pin: PinOptions;
  timeoutMs?: number;
  /** How long to wait for an evaluation's answer (--deadline-ms); past it, REQUEST_TIMEOUT. */
  deadlineMs?: number;
  /** Console output from the node's code, as it arrives. */
  onOutput(level: string, text: string): void;
  /** The connection was lost (and a later input reopens it). */
  onLost?(reason: string): void;
}

function outputOf(data: Data): { level: string; text: string } | null {
  if (typeof data !== "object" || data === null || Array.isArray(data) || data instanceof Uint8Array) return null;
  const record = data as { readonly [key: string]: Data };
  const level = record["level"];
  const text = record["text"];
  return typeof level === "string" && typeof text === "string" ? { level, text } : null;
}

export class ReplClient {
  /** The module evaluated in, or null for the session's scratch context. */
  module: string | null = null;
  private conn: Promise<ClientConnection> | null = null;
  /** Whether a connection was lost since the last one opened (its scratch variables with it). */
  private lost = false;

  constructor(private readonly options: ReplClientOptions) {}

  get label(): string {
    return this.options.target.label;
  }

  /** Opens the connection now, so that an unreachable or untrusted node is reported at start. */
  async open(): Promise<void> {
    await this.connection();
  }

  /** True once after a reconnect: the scratch variables of the lost connection are gone. */
  takeReconnected(): boolean {
    const was = this.lost;
    this.lost = false;
    return was;
  }

  evaluate(source: string, colors: boolean): Promise<ResultOf<"eval">> {
    const deadlineMs = this.options.deadlineMs;
    return this.request((conn) =>
      conn.request("eval", { source, colors, ...(this.module === null ? {} : { module: this.module }) }, deadlineMs === undefined ? {} : { timeoutMs: deadlineMs }).catch((e: unknown) => {
        throw toFixpointError(e).code === "REQUEST_TIMEOUT" && deadlineMs !== undefined ? pastDeadline("the evaluation", deadlineMs) : e;
      }),
    );
  }

  complete(source: string): Promise<ResultOf<"complete">> {
    return this.request((conn) => conn.request("complete", { source, ...(this.module === null ? {} : { module: this.module }) }, { timeoutMs: 5000 }));
  }

  /** The node's modules, for `.modules` and `.use`. */
  modules(): Promise<ResultOf<"status">["modules"]> {
    return this.request(async (conn) => (await conn.request("status", {}, { timeoutMs: 10_000 })).modules);
  }

  /**
   * Starts a fresh session (`.clear`): the connection is closed, so the node disposes this
   * session's scratch context, and the next input opens a new one. Not reported as a loss.
   */
  reset(): void {
    this.lost = false;
    this.close();
  }

  close(): void {
    const conn = this.conn;
    this.conn = null;
    void conn?.then((c) => c.close(), () => {});
  }

  private async request<T>(work: (conn: ClientConnection) => Promise<T>): Promise<T> {
    return work(await this.connection());
  }

  private connection(): Promise<ClientConnection> {
    if (this.conn !== null) return this.conn;
    const opening = connectTarget(this.options.target, this.options.identity, this.options.pin, this.options.timeoutMs).then((conn) => {
      conn.onEvent((topic, data) => {
        const output = topic === "repl" ? outputOf(data) : null;
        if (output !== null) this.options.onOutput(output.level, output.text);
      });
      conn.onClose((reason) => {
        if (this.conn !== opening) return;
        this.conn = null;
        this.lost = true;
        this.options.onLost?.(reason === null ? "the connection closed" : `${reason.code}: ${reason.message}`);
      });
      return conn;
    });
    opening.catch(() => {
      if (this.conn === opening) this.conn = null;
    });
    this.conn = opening;
    return opening.catch((err: unknown) => {
      throw toFixpointError(err);
    });
  }
}
