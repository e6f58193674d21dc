import { relative } from "node:path";
import { FixpointError, PUBLIC_KEY_BYTES, decodeBase64Exact, decodeManifest, fingerprint, toFixpointError, type KeyPair } from "../../loader/index.js";
import { parseCommandLine, shapeError, stringOption, type Parsed } from "../ui/args.js";
import { styleFor } from "../ui/output.js";
import { loadProjectConfig, type ProjectConfig } from "../config/project.js";
import { identityPath, loadIdentity } from "../home.js";
import { createRelease, releasesOf, type ProjectRelease } from "../release/index.js";

export const HELP = `Usage: devtool release create [--notes TEXT] [--identity FILE] [--config FILE]
       devtool release list [--json] [--config FILE]
       devtool release show N [--json] [--config FILE]

A release is what a node in production runs: every module of the project, built, with a
manifest (cluster, number, module names and SHA-256 digests, notes, time, signer) signed with
your key. Nodes accept it only if that key has the release role there. Releases are kept in
the project, under .fixpoint/releases/N/ (git-ignored: they are build artifacts); \`devtool
upgrade\` sends one to the nodes.

  create   builds every module in fixpoint.json's "modules", signs each bundle and the
           release, and keeps it as number one above the project's last release
  list     the project's releases: number, time, signer's fingerprint, modules, notes
  show N   one release in full: every module with its digest and size

Options:
  --notes TEXT           what this release is, kept in it (at most 4096 characters)
  --json                 list or show as JSON, one release per line
  --identity FILE        the key to sign with (default $FIXPOINT_IDENTITY or
                         ~/.fixpoint/id_ed25519)
  --config FILE          the project file (default: the nearest fixpoint.json)
`;

const OPTIONS = { notes: { type: "string" }, json: { type: "boolean" }, identity: { type: "string" }, config: { type: "string" } } as const;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, OPTIONS, 2);
  if (parsed.values["help"] === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const [sub, ...rest] = parsed.positionals;
  const only = (allowed: string[], maxArgs: number) => {
    for (const flag of ["notes", "json", "identity"]) if (parsed.values[flag] !== undefined && !allowed.includes(flag)) throw shapeError(`--${flag} does not apply to \`release ${sub}\``);
    if (rest.length > maxArgs) throw shapeError(`unexpected argument "${rest[maxArgs]}"`);
  };
  switch (sub) {
    case "create":
      only(["notes", "identity"], 0);
      return create(parsed);
    case "list":
      only(["json"], 0);
      return list(parsed);
    case "show": {
      only(["json"], 1);
      const n = rest[0];
      if (n === undefined) throw shapeError("`release show` needs the release number: devtool release show N");
      if (!/^[1-9]\d{0,14}$/.test(n)) throw new FixpointError("USAGE", `release number must be a positive integer, got "${n}"`);
      return show(parsed, Number(n));
    }
    case undefined:
      throw shapeError("`release` needs a subcommand: create, list or show");
    default:
      throw shapeError(`unknown subcommand "release ${sub}"; it is create, list or show`);
  }
}

function projectOf(parsed: Parsed): ProjectConfig {
  const project = loadProjectConfig(stringOption(parsed, "config"));
  if (project === null) throw new FixpointError("USAGE", "no fixpoint.json here or above; releases belong to a project (run in its folder, or pass --config FILE)");
  return project;
}

function signer(parsed: Parsed): KeyPair {
  const flag = stringOption(parsed, "identity");
  try {
    return loadIdentity(flag);
  } catch (err) {
    const e = toFixpointError(err);
    if (e.code === "IDENTITY_MISSING") {
      throw new FixpointError("IDENTITY_MISSING", `no identity at ${identityPath(flag)}; create one with \`devtool keygen\` and ask the nodes' operator to authorize its .pub file with --roles release`);
    }
    throw e;
  }
}

const signerFingerprint = (r: ProjectRelease) => fingerprint(decodeBase64Exact(r.manifest.signer, PUBLIC_KEY_BYTES)!);

