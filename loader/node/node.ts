/**
 * A running node: its identity, trust, store and channel server, and the handlers for each
 * request type. Every request is authorized (trust/policy.ts) before its handler runs.
 */
import { FixpointError } from "../protocol/errors.js";
import { VERSION } from "../protocol/version.js";
import type { KeyPair } from "../protocol/crypto/ed25519.js";
import { fingerprint } from "../protocol/crypto/fingerprint.js";
import { logEntry, type Logger } from "../protocol/log.js";
import { ChannelServer, type Session } from "../channel/server.js";
import type { ServerLimits } from "../protocol/limits.js";
import { PROTOCOL_VERSIONS } from "../protocol/limits.js";
import type { Mode, Request, RequestOf, ResultOf } from "../protocol/messages.js";
import type { Data } from "../protocol/schema.js";
import { authorize } from "../trust/policy.js";
import { verifyBundle } from "../bundle/verify.js";
import { BundleStore } from "../store/bundle-store.js";
import { StateStore } from "../store/state-store.js";
import { readNodeConfig, parseHostPort, type NodeConfig } from "../protocol/node-config.js";
import { dataDirPaths, lockDataDir, readNodeIdentity, type DataDirPaths } from "./data-dir.js";
import { TrustCache } from "./trust-cache.js";
import { CodeServer } from "./code-server.js";
import { HttpFront, Readiness } from "./http-front.js";
import { ReleaseStore } from "../release/release-store.js";
import { GuardedRestart } from "../release/guarded-restart.js";
import { verifyRelease, verifyReleaseBundle } from "../release/release.js";
import { writeFileAtomicAsync } from "../store/atomic.js";
import { RuntimeSupervisor, type RuntimeEntry } from "../supervisor/runtime-supervisor.js";
import type { RuntimeLimits, RuntimeModuleStatus } from "../protocol/runtime-ipc.js";
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
  /** "HOST:PORT" for the readiness endpoint (200 ready, 503 not ready), if any. */
  ready?: string;
  /** How to run modules; without it the node stores bundles but runs none. */
  runtime?: {
    entry: RuntimeEntry;
    limits: RuntimeLimits;
    /** "HOST:PORT" to serve HTTP for the modules on, if any. */
    http?: string;
    /** The module serving paths no other module claims. Default "index". */
    httpRoot?: string;
    /** Host capabilities granted to modules (issue 14): their names, and the one function that answers a call. */
    capabilities?: { names: Record<string, string[]>; call(capability: string, fn: string, args: unknown[]): Promise<unknown> };
  };
}

export class LoaderNode {
  readonly paths: DataDirPaths;
  /** config.json as read, with the command line's overrides; `mode` changes with a `mode` request. */
  config: NodeConfig;
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
  /** Where --http listens, once started. */
  httpAddress: { host: string; port: number } | null = null;
  private readonly runtime: RuntimeSupervisor | null = null;
  private readonly httpFront: HttpFront | null = null;
  /** The last RECENT_LOGS log events, for `devtool logs` without --follow. */
  private readonly recentLogs: Data[] = [];
  /** The remote REPL: sessions per connection, audit in production. */
  private readonly repl: ReplGateway;
  /** Releases held, the pointer, and the guarded restart (production). */
  private readonly releases: ReleaseStore;
  private readonly restart: GuardedRestart | null = null;
  /** Digests named by a release the node holds: verified by the release, not by their signer's role. */
  private readonly vouched = new Set<string>();
  /** False from a guarded restart's drain to its commit; what the readiness endpoint answers. */
  private ready = true;
  private readonly readiness: Readiness | null = null;
  /** Every module's code and saved state read at start (bootModules): what a runtime's first load waits for. */
  private modulesRead: Promise<void> = Promise.resolve();
  /** ms since the process started when this node was constructed, and how long reading its data directory took. */
  private readonly boot: { processMs: number; storeMs: number };

