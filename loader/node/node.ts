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
import { decodeManifest, type Manifest } from "../bundle/manifest.js";
import { BundleStore } from "../store/bundle-store.js";
import { readNodeConfig, parseHostPort, type NodeConfig } from "./config.js";
import { dataDirPaths, readNodeIdentity, type DataDirPaths } from "./data-dir.js";
import { TrustCache } from "./trust-cache.js";
import { RuntimeSupervisor, type ModuleSource, type RuntimeEntry } from "../supervisor/runtime-supervisor.js";
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
  private readonly modules = new Map<string, Manifest>();
  private readonly startedAt = new Date();
  private readonly logger: Logger;
  private address: { host: string; port: number } | null = null;
  private readonly runtime: RuntimeSupervisor | null = null;
  private readonly httpFront: HttpFront | null = null;
  /** The last RECENT_LOGS log events, for `devtool logs` without --follow. */
  private readonly recentLogs: Data[] = [];
  /** One push at a time per module, in arrival order. */
  private readonly pushQueues = new Map<string, Promise<unknown>>();
  /** The remote REPL: sessions per connection, audit in production. */
  private readonly repl: ReplGateway;

  /** Reads and checks everything on disk; throws a coded error before anything listens. */
  constructor(options: NodeOptions) {
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
    for (const { manifest } of this.store.verifiedModules()) this.modules.set(manifest.name, manifest);
    this.reportStoreProblems();
    const runtime = options.runtime;
    if (runtime !== undefined) {
      this.runtime = new RuntimeSupervisor({
        entry: runtime.entry,
        boot: { limits: runtime.limits, http: { rootModule: runtime.httpRoot ?? "index" }, mode: this.config.mode },
        logger: this.logger,
        currentModules: () => this.currentSources(),
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
  }

  private reportStoreProblems(): void {
    for (const problem of this.store.problems.splice(0)) {
      this.logger.log("error", "store.corrupt", { file: problem.file, code: problem.error.code, reason: problem.error.message });
    }
  }

  /** The current modules' code, re-verified from disk (a node trusts nothing it did not just check). */
  private currentSources(): ModuleSource[] {
    const out: ModuleSource[] = [];
    for (const m of this.modules.values()) {
      try {
        const { bundle } = this.store.load(m.digest);
        out.push({ name: m.name, digest: m.digest, code: Buffer.from(bundle.code).toString("utf8"), sourceMap: Buffer.from(bundle.sourceMap).toString("utf8") });
      } catch {
        this.modules.delete(m.name);
      }
    }
    this.reportStoreProblems();
    return out;
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
    if (this.runtime !== null) await this.runtime.start();
    const http = this.httpFront === null ? undefined : await this.httpFront.listen();
    this.logger.log("info", "node.started", {
      http: http === undefined ? undefined : `${http.host}:${http.port}`,
      name: this.config.name,
      cluster: this.config.cluster,
      mode: this.config.mode,
      listen: `${this.address.host}:${this.address.port}`,
      key: fingerprint(this.identity.publicKey),
      modules: this.modules.size,
    });
    return this.address;
  }

  /** Finishes requests in flight, says goodbye, closes. */
  async stop(graceMs?: number): Promise<void> {
    this.logger.log("info", "node.stopping", {});
    await this.httpFront?.close();
    await this.server.close(graceMs);
    await this.runtime?.stop();
    this.logger.log("info", "node.stopped", {});
  }

  private async handle(session: Session, request: Request): Promise<Data> {
    authorize(request.type, this.config.mode, session.roles);
    switch (request.type) {
      case "ping":
        return request.data === undefined ? {} : { data: request.data };
      case "status":
        return this.status(await this.runningModules());
      case "push":
        return this.serialized(request.bundle, () => this.push(session, request));
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
    const modules = [...this.modules.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((m) => {
        const live = running.get(m.name);
        const base = { name: m.name, digest: m.digest, size: m.size, builtAt: m.builtAt, signer: fingerprint(Buffer.from(m.signer, "base64")), storedAt: this.store.entry(m.name)?.storedAt ?? "" };
        return live === undefined || live.digest !== m.digest
          ? { ...base, running: false }
          : { ...base, running: true, version: live.version, functions: live.functions, http: live.http, heapUsed: live.heapUsed, calls: live.calls, ...(live.checked === undefined ? {} : { health: healthOf(live.checked) }) };
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

  /** Runs pushes of one module one after another, in the order they arrived. */
  private serialized<T>(bundle: RequestOf<"push">["bundle"], work: () => Promise<T>): Promise<T> {
    // The name is only trusted after verification; an unparsable manifest queues under "".
    let name = "";
    try {
      name = decodeManifest(bundle.manifest).name;
    } catch {
      // push() reports it
    }
    const previous = this.pushQueues.get(name) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => {});
    this.pushQueues.set(name, tail);
    void tail.then(() => {
      if (this.pushQueues.get(name) === tail) this.pushQueues.delete(name);
    });
    return next;
  }

  /**
   * Verify, then store and load at once, and only then make it current: a version that fails
   * to load or to be stored never becomes what the node restarts on. Storing overlaps the
   * runtime's compile because the save-to-live time is the dev loop's whole point; should the
   * write fail after the load succeeded, the runtime is put back on the stored version.
   */
  private async push(session: Session, request: RequestOf<"push">): Promise<ResultOf<"push">> {
    const verified = verifyBundle(request.bundle, (key) => this.trust.rolesOf(key), "dev");
    const { manifest } = verified;
    const storing = this.store.storeBundle(verified).then(
      (stored) => ({ stored }),
      (err: unknown) => ({ error: new FixpointError("STORE_WRITE_FAILED", `cannot store module ${manifest.name}: ${(err as Error).message}`, { cause: err }) }),
    );
    let loaded: { version: string; ms: number } | null = null;
    try {
      if (this.runtime !== null) {
        const result = await this.runtime.load({
          name: manifest.name,
          digest: manifest.digest,
          code: Buffer.from(request.bundle.code).toString("utf8"),
          sourceMap: Buffer.from(request.bundle.sourceMap).toString("utf8"),
        });
        if (result.status === "loaded") loaded = { version: result.version, ms: result.ms };
      }
    } finally {
      await storing;
    }
    const outcome = await storing;
    let changed: boolean;
    try {
      if ("error" in outcome) throw outcome.error;
      changed = await this.store.setCurrent(manifest.name, manifest.digest);
    } catch (err) {
      if (loaded !== null) await this.putBack(manifest.name);
      throw err;
    }
    const { stored } = outcome;
    // `stored` without `changed`: a corrupted copy was repaired, so the module is loadable again.
    if (changed || stored) this.modules.set(manifest.name, manifest);
    this.logger.log("info", "module.pushed", {
      module: manifest.name,
      digest: manifest.digest.slice(0, 12),
      stored,
      changed,
      version: loaded?.version,
      swapMs: loaded === null ? undefined : Math.round(loaded.ms * 10) / 10,
      by: session.fingerprint,
    });
    const base = { name: manifest.name, digest: manifest.digest, stored, changed };
    return loaded === null ? base : { ...base, version: loaded.version, swapMs: loaded.ms };
  }

  /** The runtime runs a version the store could not keep: load the stored current one again. */
  private async putBack(name: string): Promise<void> {
    if (this.runtime === null) return;
    const source = this.currentSources().find((m) => m.name === name);
    try {
      if (source === undefined) await this.runtime.unload(name);
      else await this.runtime.load(source);
      this.logger.log("warn", "module.put-back", { module: name, digest: source?.digest.slice(0, 12) ?? "none" });
    } catch (err) {
      this.logger.log("error", "module.put-back-failed", { module: name, code: (err as FixpointError).code, reason: (err as Error).message });
    }
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
