/**
 * The loader's commands. Each is small: the work is in node/, trust/ and store/.
 */
import { readFileSync, existsSync } from "node:fs";
import {
  FixpointError,
  MODES,
  MODULE_NAME,
  MODULE_NAME_RULE,
  dataDirPaths,
  fingerprint,
  formatPublicKeyLine,
  parseHostPort,
  parsePublicKey,
  parseRoles,
  readTrustFile,
  streamLogger,
  type Mode,
  type ServerLimits,
  type TrustEntry,
} from "../../loader/index.js";
import { authorizeKey, initDataDir, revokeKey } from "../node-admin.js";
import { DEFAULT_RUNTIME_LIMITS, ISOLATE_LIMIT_BOUNDS, type IsolateLimits, type RuntimeLimits } from "../../loader/protocol/runtime-ipc.js";
import { startNode } from "../embed/start-node.js";
import { parseCommandLine, requireOption, stringOption } from "../ui/args.js";

export const HELP = {
  main: `Usage: loader <command> [options]

The fixed point of a Fixpoint node: a small, never-changing process that accepts signed
module bundles over an authenticated, encrypted channel.

Commands:
  init        create a node's data directory (identity, trust file, store, config)
  authorize   add a key and its roles to a node's trust file
  keys        list the keys a node trusts, with fingerprints and roles
  revoke      remove a key from a node's trust file
  start       run a node in the foreground

Run \`loader <command> --help\` for a command's options.
`,
  init: `Usage: loader init --data DIR [--name NAME] [--cluster NAME] [--listen HOST:PORT]

Creates a node in DIR: its Ed25519 identity (node.key, mode 0600, and node.pub), an empty
trust file, the bundle store and config.json. Prints the node's public key and fingerprint,
which developers pin in fixpoint.json. Refuses to overwrite an existing node.

Options:
  --data DIR          the node's data directory (created if missing; must be empty)
  --name NAME         the node's name, shown in status and logs (default node-1)
  --cluster NAME      the cluster it belongs to (default "default")
  --listen HOST:PORT  the channel's address (default 127.0.0.1:7420)
`,
  authorize: `Usage: loader authorize --data DIR --key PUBKEY_OR_FILE --roles ROLE[,ROLE...] [--comment TEXT]

Adds a public key with roles to the node's trust file, or replaces the roles of a key that is
already there. A running node applies the change at once: from the key's next connection or
request on (see \`loader revoke\` to remove a key).

Options:
  --data DIR            the node's data directory
  --key PUBKEY_OR_FILE  "ed25519 BASE64", bare base64, or a FILE.pub written by \`devtool keygen\`
  --roles LIST          comma-separated: observe (status, logs), dev (push, call, REPL in dev
                        mode), release (sign production releases), admin (mode, keys, REPL in
                        production)
  --comment TEXT        a note kept on the line (default: the comment in FILE.pub)
`,
  keys: `Usage: loader keys --data DIR

Lists the keys in the node's trust file, one a line: its SHA256 fingerprint (as \`devtool
keygen\` and \`loader authorize\` print it), its roles and its comment.

Options:
  --data DIR  the node's data directory
`,
  revoke: `Usage: loader revoke --data DIR --key PUBKEY_OR_FILE|FINGERPRINT

Removes a key from the node's trust file. A running node applies it at once: the key's next
request is refused and its open connections (REPL sessions, log followers) are closed with
KEY_REVOKED within a heartbeat (1 s by default); new connections are refused.

Options:
  --data DIR                        the node's data directory
  --key PUBKEY_OR_FILE|FINGERPRINT  "ed25519 BASE64", bare base64, a FILE.pub, or the key's
                                    "SHA256:..." fingerprint as \`loader keys\` lists it
`,
  start: `Usage: loader start --data DIR [--listen HOST:PORT] [--http HOST:PORT] [--mode dev|production] [--log-format text|json]

Runs the node in the foreground, with its modules in isolates in a runtime process that it
supervises and restarts on the last good code and state if it dies. Logs go to stderr, one
line per event. SIGTERM or SIGINT lets requests in flight finish, closes every connection
and exits 0. A failure while starting (a port in use, say) stops what had started and exits
with the error's status.

Options:
  --data DIR                  the node's data directory (see \`loader init\`)
  --listen HOST:PORT          overrides config.json's address (port 0 picks a free port,
                              reported in the node.started log line)
  --mode dev|production       overrides config.json's mode for this run
  --log-format text|json      default text
  --handshake-timeout-ms N    time a client has to finish the handshake (default 5000)
  --heartbeat-ms N            heartbeat interval; a peer silent for 3 is dead (default 1000)
  --idle-timeout-ms N         close connections with no request for this long (default 600000)
  --frame-timeout-ms N        time a frame may take to arrive once started (default 30000)
  --max-queued-bytes N        bytes queued toward one client before the node stops reading
                              from it; a log follower past it is dropped (default 33554432)
  --drain-timeout-ms N        close a client over --max-queued-bytes that reads nothing for
                              this long (default 30000)
  --max-connections N         authenticated connections (default 256)
  --max-pending-handshakes N  connections still in the handshake (default 32)
  --http HOST:PORT            serve HTTP for the modules: "/NAME/..." goes to module NAME,
                              everything else to the root module
  --http-root MODULE          the module taking paths no other module claims (default index)
  --ready HOST:PORT           serve a readiness endpoint: GET answers 200 while the node
                              serves, 503 from a guarded restart's drain to its commit
  --module-memory-mb N        heap limit per module isolate (default ${DEFAULT_RUNTIME_LIMITS.memoryMb}; V8 may overshoot it)
  --module-cpu-ms N           longest synchronous run of module code per call (default ${DEFAULT_RUNTIME_LIMITS.cpuMs})
  --module-async-ms N         longest wait for an async call or handler (default ${DEFAULT_RUNTIME_LIMITS.asyncMs})
  --max-state-mb N            largest state one module may hold, serialized (default ${DEFAULT_RUNTIME_LIMITS.maxStateBytes / 1024 / 1024});
                              a swap to a bigger one is refused and the old version serves on

Module states are saved under DIR/store/states after each swap, every second while they
change, and on SIGTERM/SIGINT: a node started again on DIR brings every module back with its
last saved state (after kill -9, at most the last second of changes is lost).
`,
} as const;

