/**
 * The client library (issue 14): what the devtool does to a node, importable and typed. The
 * devtool's commands are thin wrappers over it, so a script and `devtool call` take one path.
 *
 * Every failure is a FixpointError whose `code` comes from the one table in
 * loader/protocol/errors.ts: match on `code` (errors from the node arrive as copies).
 *
 * @example
 * import { connectNode } from "fixpoint/client";
 *
 * const node = await connectNode({ address: "127.0.0.1:7420", identity: "ci.key", nodeKey: "ed25519 AAAA…" });
 * try {
 *   await node.push("src/greeter.ts");
 *   console.log(await node.call("greeter", "greet", "Ada"));
 * } finally {
 *   await node.close();
 * }
 */
import {
  FixpointError,
  LOG_LEVELS,
  MODES,
  MODULE_NAME,
  MODULE_NAME_RULE,
  checkEncodable,
  isLogEntry,
  parseHostPort,
  parsePublicKey,
  readIdentityFile,
  toFixpointError,
  type Data,
  type HostPort,
  type KeyPair,
  type LogEntry,
  type LogLevel,
  type Mode,
  type ResultOf,
  type Role,
  type Welcome,
  type WireBundle,
} from "../../loader/index.js";
import { connect, type ClientConnection } from "./channel-client.js";
import { addressText, checkNodeKey } from "./pins.js";
import { signBundle } from "./sign.js";
import { stageRelease, type RolloutRelease } from "../release/rollout.js";
import { knownNodesPath } from "../home.js";

/** A module's built code (devtool/build's output, or anything of the same shape): signed with the client's identity on push. */
export interface BuiltModuleInput {
  name: string;
  code: Uint8Array;
  sourceMap: Uint8Array;
}

/**
 * What `push` takes: a module's TypeScript file (built with esbuild as `devtool push` builds
 * it), its built code, or a bundle already signed (`signBundle`).
 */
export type PushInput = string | BuiltModuleInput | WireBundle;

export type PushResult = ResultOf<"push">;
export type NodeStatus = ResultOf<"status">;
export type UpgradeResult = ResultOf<"upgrade">;

export interface ConnectNodeOptions {
  /** "HOST:PORT" or `{ host, port }`. */
  address: string | HostPort;
  /** Your key pair, or the path of an identity file (`devtool keygen` writes one; mode 0600). */
  identity: KeyPair | string;
  /**
   * The node's public key(s), as bytes or as "ed25519 BASE64" text (its node.pub): the key the
   * node must prove. Several while a node's key is being replaced. Without it, the key pinned
   * for this address in `knownNodes` is used.
   */
  nodeKey?: Uint8Array | string | readonly (Uint8Array | string)[];
  /** The known_nodes file to look the address up in (and record a new key in with `acceptNew`). Default ~/.fixpoint/known_nodes (FIXPOINT_HOME); false: none. */
  knownNodes?: string | false;
  /** Record an unpinned node's key in `knownNodes` on first contact (ssh's accept-new). Default false. */
  acceptNew?: boolean;
  /** Told when `acceptNew` recorded a key. */
  onPinned?: (key: Uint8Array) => void;
  /** Decides trust instead of nodeKey/knownNodes: throws to refuse the key (before this side reveals its identity). */
  checkNodeKey?: (key: Uint8Array) => void;
  /** Deadline to connect and finish the handshake, ms. Default 5000. */
  timeoutMs?: number;
  /** Longest wait for an answer from code running on the node (call, eval, stage, upgrade), ms. Default 60000. */
  deadlineMs?: number;
  /** The node's name in messages and rollout reports. Default the address. */
  label?: string;
}

const OPTION_NAMES = new Set(["address", "identity", "nodeKey", "knownNodes", "acceptNew", "onPinned", "checkNodeKey", "timeoutMs", "deadlineMs", "label"]);

/** How long status, mode and subscribe answers may take, ms: the node answers them itself. */
const NODE_ANSWER_MS = 10_000;
/** How long a push may take, ms: a build's bytes, verification, an isolate's start and a swap. */
const PUSH_MS = 30_000;
export const DEFAULT_DEADLINE_MS = 60_000;

