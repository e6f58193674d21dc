import { FixpointError } from "../../loader/index.js";
import { parseCommandLine, stringOption } from "../ui/args.js";
import { releasesOf } from "../release/index.js";
import { deadlineFrom } from "./common.js";
import { ROLLING_CONNECTION_HELP, ROLLING_OPTIONS, rollingContext, runRolling } from "./rolling.js";

export const HELP = `Usage: devtool upgrade [--release N] [--nodes A,B,…] [--max-unavailable K] [options]

A rolling upgrade of nodes in production mode to a release of this project (\`devtool
release create\`), node at a time:

  1. stage     sends the release to every node at once, and then to each node only the
               bundles it lacks; nothing goes down until every node holds all of it
  2. restart   node by node, in order: checks that every other node of the rollout is
               ready, every module running and healthy; then asks the node for its
               guarded restart (drain, save state, restart on the release, hand the state
               to the new code, health checks) and waits for it to commit — or to roll
               itself back

The first failure stops the rollout: that node is back on its previous release with its
state, nodes before it stay upgraded, nodes after it are untouched. Prints each step as it
happens, then what happened on each node. Exits 0 only if every node is on the release;
running it again after a fix resumes (upgraded nodes answer "already on release N").
Ctrl-C stops the rollout: a node already restarting finishes on its own (it commits or rolls
back), and the nodes after it are untouched.

Every node must be in production mode and grant your key release or admin, else nothing
is sent.

Options:
  --release N            the release to roll out (default: the project's newest)
  --max-unavailable K    restart K nodes at once (default 1)
${ROLLING_CONNECTION_HELP}`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, { ...ROLLING_OPTIONS, release: { type: "string" }, "max-unavailable": { type: "string" } }, 0);
  if (parsed.values["help"] === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const releaseText = stringOption(parsed, "release");
  if (releaseText !== undefined && !/^[1-9]\d{0,14}$/.test(releaseText)) throw new FixpointError("USAGE", `--release must be a positive integer, got "${releaseText}"`);
  const widthText = stringOption(parsed, "max-unavailable") ?? "1";
  if (!/^[1-9]\d{0,3}$/.test(widthText)) throw new FixpointError("USAGE", `--max-unavailable must be a positive integer, got "${widthText}"`);
  const deadlineMs = deadlineFrom(parsed);
  const ctx = rollingContext(parsed);
  if (ctx.project === null) throw new FixpointError("USAGE", "no fixpoint.json here or above; `devtool upgrade` rolls out a release of a project (run it in its folder, or pass --config FILE)");
  const releases = releasesOf(ctx.project);
  const r = releaseText === undefined ? releases.newest() : releases.read(Number(releaseText));
  if (r === null) throw new FixpointError("USAGE", `this project has no release yet in ${releases.dir}; create one with \`devtool release create\``);
  // Every bundle read and checked before anything is sent: a damaged release stops here.
  const bundles = new Map(r.manifest.modules.map((m) => [m.digest, releases.bundle(r, m.digest)]));
  return runRolling(ctx, {
    number: r.number,
    rollback: false,
    release: { release: r.release, manifest: r.manifest, bundle: (digest) => bundles.get(digest) ?? missingBundle(digest, r.number) },
    maxUnavailable: Number(widthText),
    deadlineMs,
  });
}

function missingBundle(digest: string, number: number): never {
  throw new FixpointError("RELEASE_BUNDLE_INVALID", `a node asked for bundle ${digest.slice(0, 12)}, which release ${number} does not name`);
}
