/**
 * A running node: its identity, trust, store and channel server, and the handlers for each
 * request type. Every request is authorized (trust/policy.ts) before its handler runs.
 */
import { FixpointError } from "../errors.js";
import { VERSION } from "../version.js";
import type { KeyPair } from "../crypto/ed25519.js";
import { fingerprint } from "../crypto/fingerprint.js";
import type { Logger } from "../log.js";
import { ChannelServer, type ServerLimits, type Session } from "../channel/server.js";
import { PROTOCOL_VERSIONS } from "../protocol/limits.js";
import type { Mode, Request, RequestOf, ResultOf } from "../protocol/messages.js";
import type { Data } from "../protocol/schema.js";
import { authorize } from "../trust/policy.js";
import { verifyBundle } from "../bundle/verify.js";
import { BundleStore } from "../store/bundle-store.js";
import { StateStore } from "../store/state-store.js";
import { readNodeConfig, parseHostPort, type NodeConfig } from "./config.js";
import { dataDirPaths, lockDataDir, readNodeIdentity, type DataDirPaths } from "./data-dir.js";
import { TrustCache } from "./trust-cache.js";
import { CodeServer } from "./code-server.js";
import { RuntimeSupervisor, type RuntimeEntry } from "../supervisor/runtime-supervisor.js";
import type { RuntimeLimits, RuntimeModuleStatus } from "../protocol/runtime-ipc.js";
import { HttpFront } from "./http-front.js";
import { AuditLog } from "./audit-log.js";
import { ReplGateway } from "./repl-gateway.js";

const RECENT_LOGS = 1000;

export interface NodeOptions {
  dataDir: string;
  /** Overrides config.json's listen address ("HOST:PORT"). */
  listen?: string;
  /** Overrides config.json's mode. */
  mode?: Mode;
  logger: Logger;
  limits?: Partial<ServerLimits>;
  /** How often changed module states are saved to disk, ms. Default 1000. */
  snapshotMs?: number;
  /** How to run modules; without it the node stores bundles but runs none. */
  runtime?: {
    entry: RuntimeEntry;
    limits: RuntimeLimits;
    /** "HOST:PORT" to serve HTTP for the modules on, if any. */
    http?: string;
    /** The module serving paths no other module claims. Default "index". */
    httpRoot?: string;
  };
}

export class LoaderNode {
  readonly paths: DataDirPaths;
  readonly config: NodeConfig;
  readonly identity: KeyPair;
  private readonly trust: TrustCache;
  private readonly store: BundleStore;
  private readonly server: ChannelServer;
  /** The one owner of every module's life: current version, status, saved state. */
  private readonly code: CodeServer;
  private readonly unlock: () => void;
  private readonly startedAt = new Date();
  private readonly logger: Logger;
  private address: { host: string; port: number } | null = null;
  private readonly runtime: RuntimeSupervisor | null = null;
  private readonly httpFront: HttpFront | null = null;
  /** The last RECENT_LOGS log events, for `devtool logs` without --follow. */
  private readonly recentLogs: Data[] = [];
  /** The remote REPL: sessions per connection, audit in production. */
  private readonly repl: ReplGateway;
  /** ms since the process started when this node was constructed, and how long reading its data directory took. */
  private readonly boot: { processMs: number; storeMs: number };