  /** Reads and checks everything on disk; throws a coded error before anything listens. */
  constructor(options: NodeOptions) {
    const constructedAt = performance.now();
    // Every log event also goes to clients subscribed to "log" (`devtool logs --follow`).
    this.logger = {
      log: (level, event, fields = {}) => {
        options.logger.log(level, event, fields);
        const entry = logEntry(level, event, fields);
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
      this.store = new BundleStore(this.paths.store, (key) => this.trust.rolesOf(key), (digest) => this.vouched.has(digest));
      this.releases = new ReleaseStore(this.paths.store, (key) => this.trust.rolesOf(key), this.config.cluster);
      for (const number of this.releases.held()) {
        try {
          for (const m of this.releases.read(number).manifest.modules) this.vouched.add(m.digest);
        } catch (err) {
          this.logger.log("error", "release.corrupt", { release: number, code: (err as FixpointError).code, reason: (err as Error).message });
        }
      }
      const swept = this.store.sweep();
      if (swept > 0) this.logger.log("info", "store.swept", { files: swept });
      const runtime = options.runtime;
      if (runtime !== undefined) {
        this.runtime = new RuntimeSupervisor({
          entry: runtime.entry,
          boot: { limits: runtime.limits, http: { rootModule: runtime.httpRoot ?? "index" }, mode: this.config.mode, capabilities: runtime.capabilities?.names ?? {} },
          logger: this.logger,
          onReady: (generation): Promise<void> => this.modulesRead.then(() => code.restoreAll(generation)),
          onModuleDead: (module, generation) => code.moduleDied(module, generation),
          onModuleLog: (module, level, text) => this.logger.log(level, "module.log", { module, text }),
          onReplOutput: (session, level, text) => this.repl.output(session, level, text),
          ...(runtime.capabilities === undefined ? {} : { onHostCall: runtime.capabilities.call }),
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
      this.code = code;
      if (this.runtime !== null) {
        this.restart = new GuardedRestart({ code, runtime: this.runtime, releases: this.releases, store: this.store, logger: this.logger, setReady: (ready) => (this.ready = ready), production: () => this.config.mode === "production" });
      }
      if (options.ready !== undefined) this.readiness = new Readiness(options.ready, () => this.ready);
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

  /**
   * The boot rule of the guarded restart (guarded-restart.ts): a `trying` release that never
   * reached its commit is dropped and the node boots its old modules with exactly the states
   * saved before the attempt; a committed release in production is what runs (the store's table
   * repaired if a crash came between the commit and the table's write).
   */
  private async bootModules(): Promise<void> {
    const pointer = this.releases.readPointer();
    if (pointer.trying !== null) {
      this.code.boot(pointer.trying.states);
      await this.releases.writePointer({ ...pointer, trying: null });
      this.logger.log("warn", "upgrade.rolled-back-at-boot", { release: pointer.trying.number, to: pointer.committed?.number ?? 0 });
      return;
    }
    if (pointer.committed !== null && this.config.mode === "production") {
      const { manifest } = this.releases.read(pointer.committed.number);
      const table = this.store.modules();
      const same = table.length === manifest.modules.length && manifest.modules.every((m) => table.some((e) => e.name === m.name && e.digest === m.digest));
      if (!same) {
        await this.store.setAll(manifest.modules);
        this.logger.log("warn", "store.table-repaired", { release: manifest.number });
      }
    }
    this.code.boot();
  }

  async start(): Promise<{ host: string; port: number }> {
    const hp = parseHostPort(this.config.listen);
    if (hp === null) throw new FixpointError("CONFIG_INVALID", `listen address "${this.config.listen}" must be HOST:PORT`);
    // The runtime process boots (a quarter of a second) while this one reads every module and
    // its saved state; it loads them once both are done (modulesRead, see onReady).
    const runtimeAt = performance.now();
    const runtimeUp = this.runtime?.start() ?? Promise.resolve();
    runtimeUp.catch(() => {}); // awaited below, unless reading the modules failed first
    const modulesAt = performance.now();
    await (this.modulesRead = this.bootModules());
    const modulesMs = Math.round(performance.now() - modulesAt);
    this.reportStoreProblems();
    try {
      this.address = await this.server.listen(hp.host, hp.port);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "error";
      throw new FixpointError("CONFIG_INVALID", `cannot listen on ${this.config.listen} (${code}); ${code === "EADDRINUSE" ? "another process uses that port: pass --listen HOST:PORT" : "check --listen"}`, { cause: err });
    }
    await runtimeUp;
    const runtimeMs = Math.round(performance.now() - runtimeAt);
    this.code.start();
    const http = this.httpFront === null ? undefined : await this.httpFront.listen();
    this.httpAddress = http ?? null;
    const ready = this.readiness === null ? undefined : await this.readiness.listen();
    this.logger.log("info", "node.started", {
      http: http === undefined ? undefined : `${http.host}:${http.port}`,
      ready: ready === undefined ? undefined : `${ready.host}:${ready.port}`,
      release: this.releases.readPointer().committed?.number ?? 0,
      name: this.config.name,
      cluster: this.config.cluster,
      mode: this.config.mode,
      listen: `${this.address.host}:${this.address.port}`,
      key: fingerprint(this.identity.publicKey),
      modules: this.code.size,
      // Where a start's time went (bench/restart.ts): the process up to this node's code, the
      // data directory read and verified, every module's code and saved state read (while the
      // runtime boots), the runtime started with every module loaded, all of it.
      processMs: this.boot.processMs,
      storeMs: this.boot.storeMs,
      modulesMs,
      runtimeMs,
      bootMs: Math.round(performance.now()),
    });
    this.restart?.standBy();
    return this.address;
  }

  /** Finishes requests in flight, says goodbye, closes. */
  async stop(graceMs?: number): Promise<void> {
    this.logger.log("info", "node.stopping", {});
    await this.httpFront?.close();
    await this.readiness?.close();
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
        const value = await this.runtimeProcess.call(request.module, request.fn, request.args);
        return value === undefined ? {} : { value: toData(value) };
      }
      case "eval":
        return this.repl.eval(session, request);
      case "complete":
        return this.repl.complete(session, request);
      case "stage":
        return this.stage(request);
      case "upgrade": {
        if (this.restart === null) throw noRuntime();
        const outcome = await this.restart.upgrade(request.number, request.rollback === true);
        if (outcome.outcome === "committed") for (const m of this.releases.read(outcome.to).manifest.modules) this.vouched.add(m.digest);
        return outcome;
      }
      case "mode":
        return this.switchMode(request.mode);
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

  /** What `devtool status` shows, for a host app embedding the node. */
  async report(): Promise<ResultOf<"status">> {
    return this.status(await this.runningModules());
  }

  /** The runtime that answers a host app's mounted HTTP handler (devtool/embed/host-http.ts). */
  get runtimeProcess(): RuntimeSupervisor {
    if (this.runtime === null) throw noRuntime();
    return this.runtime;
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
      release: this.releaseInfo(),
      ready: this.ready,
    };
  }


  private releaseInfo(): NonNullable<ResultOf<"status">["release"]> {
    const pointer = this.releases.readPointer();
    const held = this.releases.held();
    return pointer.committed === null ? { held } : { number: pointer.committed.number, committedAt: pointer.committed.at, held };
  }

  /**
   * Verifies a release and keeps it with whichever of its bundles came along, before any node
   * goes down; answers with the digests still missing. Refuses whole, keeping nothing, a release
   * that fails any check.
   */
  private async stage(request: RequestOf<"stage">): Promise<ResultOf<"stage">> {
    const manifest = verifyRelease(request.release, (key) => this.trust.rolesOf(key), this.config.cluster);
    const highest = this.releases.readPointer().highest;
    if (manifest.number <= highest && !this.releases.has(manifest.number)) {
      throw new FixpointError("RELEASE_OLD", `release ${manifest.number} is not newer than release ${highest}, which this node has run, and the node never held it; create a new release`);
    }
    const checked = request.bundles.map((b) => ({ bundle: b, manifest: verifyReleaseBundle(b, manifest) }));
    const stored: string[] = [];
    try {
      // Side by side: ten bundles' fsyncs one after another took 13-39 ms here, at once 4-8 ms.
      const writes = await Promise.allSettled(checked.map(async ({ bundle, manifest: m }) => (await this.store.storeBundle({ bundle, manifest: m })) && stored.push(m.digest)));
      for (const w of writes) if (w.status === "rejected") throw w.reason;
      await this.releases.hold(request.release, manifest);
    } catch (err) {
      // Refused whole: what this stage wrote goes again (what runs or another release names stays).
      for (const digest of stored) if (!this.vouched.has(digest)) this.store.discard(digest);
      throw err;
    }
    for (const m of manifest.modules) this.vouched.add(m.digest);
    const missing = manifest.modules.filter((m) => !this.store.has(m.digest)).map((m) => m.digest);
    this.logger.log("info", "release.staged", { release: manifest.number, bundles: checked.length, missing: missing.length });
    if (missing.length === 0 && request.prepare === true) this.restart?.prepare(manifest.number);
    return { number: manifest.number, missing };
  }

  /** Switches dev ↔ production and keeps it in config.json. */
  private async switchMode(mode: Mode): Promise<ResultOf<"mode">> {
    const previous = this.config.mode;
    if (mode !== previous) {
      const onDisk = readNodeConfig(this.paths.config);
      await writeFileAtomicAsync(this.paths.config, JSON.stringify({ ...onDisk, mode }, null, 2) + "\n");
      this.config = { ...this.config, mode };
      this.logger.log("warn", "node.mode", { mode, previous });
      this.runtime?.setMode(mode);
      this.restart?.standBy();
    }
    return { mode, previous };
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

function noRuntime(): FixpointError {
  return new FixpointError("RUNTIME_UNAVAILABLE", "this node runs no modules (started without a runtime)");
}