export async function init(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { data: { type: "string" }, name: { type: "string" }, cluster: { type: "string" }, listen: { type: "string" } }, 0);
  if (parsed.values["help"] === true) return help("init");
  const listen = stringOption(parsed, "listen");
  if (listen !== undefined && parseHostPort(listen) === null) throw new FixpointError("USAGE", `--listen must be HOST:PORT, got "${listen}"`);
  const name = stringOption(parsed, "name");
  const cluster = stringOption(parsed, "cluster");
  const { paths, identity, config } = initDataDir(requireOption(parsed, "data"), {
    ...(name === undefined ? {} : { name }),
    ...(cluster === undefined ? {} : { cluster }),
    ...(listen === undefined ? {} : { listen }),
  });
  process.stdout.write(
    `Created node ${config.name} (cluster ${config.cluster}) in ${paths.dir}\n` +
      `public key:  ${formatPublicKeyLine(identity.publicKey)}\n` +
      `fingerprint: ${fingerprint(identity.publicKey)}\n\n` +
      `Next: authorize a developer key, then start the node:\n` +
      // As the README runs them: the CLIs are the package's bins, reached with npx (issue 12.10).
      `  npx loader authorize --data ${paths.dir} --key ~/.fixpoint/id_ed25519.pub --roles dev,observe\n` +
      `  npx loader start --data ${paths.dir}\n`,
  );
  return 0;
}

export async function authorize(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { data: { type: "string" }, key: { type: "string" }, roles: { type: "string" }, comment: { type: "string" } }, 0);
  if (parsed.values["help"] === true) return help("authorize");
  const paths = dataDirPaths(requireOption(parsed, "data"));
  if (!existsSync(paths.config)) throw new FixpointError("NODE_NOT_INITIALIZED", `${paths.dir} holds no node; create it with \`loader init --data ${paths.dir}\``);
  const keyArg = requireOption(parsed, "key");
  const roles = parseRoles(requireOption(parsed, "roles"), (why) => {
    throw new FixpointError("USAGE", `--roles: ${why}`);
  });
  // A value that names an existing file is a key file; otherwise it is the key itself.
  let keyText = keyArg;
  let fileComment = "";
  if (existsSync(keyArg)) {
    keyText = readFileSync(keyArg, "utf8").trim();
    fileComment = keyText.split(/\s+/).slice(2).join(" ");
  }
  const publicKey = parsePublicKey(keyText, existsSync(keyArg) ? keyArg : "--key");
  const commentFlag = stringOption(parsed, "comment");
  if (commentFlag !== undefined && /[\r\n]/.test(commentFlag)) throw new FixpointError("USAGE", "--comment must be one line");
  const comment = commentFlag ?? (fileComment !== "" ? fileComment : undefined);
  const { updated } = authorizeKey(paths.trust, publicKey, roles, comment);
  process.stdout.write(`${updated ? "Updated" : "Authorized"} ${fingerprint(publicKey)} with roles ${roles.join(",")} in ${paths.trust}\n`);
  return 0;
}

