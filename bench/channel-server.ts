/**
 * The server side of bench/channel.ts: a real ChannelServer and the plain peer's server, both
 * on 127.0.0.1, both answering ping with its data. Run as a child process (the default), so
 * the client and the server each have an event loop and, on a 2-core machine, a core; or
 * imported in-process with `--in-process`.
 */
import { ChannelServer } from "../loader/channel/index.js";
import { generateKeyPair } from "../loader/protocol/crypto/index.js";
import { FixpointError } from "../loader/protocol/errors.js";
import { PlainServer } from "./plain.js";

export interface Servers {
  channelPort: number;
  plainPort: number;
  /** The node's public key, base64, for the client to pin. */
  nodeKey: string;
  close(): Promise<void>;
}

export async function startServers(clientKeyBase64: string): Promise<Servers> {
  const clientKey = Buffer.from(clientKeyBase64, "base64");
  const identity = generateKeyPair();
  const channel = new ChannelServer({
    identity,
    rolesOf: (key) => (clientKey.equals(key) ? ["dev"] : null),
    describe: () => ({ name: "bench", cluster: "bench", mode: "dev" }),
    handle: (_session, request) => {
      if (request.type !== "ping") throw new FixpointError("INTERNAL", `the bench server answers ping only, got ${request.type}`);
      return request.data === undefined ? {} : { data: request.data };
    },
  });
  const plain = new PlainServer();
  const [channelAddress, plainPort] = await Promise.all([channel.listen("127.0.0.1", 0), plain.listen("127.0.0.1", 0)]);
  return {
    channelPort: channelAddress.port,
    plainPort,
    nodeKey: Buffer.from(identity.publicKey).toString("base64"),
    close: async () => {
      await Promise.all([channel.close(100), plain.close()]);
    },
  };
}

if (process.argv.includes("--child")) {
  const key = process.env.BENCH_CLIENT_KEY;
  if (key === undefined || process.send === undefined) throw new Error("run by bench/channel.ts with an IPC channel and BENCH_CLIENT_KEY");
  const servers = await startServers(key);
  process.on("message", (m) => {
    if (m === "stop") void servers.close().then(() => process.exit(0));
    // CPU time so far (user + system, µs), so the driver can charge each round its share.
    if (m === "cpu") {
      const { user, system } = process.cpuUsage();
      process.send!({ cpu: user + system });
    }
  });
  process.send({ channelPort: servers.channelPort, plainPort: servers.plainPort, nodeKey: servers.nodeKey });
}
