/**
 * Making a release: build every module fixpoint.json lists, sign each bundle and the release
 * over their digests, keep them in the project (project-releases.ts).
 *
 * The bundles are signed by the same key as the release although a node checks only their
 * code against the digests the release's signature covers (loader/release/release.ts): a
 * signed bundle is a whole artifact by itself (a node in dev mode, or a tool reading the
 * folder, can verify it alone), and it costs one signature per module.
 */
import { relative } from "node:path";
import { FixpointError, type KeyPair, type WireBundle } from "../../loader/index.js";
import { signBundle } from "../client/index.js";
import { MAX_RELEASE_NOTES } from "../../loader/index.js";
import { signRelease } from "../client/index.js";
import { buildModule } from "../build/build.js";
import { checkListedModules, type ProjectConfig } from "../config/project.js";
import type { ProjectReleases, ProjectRelease } from "./project-releases.js";

export interface CreateReleaseOptions {
  project: ProjectConfig;
  releases: ProjectReleases;
  signer: KeyPair;
  notes?: string;
  /** Told as each module is built (the CLI prints it). */
  onBuilt?: (module: { name: string; digest: string; size: number; file: string }) => void;
}

export async function createRelease(o: CreateReleaseOptions): Promise<ProjectRelease> {
  const { project } = o;
  if (project.modules.length === 0) throw new FixpointError("CONFIG_INVALID", `${project.file} lists no "modules"; a release is every module of the project`, { location: { file: project.file } });
  checkListedModules(project);
  const notes = o.notes ?? "";
  if (notes.length > MAX_RELEASE_NOTES) throw new FixpointError("USAGE", `--notes is ${notes.length} characters; a release's notes hold at most ${MAX_RELEASE_NOTES}`);
  // Build everything before signing anything: a build error leaves no release behind.
  const built: { file: string; bundle: WireBundle; name: string; digest: string }[] = [];
  for (const file of project.modules) {
    const m = await buildModule(file, project.root);
    const twin = built.find((b) => b.name === m.name);
    if (twin !== undefined) {
      throw new FixpointError("CONFIG_INVALID", `${project.file}: "modules" lists ${relative(project.root, twin.file)} and ${relative(project.root, file)}, both module "${m.name}"; module names (file names) must differ`, {
        location: { file: project.file },
      });
    }
    const signed = signBundle(m.name, m.code, m.sourceMap, o.signer);
    built.push({ file, bundle: signed.bundle, name: m.name, digest: signed.manifest.digest });
    o.onBuilt?.({ name: m.name, digest: signed.manifest.digest, size: m.code.length, file });
  }
  const { manifest, release } = signRelease(
    { cluster: project.cluster, number: o.releases.nextNumber(), modules: built.map((b) => ({ name: b.name, digest: b.digest })), notes },
    o.signer,
  );
  return o.releases.write(release, manifest, built.map((b) => b.bundle));
}
