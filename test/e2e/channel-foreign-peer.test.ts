/**
 * Pointing a client at something that is not a node (issue 12): a real HTTP server and an SSH
 * banner on loopback. The client says the peer does not speak the Fixpoint protocol, with a
 * hint, as a handshake failure (exit status 3), instead of FRAME_TOO_LARGE for "HTTP" read as
 * a length of 1213486160 bytes.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "../../devtool/client/index.js";
import { formatIdentity, generateKeyPair, type FixpointError } from "../../loader/index.js";
import { spawnCli, tempDir } from "../helpers/processes.js";

let http: HttpServer;
let ssh: NetServer;
const portOf = (server: HttpServer | NetServer) => (server.address() as AddressInfo).port;
const listen = (server: HttpServer | NetServer) => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

function connectTo(port: number) {
  return connect({ host: "127.0.0.1", port, identity: generateKeyPair(), checkNodeKey: () => {}, timeoutMs: 3000 });
}

describe("a client pointed at something that is not a node", () => {
  before(async () => {
    http = createHttpServer((_req, res) => res.end("hello"));
    ssh = createNetServer((socket) => {
      socket.on("error", () => {});
      socket.end("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n");
    });
    await Promise.all([listen(http), listen(ssh)]);
  });
  after(() => {
    http.close();
    ssh.close();
  });

  test("says an HTTP server does not speak the Fixpoint protocol and hints at the --http port", async () => {
    await assert.rejects(connectTo(portOf(http)), (err: FixpointError) => {
      assert.equal(err.code, "HANDSHAKE_FAILED", err.message);
      assert.match(err.message, /does not speak the Fixpoint protocol/);
      assert.match(err.message, /"HTTP\/1\.1 400 Bad Request".*HTTP server.*--http port/);
      assert.doesNotMatch(err.message, /1213486160/);
      return true;
    });
  });

  test("says an SSH server is one", async () => {
    await assert.rejects(connectTo(portOf(ssh)), (err: FixpointError) => err.code === "HANDSHAKE_FAILED" && /does not speak the Fixpoint protocol.*"SSH-2\.0-OpenSSH.*SSH server/.test(err.message));
  });

  test("devtool status exits with the handshake's status 3 and says so", async () => {
    const identity = join(tempDir(), "id_ed25519");
    writeFileSync(identity, formatIdentity(generateKeyPair()), { mode: 0o600 });
    // Spawned, not run synchronously: the HTTP server lives in this process and must answer.
    const cli = spawnCli("devtool", ["status", "--node", `127.0.0.1:${portOf(http)}`, "--identity", identity, "--accept-new"], { cwd: tempDir(), env: { FIXPOINT_HOME: tempDir() } });
    const status = await new Promise<number | null>((resolve) => cli.child.on("exit", resolve));
    const { stderr } = cli.output();
    assert.equal(status, 3, stderr);
    assert.match(stderr, /HANDSHAKE_FAILED.*does not speak the Fixpoint protocol.*HTTP server/);
  });
});