  /** Reads and checks everything on disk; throws a coded error before anything listens. */
  constructor(options: NodeOptions) {
    const constructedAt = performance.now();
    // Every log event also goes to clients subscribed to "log" (`devtool logs --follow`).
    this.logger = {
      log: (level, event, fields = {}) => {
        options.logger.log(level, event, fields);
        const data: Record<string, string | number | boolean | null> = {};
        for (const [k, v] of Object.entries(fields)) if (v !== undefined) data[k] = v;
        const entry = { time: new Date().toISOString(), level, event, fields: data };
        this.recentLogs.push(entry);
        if (this.recentLogs.length > RECENT_LOGS) this.recentLogs.shift();
        this.server.publish("log", entry);
      },
    };
    this.paths = dataDirPaths(options.dataDir);
    const fromDisk = readNodeConfig(this.paths.config);
    // One node per data directory, held from here until stop().
    this.unlock = lockDataDir(this.paths);
    try {
      this.config = { ...fromDisk, ...(options.listen === undefined ? {} : { listen: options.listen }), ...(options.mode === undefined ? {} : { mode: options.mode }) };
      this.identity = readNodeIdentity(this.paths);
      // The server first, so that everything logged from here on reaches subscribers; its
      // callbacks read trust and store only once connections arrive.
      this.server = new ChannelServer({
        identity: this.identity,
        rolesOf: (key) => this.trust.rolesOf(key),
        describe: () => ({ name: this.config.name, cluster: this.config.cluster, mode: this.config.mode }),
        handle: (session, request) => this.handle(session, request),
        logger: this.logger,
        ...(options.limits === undefined ? {} : { limits: options.limits }),
      });
      this.trust = new TrustCache(this.paths.trust, this.logger);
      this.store = new BundleStore(this.paths.store, (key) => this.trust.rolesOf(key));
      const runtime = options.runtime;
      if (runtime !== undefined) {
        this.runtime = new RuntimeSupervisor({
          entry: runtime.entry,
          boot: { limits: runtime.limits, http: { rootModule: runtime.httpRoot ?? "index" }, mode: this.config.mode },
          logger: this.logger,
          onReady: (generation): Promise<void> => code.restoreAll(generation),
          onModuleDead: (module, generation) => code.moduleDied(module, generation),
          onModuleLog: (module, level, text) => this.logger.log(level, "module.log", { module, text }),
          onReplOutput: (session, level, text) => this.repl.output(session, level, text),
        });
        if (runtime.http !== undefined) this.httpFront = new HttpFront(runtime.http, this.runtime);
      }
      this.repl = new ReplGateway({
        runtime: this.runtime,
        mode: () => this.config.mode,
        audit: new AuditLog(this.paths.audit),
        nameOf: (key) => this.trust.commentOf(key),
        logger: this.logger,
      });
      const code: CodeServer = new CodeServer({
        store: this.store,
        states: new StateStore(this.paths.store),
        runtime: this.runtime,
        logger: this.logger,
        ...(options.snapshotMs === undefined ? {} : { snapshotMs: options.snapshotMs }),
      });
      code.boot();
      this.code = code;
      this.reportStoreProblems();
      this.boot = { processMs: Math.round(constructedAt), storeMs: Math.round(performance.now() - constructedAt) };
    } catch (err) {
      this.unlock();
      throw err;
    }
  }

  private reportStoreProblems(): void {
    for (const problem of this.store.problems.splice(0)) {
      this.logger.log("error", "store.corrupt", { file: problem.file, code: problem.error.code, reason: problem.error.message });
    }
  }

  async start(): Promise<{ host: string; port: number }> {
    const hp = parseHostPort(this.config.listen);
    if (hp === null) throw new FixpointError("CONFIG_INVALID", `listen address "${this.config.listen}" must be HOST:PORT`);
    try {
      this.address = await this.server.listen(hp.host, hp.port);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "error";
      throw new FixpointError("CONFIG_INVALID", `cannot listen on ${this.config.listen} (${code}); ${code === "EADDRINUSE" ? "another process uses that port: pass --listen HOST:PORT" : "check --listen"}`, { cause: err });
    }
    const runtimeAt = performance.now();
    if (this.runtime !== null) await this.runtime.start();
    const runtimeMs = Math.round(performance.now() - runtimeAt);
    this.code.start();
    const http = this.httpFront === null ? undefined : await this.httpFront.listen();
    this.logger.log("info", "node.started", {
      http: http === undefined ? undefined : `${http.host}:${http.port}`,
      name: this.config.name,
      cluster: this.config.cluster,
      mode: this.config.mode,
      listen: `${this.address.host}:${this.address.port}`,
      key: fingerprint(this.identity.publicKey),
      modules: this.code.size,
      // Where a start's time went (bench/restart.ts): the process up to this node's code, the
      // data directory read and verified, the runtime started with every module loaded, all of it.
      processMs: this.boot.processMs,
      storeMs: this.boot.storeMs,
      runtimeMs,
      bootMs: Math.round(performance.now()),
    });
    return this.address;
  }

  /** Finishes requests in flight, says goodbye, closes. */
  async stop(graceMs?: number): Promise<void> {
    this.logger.log("info", "node.stopping", {});
    await this.httpFront?.close();
    await this.server.close(graceMs);
    // The last states out of the runtime and onto disk before it goes: an orderly stop loses nothing.
    await this.code.stop();
    await this.runtime?.stop();
    this.unlock();
    this.logger.log("info", "node.stopped", {});
  }