/** The node's trust file, after checking that DIR holds a node. */
function trustFileOf(parsed: ReturnType<typeof parseCommandLine>): string {
  const paths = dataDirPaths(requireOption(parsed, "data"));
  if (!existsSync(paths.config)) throw new FixpointError("NODE_NOT_INITIALIZED", `${paths.dir} holds no node; create it with \`loader init --data ${paths.dir}\``);
  return paths.trust;
}

export async function keys(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { data: { type: "string" } }, 0);
  if (parsed.values["help"] === true) return help("keys");
  const file = trustFileOf(parsed);
  const entries = readTrustFile(file);
  if (entries.length === 0) {
    process.stdout.write(`No keys in ${file}; add one with \`loader authorize\`.\n`);
    return 0;
  }
  const rows = entries.map((e) => [fingerprint(e.publicKey), e.roles.join(","), e.comment]);
  const width = (i: number) => Math.max(...rows.map((r) => r[i]!.length));
  const [fp, roles] = [width(0), width(1)];
  for (const [f, r, c] of rows) process.stdout.write(`${f!.padEnd(fp)}  ${c === "" ? r : `${r!.padEnd(roles)}  ${c}`}\n`);
  return 0;
}

export async function revoke(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { data: { type: "string" }, key: { type: "string" } }, 0);
  if (parsed.values["help"] === true) return help("revoke");
  const file = trustFileOf(parsed);
  const keyArg = requireOption(parsed, "key");
  // Validate the whole file first: a malformed file is reported and left as it is.
  const entries = readTrustFile(file);
  let entry: TrustEntry | undefined;
  if (keyArg.startsWith("SHA256:")) {
    entry = entries.find((e) => fingerprint(e.publicKey) === keyArg);
  } else {
    const publicKey = existsSync(keyArg) ? parsePublicKey(readFileSync(keyArg, "utf8").trim(), keyArg) : parsePublicKey(keyArg, "--key");
    entry = entries.find((e) => Buffer.from(e.publicKey).equals(Buffer.from(publicKey)));
  }
  if (entry === undefined) throw new FixpointError("KEY_NOT_FOUND", `${keyArg} is not in ${file}; \`loader keys --data ${requireOption(parsed, "data")}\` lists the keys it holds`);
  revokeKey(file, entry.publicKey);
  const who = entry.comment === "" ? "" : ` (${entry.comment})`;
  process.stdout.write(`Revoked ${fingerprint(entry.publicKey)}${who}, roles ${entry.roles.join(",")}, in ${file}\n`);
  return 0;
}

function positiveInt(parsed: ReturnType<typeof parseCommandLine>, name: string): number | undefined {
  const text = stringOption(parsed, name);
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text) || Number(text) === 0) throw new FixpointError("USAGE", `--${name} must be a positive integer, got "${text}"`);
  return Number(text);
}

/** A --module-* flag, within the bounds a module's own limits have too (ISOLATE_LIMIT_BOUNDS). */
function isolateLimit(parsed: ReturnType<typeof parseCommandLine>, name: string, key: keyof IsolateLimits): number {
  const text = stringOption(parsed, name);
  if (text === undefined) return DEFAULT_RUNTIME_LIMITS[key];
  const [least, most] = ISOLATE_LIMIT_BOUNDS[key];
  const value = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!(value >= least && value <= most)) throw new FixpointError("USAGE", `--${name} must be an integer from ${least} to ${most}, got "${text}"`);
  return value;
}