function usage(message: string): FixpointError {
  return new FixpointError("USAGE", `connectNode: ${message}`);
}

function positiveMs(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0 || value > 86_400_000) throw usage(`${name} must be a positive integer of milliseconds, got ${String(value)}`);
  return value;
}

function addressOf(value: unknown): HostPort {
  if (typeof value === "string") {
    const parsed = parseHostPort(value);
    if (parsed === null || parsed.port === 0) throw usage(`address must be "HOST:PORT" (e.g. "127.0.0.1:7420"), got ${JSON.stringify(value)}`);
    return parsed;
  }
  if (typeof value === "object" && value !== null) {
    const { host, port } = value as Partial<HostPort>;
    if (typeof host === "string" && host !== "" && Number.isInteger(port) && port! > 0 && port! <= 65535) return { host, port: port! };
  }
  throw usage(`address must be "HOST:PORT" or { host, port }, got ${JSON.stringify(value)}`);
}

function identityOf(value: unknown): KeyPair {
  if (typeof value === "string") return readIdentityFile(value);
  const pair = value as Partial<KeyPair> | null;
  if (typeof pair === "object" && pair !== null && pair.publicKey instanceof Uint8Array && pair.secretKey instanceof Uint8Array && pair.publicKey.length === 32 && pair.secretKey.length === 64) {
    return pair as KeyPair;
  }
  throw new FixpointError("IDENTITY_INVALID", "connectNode: identity must be a key pair ({ publicKey: 32 bytes, secretKey: 64 bytes }) or the path of an identity file");
}

function nodeKeysOf(value: ConnectNodeOptions["nodeKey"]): Uint8Array[] {
  if (value === undefined) return [];
  const list = typeof value === "string" || value instanceof Uint8Array ? [value] : [...value];
  return list.map((k, i) => {
    if (typeof k === "string") return parsePublicKey(k, `nodeKey${list.length > 1 ? `[${i}]` : ""}`);
    if (k instanceof Uint8Array && k.length === 32) return k;
    throw new FixpointError("IDENTITY_INVALID", "connectNode: nodeKey must be a 32-byte Ed25519 public key or its \"ed25519 BASE64\" text");
  });
}

/**
 * Connects to a node with your identity, checking the key it proves against its pin, and
 * resolves once the node welcomed this key.
 *
 * Rejects with USAGE (a bad option), IDENTITY_MISSING / IDENTITY_INVALID (the identity),
 * CONNECT_FAILED, HANDSHAKE_TIMEOUT, NODE_KEY_UNPINNED / NODE_KEY_MISMATCH (the node's key),
 * UNKNOWN_IDENTITY (the node does not trust your key), PROTOCOL_VERSION, TOO_MANY_CONNECTIONS.
 */