  private async handle(session: Session, request: Request): Promise<Data> {
    authorize(request.type, this.config.mode, session.roles);
    switch (request.type) {
      case "ping":
        return request.data === undefined ? {} : { data: request.data };
      case "status":
        return this.status(await this.runningModules());
      case "push": {
        // Verified before it queues: the name a push queues under is one a trusted key signed.
        const verified = verifyBundle(request.bundle, (key) => this.trust.rolesOf(key), "dev");
        return this.code.push(verified, session.fingerprint);
      }
      case "call": {
        if (this.runtime === null) throw new FixpointError("RUNTIME_UNAVAILABLE", "this node runs no modules (started without a runtime)");
        const value = await this.runtime.call(request.module, request.fn, request.args);
        return value === undefined ? {} : { value: toData(value) };
      }
      case "eval":
        return this.repl.eval(session, request);
      case "complete":
        return this.repl.complete(session, request);
      case "subscribe": {
        session.subscribe(request.topics);
        const backlog = request.backlog ?? 0;
        return backlog === 0 ? { topics: request.topics } : { topics: request.topics, backlog: this.recentLogs.slice(-backlog) };
      }
      default: {
        const exhaustive: never = request;
        return exhaustive;
      }
    }
  }

  private async runningModules(): Promise<Map<string, RuntimeModuleStatus>> {
    if (this.runtime === null || this.runtime.status.state !== "up") return new Map();
    try {
      return new Map((await this.runtime.runtimeStatus()).modules.map((m) => [m.name, m]));
    } catch {
      return new Map();
    }
  }

  private status(running: Map<string, RuntimeModuleStatus>): ResultOf<"status"> {
    const memory = process.memoryUsage();
    const modules = this.code.list().flatMap((view) => {
      const m = view.manifest;
      if (m === null) return [];
      const live = running.get(m.name);
      const base = {
        name: m.name,
        digest: m.digest,
        size: m.size,
        builtAt: m.builtAt,
        signer: fingerprint(Buffer.from(m.signer, "base64")),
        storedAt: view.storedAt,
        status: view.status,
        ...(view.error === null ? {} : { error: view.error }),
        ...(view.saved === null ? {} : { state: { savedAt: view.saved.savedAt, bytes: view.saved.size } }),
      };
      return live === undefined || live.digest !== m.digest || !view.running
        ? [{ ...base, running: false }]
        : [{ ...base, running: true, version: live.version, functions: live.functions, http: live.http, heapUsed: live.heapUsed, calls: live.calls, ...(live.checked === undefined ? {} : { health: healthOf(live.checked) }) }];
    });
    return {
      name: this.config.name,
      cluster: this.config.cluster,
      publicKey: this.identity.publicKey,
      mode: this.config.mode,
      protocolVersion: PROTOCOL_VERSIONS[0],
      version: VERSION,
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      uptimeMs: Date.now() - this.startedAt.getTime(),
      modules,
      memory: { rss: memory.rss, heapUsed: memory.heapUsed },
      connections: this.server.stats,
    };
  }

}

/** A health answer as the wire carries it (the detail bounded: module code wrote it). */
function healthOf(checked: { ok: boolean; detail?: string }): { ok: boolean; detail?: string } {
  return checked.detail === undefined ? { ok: checked.ok } : { ok: checked.ok, detail: checked.detail.slice(0, 1024) };
}

/** A call's result as channel data: JSON-like values pass; the rest is described, not dropped silently. */
function toData(value: unknown, depth = 0): Data {
  if (value === null || typeof value === "boolean" || typeof value === "string" || value instanceof Uint8Array) return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (value === undefined) return null;
  if (typeof value === "bigint") return value.toString();
  if (depth > 30) throw new FixpointError("RESULT_NOT_COPYABLE", "the result is nested deeper than 30 levels");
  if (Array.isArray(value)) return value.map((v) => toData(v, depth + 1));
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toData(v, depth + 1)]));
  if (value instanceof Set) return [...value].map((v) => toData(v, depth + 1));
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toData(v, depth + 1)]));
  throw new FixpointError("RESULT_NOT_COPYABLE", `a ${typeof value} cannot be sent back`);
}