export async function start(args: string[]): Promise<number> {
  const parsed = parseCommandLine(
    args,
    {
      data: { type: "string" },
      listen: { type: "string" },
      mode: { type: "string" },
      "log-format": { type: "string" },
      "handshake-timeout-ms": { type: "string" },
      "heartbeat-ms": { type: "string" },
      "idle-timeout-ms": { type: "string" },
      "frame-timeout-ms": { type: "string" },
      "max-queued-bytes": { type: "string" },
      "drain-timeout-ms": { type: "string" },
      "max-connections": { type: "string" },
      "max-pending-handshakes": { type: "string" },
      http: { type: "string" },
      "http-root": { type: "string" },
      "module-memory-mb": { type: "string" },
      "module-cpu-ms": { type: "string" },
      "module-async-ms": { type: "string" },
      "max-state-mb": { type: "string" },
      ready: { type: "string" },
    },
    0,
  );
  if (parsed.values["help"] === true) return help("start");
  const http = stringOption(parsed, "http");
  if (http !== undefined && parseHostPort(http) === null) throw new FixpointError("USAGE", `--http must be HOST:PORT, got "${http}"`);
  const ready = stringOption(parsed, "ready");
  if (ready !== undefined && parseHostPort(ready) === null) throw new FixpointError("USAGE", `--ready must be HOST:PORT, got "${ready}"`);
  const httpRoot = stringOption(parsed, "http-root");
  if (httpRoot !== undefined && !MODULE_NAME.test(httpRoot)) throw new FixpointError("USAGE", `--http-root must be a module name (${MODULE_NAME_RULE}), got "${httpRoot}"`);
  const stateMb = positiveInt(parsed, "max-state-mb");
  const runtimeLimits: RuntimeLimits = {
    memoryMb: isolateLimit(parsed, "module-memory-mb", "memoryMb"),
    cpuMs: isolateLimit(parsed, "module-cpu-ms", "cpuMs"),
    asyncMs: isolateLimit(parsed, "module-async-ms", "asyncMs"),
    maxStateBytes: stateMb === undefined ? DEFAULT_RUNTIME_LIMITS.maxStateBytes : stateMb * 1024 * 1024,
  };
  const dataDir = requireOption(parsed, "data");
  const listen = stringOption(parsed, "listen");
  if (listen !== undefined && parseHostPort(listen) === null) throw new FixpointError("USAGE", `--listen must be HOST:PORT, got "${listen}"`);
  const modeText = stringOption(parsed, "mode");
  const mode: Mode | undefined = modeText === undefined ? undefined : MODES.find((m) => m === modeText);
  if (modeText !== undefined && mode === undefined) throw new FixpointError("USAGE", `--mode must be dev or production, got "${modeText}"`);
  const format = stringOption(parsed, "log-format") ?? "text";
  if (format !== "text" && format !== "json") throw new FixpointError("USAGE", `--log-format must be text or json, got "${format}"`);
  const limits: Partial<ServerLimits> = {};
  const setLimit = (flag: string, key: keyof ServerLimits) => {
    const value = positiveInt(parsed, flag);
    if (value !== undefined) limits[key] = value;
  };
  setLimit("handshake-timeout-ms", "handshakeTimeoutMs");
  setLimit("heartbeat-ms", "heartbeatIntervalMs");
  setLimit("idle-timeout-ms", "idleTimeoutMs");
  setLimit("frame-timeout-ms", "frameTimeoutMs");
  setLimit("max-queued-bytes", "maxQueuedBytes");
  setLimit("drain-timeout-ms", "drainTimeoutMs");
  setLimit("max-connections", "maxConnections");
  setLimit("max-pending-handshakes", "maxPendingHandshakes");

  const logger = streamLogger((line) => process.stderr.write(line), format);
  // A failure while starting (issue 12.1: a busy --http port) stops whatever had started, so
  // nothing keeps this process alive: the error's code becomes the exit status.
  // The signal handlers first: a SIGTERM that lands between the node.started line and the end
  // of startNode (a service manager, a test that read that line) must stop the node in order,
  // not kill the process with the default action and lose what it would save.
  let onTerm = () => {};
  let onInt = () => {};
  const signalled = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.log("info", "signal", { signal });
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
      resolve();
    };
    onTerm = () => stop("SIGTERM");
    onInt = () => stop("SIGINT");
    process.on("SIGTERM", onTerm);
    process.on("SIGINT", onInt);
  });
  let node;
  try {
    node = await startNode({
      dataDir,
      logger,
      limits,
      moduleLimits: runtimeLimits,
      ...(http === undefined ? {} : { http }),
      ...(httpRoot === undefined ? {} : { httpRoot }),
      ...(listen === undefined ? {} : { listen }),
      ...(mode === undefined ? {} : { mode }),
      ...(ready === undefined ? {} : { ready }),
    });
  } catch (err) {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onInt);
    throw err;
  }
  await signalled;
  await node.stop();
  return 0;
}

function help(command: keyof typeof HELP): number {
  process.stdout.write(HELP[command]);
  return 0;
}
