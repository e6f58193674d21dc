/**
 * The node's side of the remote REPL (issue 6): ties each client connection to a REPL session
 * in the runtime, forwards its console output back to it, audits production evaluations, and
 * drops the session's scratch isolate when the connection closes — also mid-evaluation, which
 * stops the code running in it.
 *
 * Rights are decided before this (trust/policy.ts); this file only runs what was allowed.
 */
import { FixpointError, toFixpointError } from "../protocol/errors.js";
import type { Logger } from "../protocol/log.js";
import type { Session } from "../channel/server.js";
import type { Mode, RequestOf, ResultOf } from "../protocol/messages.js";
import type { RuntimeSupervisor } from "../supervisor/runtime-supervisor.js";
import type { AuditLog, AuditOutcome } from "./audit-log.js";

export interface ReplGatewayOptions {
  runtime: RuntimeSupervisor | null;
  mode(): Mode;
  audit: AuditLog;
  /** Who a key is (its trust-file comment), for the audit log. */
  nameOf(key: Uint8Array): string;
  logger: Logger;
}

export class ReplGateway {
  /** Connections with a REPL session, by session name. */
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly options: ReplGatewayOptions) {}

  /** Console output from the runtime for `session`: to its connection, if still there. */
  output(session: string, level: string, text: string): void {
    this.sessions.get(session)?.sendEvent("repl", { level, text });
  }

  async eval(session: Session, request: RequestOf<"eval">): Promise<ResultOf<"eval">> {
    const runtime = this.runtime();
    const name = this.attach(session);
    const module = request.module ?? null;
    // Before anything runs: an evaluation that takes the node down is on record all the same.
    const auditId =
      this.options.mode() === "production"
        ? this.options.audit.recordEval({ key: session.fingerprint, name: this.options.nameOf(session.clientKey), remote: session.remoteAddress, module, source: request.source })
        : null;
    let result: Awaited<ReturnType<RuntimeSupervisor["replEval"]>>;
    try {
      result = await runtime.replEval({ session: name, ...(module === null ? {} : { module }), source: request.source, colors: request.colors === true });
    } catch (err) {
      const error = toFixpointError(err);
      if (auditId !== null) this.recordOutcome(auditId, { outcome: "error", code: error.code, text: error.message });
      throw error;
    }
    if (auditId !== null) this.recordOutcome(auditId, { outcome: result.threw ? "threw" : "ok", text: result.text });
    return result.location === undefined ? { threw: result.threw, text: result.text } : { threw: result.threw, text: result.text, location: result.location };
  }

  /**
   * The code has run by now, so a failure to record how it ended must not hide its result:
   * the entry written before it ran stands, and the node log says the outcome is missing.
   */
  private recordOutcome(id: string, outcome: AuditOutcome): void {
    try {
      this.options.audit.recordOutcome(id, outcome);
    } catch (err) {
      this.options.logger.log("error", "audit.outcome-failed", { id, code: toFixpointError(err).code, reason: toFixpointError(err).message });
    }
  }

  async complete(session: Session, request: RequestOf<"complete">): Promise<ResultOf<"complete">> {
    const runtime = this.runtime();
    const name = this.attach(session);
    return runtime.replComplete({ session: name, ...(request.module === undefined ? {} : { module: request.module }), source: request.source });
  }

  private runtime(): RuntimeSupervisor {
    if (this.options.runtime === null) throw new FixpointError("RUNTIME_UNAVAILABLE", "this node runs no modules (started without a runtime), so it has nowhere to evaluate");
    return this.options.runtime;
  }

  /** The session name of a connection, registering it (and its cleanup) on first use. */
  private attach(session: Session): string {
    const name = `c${session.id}`;
    if (this.sessions.has(name)) return name;
    this.sessions.set(name, session);
    session.onClose(() => {
      this.sessions.delete(name);
      this.options.runtime?.replDrop(name).then(
        ({ dropped }) => this.options.logger.log("info", "repl.closed", { session: name, client: session.fingerprint, scratchDisposed: dropped }),
        (err: unknown) => this.options.logger.log("warn", "repl.close-failed", { session: name, code: toFixpointError(err).code }),
      );
    });
    this.options.logger.log("info", "repl.opened", { session: name, client: session.fingerprint, remote: session.remoteAddress });
    return name;
  }
}