export async function connectNode(options: ConnectNodeOptions): Promise<NodeClient> {
  if (typeof options !== "object" || options === null) throw usage("takes an options object: { address, identity, nodeKey? }");
  for (const name of Object.keys(options)) if (!OPTION_NAMES.has(name)) throw usage(`unknown option "${name}" (it takes ${[...OPTION_NAMES].join(", ")})`);
  const address = addressOf(options.address);
  const timeoutMs = positiveMs(options.timeoutMs, "timeoutMs");
  const deadlineMs = positiveMs(options.deadlineMs, "deadlineMs") ?? DEFAULT_DEADLINE_MS;
  const identity = identityOf(options.identity);
  const label = options.label ?? addressText(address);
  let check = options.checkNodeKey;
  if (check === undefined) {
    const keys = nodeKeysOf(options.nodeKey);
    const knownNodesFile = options.knownNodes === false ? null : (options.knownNodes ?? knownNodesPath());
    check = (key) =>
      checkNodeKey(label, address, key, {
        keys,
        keysFrom: "the nodeKey option",
        knownNodesFile,
        acceptNew: options.acceptNew === true,
        ...(options.onPinned === undefined ? {} : { onPinned: options.onPinned }),
        howToPin: { key: "pass it as nodeKey (the node's node.pub)", acceptNew: "acceptNew: true" },
      });
  }
  const connection = await connect({ host: address.host, port: address.port, identity, checkNodeKey: check, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  return new NodeClient(connection, identity, label, address, deadlineMs);
}

export interface LogsOptions {
  /** Keep yielding new entries as the node logs them, until the client closes (or the loop breaks). Default false. */
  follow?: boolean;
  /** Only this module's console output and the node's events about it. */
  module?: string;
  /** Only entries at this level or above. */
  level?: LogLevel;
  /** How many of the node's most recent entries to ask for first, 0..1000 (the node keeps 1000). Default 1000 without follow, 0 with it. */
  backlog?: number;
}

/** A connection to one node and what can be done over it. Open until `close()` (or the node goes away). */
export class NodeClient {
  private following = 0;
  private closedByUs = false;
  /** Why the connection closed (null: in order), once it has. */
  private closeReason: FixpointError | null | undefined;
  /** Followers waiting for an entry or the close. */
  private readonly wakers = new Set<() => void>();

  constructor(
    /** The channel connection underneath (for requests this class has no method for). */
    readonly connection: ClientConnection,
    /** The key this client signs bundles with and proved to the node. */
    readonly identity: KeyPair,
    /** The node's name in messages: the label given, else its address. */
    readonly label: string,
    readonly address: HostPort,
    /** Longest wait for an answer from code running on the node, ms. */
    readonly deadlineMs: number = DEFAULT_DEADLINE_MS,
  ) {
    // One listener for the client's life: the connection keeps its close listeners until it closes.
    connection.onClose((reason) => {
      this.closeReason = reason;
      for (const wake of this.wakers) wake();
    });
  }

  /** The key the node proved in the handshake. */
  get nodeKey(): Uint8Array {
    return this.connection.nodeKey;
  }

  /** What the node said about itself (name, cluster, mode) and this key's roles there. */
  get welcome(): Welcome {
    return this.connection.welcome;
  }

  get roles(): readonly Role[] {
    return this.connection.welcome.roles;
  }

  get isOpen(): boolean {
    return this.connection.isOpen;
  }

  /** The node's name, mode, release, readiness, memory, connections and modules. */
  status(): Promise<NodeStatus> {
    return this.connection.request("status", {}, { timeoutMs: NODE_ANSWER_MS });
  }

  /** The node's mode now. */
  async mode(): Promise<Mode> {
    return (await this.status()).mode;
  }

  /** Switches the node to `mode` (admin keys); the node keeps it across restarts. */
  setMode(mode: Mode): Promise<ResultOf<"mode">> {
    if (!(MODES as readonly string[]).includes(mode)) return Promise.reject(new FixpointError("USAGE", `mode must be ${MODES.join(" or ")}, got ${JSON.stringify(mode)}`));
    return this.connection.request("mode", { mode }, { timeoutMs: NODE_ANSWER_MS });
  }

  /**
   * Pushes modules (dev mode): builds the files among them, signs what is not signed yet with
   * this client's identity, then sends them all at once. A build error (BUILD_FAILED) means
   * nothing is sent. Resolves with one result per module, in order.
   *
   * @example
   * const [greeter] = await node.push("src/greeter.ts");
   * console.log(greeter.changed ? `now ${greeter.version}` : "unchanged");
   */
  async push(...modules: PushInput[]): Promise<PushResult[]> {
    const bundles = await this.bundlesOf(modules);
    return Promise.all(bundles.map((bundle) => this.connection.request("push", { bundle }, { timeoutMs: PUSH_MS })));
  }

  /** Builds and signs what `push` was given, before anything is sent. */
  async bundlesOf(modules: PushInput[]): Promise<WireBundle[]> {
    if (modules.length === 0) throw new FixpointError("USAGE", "push needs at least one module: a file, a built module or a signed bundle");
    const bundles: WireBundle[] = [];
    for (const m of modules) {
      if (typeof m === "string") {
        // esbuild is loaded only by a client that builds.
        const { buildModule } = await import("../build/build.js");
        const built = await buildModule(m);
        bundles.push(signBundle(built.name, built.code, built.sourceMap, this.identity).bundle);
      } else if (typeof m === "object" && m !== null && "signature" in m && "manifest" in m) {
        bundles.push(m);
      } else if (typeof m === "object" && m !== null && typeof m.name === "string" && m.code instanceof Uint8Array && m.sourceMap instanceof Uint8Array) {
        bundles.push(signBundle(m.name, m.code, m.sourceMap, this.identity).bundle);
      } else {
        throw new FixpointError("USAGE", "push takes module files, built modules ({ name, code, sourceMap }) or signed bundles");
      }
    }
    return bundles;
  }

  /**
   * Calls `fn` of `module` with JSON-like arguments (Erlang's {M, F, A}) and resolves with its
   * result (undefined for none). A function that throws rejects with MODULE_ERROR; past
   * `deadlineMs`, REQUEST_TIMEOUT.
   */
  async call<T = Data | undefined>(module: string, fn: string, ...args: Data[]): Promise<T> {
    if (typeof module !== "string" || !MODULE_NAME.test(module)) throw new FixpointError("USAGE", `${JSON.stringify(module)} is not a module name (${MODULE_NAME_RULE})`);
    if (typeof fn !== "string" || fn === "") throw new FixpointError("USAGE", `the function must be a name, got ${JSON.stringify(fn)}`);
    try {
      checkEncodable(args, "arguments");
    } catch (err) {
      // A value the wire cannot carry (a function, a class instance, undefined in an array): nothing is sent.
      throw new FixpointError("ARGUMENTS_INVALID", `${module}.${fn}: ${toFixpointError(err).message}; arguments are JSON-like values and bytes`);
    }
    const answer = await this.connection.request("call", { module, fn, args }, { timeoutMs: this.deadlineMs });
    return answer.value as T;
  }

  /**
   * Evaluates `code` on the node, in a scratch context of this connection (its variables last
   * as long as the client) or, with `module`, inside that module's isolate; resolves with the
   * value as the REPL prints it. Code that throws rejects with EVAL_THREW and what it threw.
   */
  async eval(code: string, options: { module?: string } = {}): Promise<string> {
    if (typeof code !== "string") throw new FixpointError("USAGE", "eval takes the code as a string");
    const { module } = options;
    if (module !== undefined && !MODULE_NAME.test(module)) throw new FixpointError("USAGE", `${JSON.stringify(module)} is not a module name (${MODULE_NAME_RULE})`);
    const r = await this.connection.request("eval", { source: code, colors: false, ...(module === undefined ? {} : { module }) }, { timeoutMs: this.deadlineMs });
    if (r.threw) throw new FixpointError("EVAL_THREW", r.text, r.location === undefined ? {} : { location: { file: "<eval>", line: r.location.line, column: r.location.column } });
    return r.text;
  }

  /**
   * The node's log as it arrives: module console output (event "module.log") and node events.
   * Without `follow`, the recent entries and then the end; with it, also each new entry until
   * `close()` or a `break` (both end the loop cleanly). If the node goes away while followed,
   * the loop throws the reason (SHUTTING_DOWN, PEER_TIMEOUT, CHANNEL_CLOSED).
   *
   * @example
   * for await (const entry of node.logs({ follow: true, module: "greeter" })) console.log(entry.fields["text"]);
   */
  async *logs(options: LogsOptions = {}): AsyncGenerator<LogEntry, void, undefined> {
    const follow = options.follow === true;
    const backlog = options.backlog ?? (follow ? 0 : 1000);
    if (!Number.isInteger(backlog) || backlog < 0 || backlog > 1000) throw new FixpointError("USAGE", `logs: backlog must be an integer from 0 to 1000, got ${String(backlog)}`);
    if (options.module !== undefined && !MODULE_NAME.test(options.module)) throw new FixpointError("USAGE", `logs: module must be a module name (${MODULE_NAME_RULE}), got ${JSON.stringify(options.module)}`);
    if (options.level !== undefined && !LOG_LEVELS.includes(options.level)) throw new FixpointError("USAGE", `logs: level must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(options.level)}`);
    const minLevel = options.level === undefined ? 0 : LOG_LEVELS.indexOf(options.level);
    const passes = (e: LogEntry) => (options.module === undefined || e.fields["module"] === options.module) && LOG_LEVELS.indexOf(e.level) >= minLevel;

    const arrived: LogEntry[] = [];
    let resume = () => {};
    const wake = () => resume();
    const conn = this.connection;
    const off = follow
      ? conn.onEvent((topic, data) => {
          if (topic !== "log" || !isLogEntry(data)) return;
          arrived.push(data);
          wake();
        })
      : () => {};
    if (follow) {
      this.following++;
      this.wakers.add(wake);
    }
    try {
      // Another loop following on this connection keeps its subscription.
      const result = await conn.request("subscribe", { topics: follow || this.following > 0 ? ["log"] : [], backlog }, { timeoutMs: NODE_ANSWER_MS });
      const recent = (result.backlog ?? []).filter(isLogEntry);
      // Entries logged while the subscription was being made may be in the backlog too.
      const seen = new Set(recent.map((e) => JSON.stringify(e)));
      for (const e of recent) if (passes(e)) yield e;
      if (!follow) return;
      let early = true;
      for (;;) {
        while (arrived.length > 0) {
          const e = arrived.shift()!;
          if (early && seen.has(JSON.stringify(e))) continue;
          if (passes(e)) yield e;
        }
        early = false;
        const ended = this.closeReason;
        if (ended !== undefined) {
          if (this.closedByUs || ended === null) return;
          throw ended;
        }
        await new Promise<void>((resolve) => (resume = resolve));
      }
    } finally {
      off();
      this.wakers.delete(wake);
      if (follow && --this.following === 0 && conn.isOpen) {
        // Stop the node sending what nobody reads any more.
        conn.request("subscribe", { topics: [] }, { timeoutMs: NODE_ANSWER_MS }).catch(() => {});
      }
    }
  }

  /**
   * Production: sends a release and then only the bundles the node lacks, so that it holds all
   * of it before any restart (`upgrade`). Resolves with how many bundles were sent. `prepare`:
   * the node also starts the release's modules in its next runtime process now, for an upgrade
   * soon (it ends that process if no upgrade comes within a minute); `rollingUpgrade` asks it.
   */
  stage(release: RolloutRelease, options: { prepare?: boolean } = {}): Promise<number> {
    return stageRelease(this.connection, release, this.deadlineMs, options.prepare === true);
  }

  /**
   * Production: the node's guarded restart onto release `number`, staged before: drain, save
   * state, restart, restore, health checks, commit — or roll back, rejecting with
   * UPGRADE_ROLLED_BACK. For several nodes in turn, `rollingUpgrade`.
   */
  upgrade(number: number): Promise<UpgradeResult> {
    return this.restartOn(number, false);
  }

  /** Production: the guarded restart back to release `number`, one the node holds. */
  rollback(number: number): Promise<UpgradeResult> {
    return this.restartOn(number, true);
  }

  private restartOn(number: number, rollback: boolean): Promise<UpgradeResult> {
    if (!Number.isSafeInteger(number) || number < 1) return Promise.reject(new FixpointError("USAGE", `a release number is a positive integer, got ${String(number)}`));
    return this.connection.request("upgrade", rollback ? { number, rollback: true } : { number }, { timeoutMs: this.deadlineMs });
  }

  /** Tells the node goodbye and resolves once the connection is closed; requests in flight fail with CHANNEL_CLOSED. Idempotent. */
  close(): Promise<void> {
    this.closedByUs = true;
    if (!this.connection.isOpen) return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.connection.onClose(() => resolve()));
    this.connection.close();
    return closed;
  }
}
