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
import type { Manifest } from "../bundle/manifest.js";
import { BundleStore } from "../store/bundle-store.js";
import { readNodeConfig, parseHostPort, type NodeConfig } from "./config.js";
import { dataDirPaths, readNodeIdentity, type DataDirPaths } from "./data-dir.js";
import { TrustCache } from "./trust-cache.js";

export interface NodeOptions {
  dataDir: string;
  /** Overrides config.json's listen address ("HOST:PORT"). */
  listen?: string;
  /** Overrides config.json's mode. */
  mode?: Mode;
  logger: Logger;
  limits?: Partial<ServerLimits>;
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

  /** Reads and checks everything on disk; throws a coded error before anything listens. */
  constructor(options: NodeOptions) {
    // Every log event also goes to clients subscribed to "log" (`devtool logs --follow`).
    this.logger = {
      log: (level, event, fields = {}) => {
        options.logger.log(level, event, fields);
        const data: Record<string, string | number | boolean | null> = {};
        for (const [k, v] of Object.entries(fields)) if (v !== undefined) data[k] = v;
        this.server.publish("log", { time: new Date().toISOString(), level, event, fields: data });
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
    this.logger.log("info", "node.started", {
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
    await this.server.close(graceMs);
    this.logger.log("info", "node.stopped", {});
  }

  private async handle(session: Session, request: Request): Promise<Data> {
    authorize(request.type, this.config.mode, session.roles);
    switch (request.type) {
      case "ping":
        return request.data === undefined ? {} : { data: request.data };
      case "status":
        return this.status();
      case "push":
        return this.push(session, request);
      case "subscribe":
        session.subscribe(request.topics);
        return { topics: request.topics };
      default: {
        const exhaustive: never = request;
        return exhaustive;
      }
    }
  }

  private status(): ResultOf<"status"> {
    const memory = process.memoryUsage();
    const modules = [...this.modules.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((m) => ({ name: m.name, digest: m.digest, size: m.size, builtAt: m.builtAt, signer: fingerprint(Buffer.from(m.signer, "base64")), storedAt: this.storedAt(m.name) }));
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

  private storedAt(name: string): string {
    return this.store.modules().find((m) => m.name === name)?.storedAt ?? "";
  }

  private push(session: Session, request: RequestOf<"push">): ResultOf<"push"> {
    const verified = verifyBundle(request.bundle, (key) => this.trust.rolesOf(key), "dev");
    const { stored, changed } = this.store.put(verified);
    const { manifest } = verified;
    // `stored` without `changed`: a corrupted copy was repaired, so the module is loadable again.
    if (changed || stored) this.modules.set(manifest.name, manifest);
    this.logger.log("info", "module.pushed", { module: manifest.name, digest: manifest.digest.slice(0, 12), stored, changed, by: session.fingerprint });
    return { name: manifest.name, digest: manifest.digest, stored, changed };
  }
}