async function create(parsed: Parsed): Promise<number> {
  const project = projectOf(parsed);
  const key = signer(parsed);
  const out = styleFor(process.stdout);
  const releases = releasesOf(project);
  const notes = stringOption(parsed, "notes");
  const started = performance.now();
  const r = await createRelease({
    project,
    releases,
    signer: key,
    ...(notes === undefined ? {} : { notes }),
    onBuilt: (m) => process.stdout.write(`  ${m.name.padEnd(20)} ${m.digest.slice(0, 12)}  ${String(m.size).padStart(8)} B  ${out.dim(relative(project.root, m.file))}\n`),
  });
  process.stdout.write(
    `${out.green("release")} ${out.bold(String(r.number))} for cluster ${r.manifest.cluster}: ${r.manifest.modules.length} module(s), signed by ${fingerprint(key.publicKey)}` +
      out.dim(` in ${(performance.now() - started).toFixed(0)} ms\n`) +
      out.dim(`kept in ${relative(process.cwd(), r.dir) || r.dir}; roll it out with \`devtool upgrade\`\n`),
  );
  return 0;
}

function toJson(r: ProjectRelease): Record<string, unknown> {
  return { ...r.manifest, signerFingerprint: signerFingerprint(r), dir: r.dir };
}

async function list(parsed: Parsed): Promise<number> {
  const releases = releasesOf(projectOf(parsed));
  const numbers = releases.numbers();
  if (parsed.values["json"] === true) {
    for (const n of numbers) process.stdout.write(JSON.stringify(toJson(releases.read(n))) + "\n");
    return 0;
  }
  const out = styleFor(process.stdout);
  if (numbers.length === 0) {
    process.stdout.write(out.dim(`no releases in ${releases.dir}; create one with \`devtool release create\`\n`));
    return 0;
  }
  for (const n of numbers.reverse()) {
    const r = releases.read(n);
    const modules = r.manifest.modules.map((m) => `${m.name} ${out.dim(m.digest.slice(0, 12))}`).join(", ");
    process.stdout.write(`${out.bold(String(n).padStart(4))}  ${r.manifest.createdAt}  ${signerFingerprint(r)}  ${modules}${r.manifest.notes === "" ? "" : `  ${out.dim(JSON.stringify(firstLine(r.manifest.notes)))}`}\n`);
  }
  return 0;
}

function firstLine(text: string): string {
  const line = text.split("\n")[0]!;
  return line.length > 72 ? `${line.slice(0, 71)}…` : line;
}

async function show(parsed: Parsed, number: number): Promise<number> {
  const releases = releasesOf(projectOf(parsed));
  const r = releases.read(number);
  const bundles = r.manifest.modules.map((m) => ({ ...m, bundle: decodeManifest(releases.bundle(r, m.digest).manifest) }));
  if (parsed.values["json"] === true) {
    process.stdout.write(JSON.stringify({ ...toJson(r), modules: bundles.map((b) => ({ name: b.name, digest: b.digest, size: b.bundle.size, builtAt: b.bundle.builtAt })) }) + "\n");
    return 0;
  }
  const out = styleFor(process.stdout);
  process.stdout.write(
    `${out.bold(`release ${r.number}`)} for cluster ${r.manifest.cluster}\n` +
      `  created   ${r.manifest.createdAt}\n` +
      `  signer    ${signerFingerprint(r)} ${out.dim(`(ed25519 ${r.manifest.signer})`)}\n` +
      `  notes     ${r.manifest.notes === "" ? out.dim("none") : r.manifest.notes.replace(/\n/g, "\n            ")}\n` +
      `  kept in   ${r.dir}\n` +
      `  modules   ${bundles.length}\n` +
      bundles.map((b) => `    ${b.name.padEnd(20)} ${b.digest}  ${String(b.bundle.size).padStart(8)} B  ${out.dim(`built ${b.bundle.builtAt}`)}\n`).join(""),
  );
  return 0;
}
