/** Releases on the devtool's side: the project's release folder, making one, rolling it out. */
import { join } from "node:path";
import type { ProjectConfig } from "../config/project.js";
import { ProjectReleases } from "./project-releases.js";

export { ProjectReleases, type ProjectRelease } from "./project-releases.js";
export { createRelease, type CreateReleaseOptions } from "./create.js";
export { runRollout, unhealthyReason, STAGE_BATCH_BYTES, type NodeFate, type RolloutEvent, type RolloutNode, type RolloutOptions, type RolloutReport, type RolloutStep } from "./rollout.js";

/** The releases of `project`, in its .fixpoint folder (beside fixpoint.json, as `devtool dev`'s). */
export function releasesOf(project: ProjectConfig): ProjectReleases {
  return new ProjectReleases(join(project.root, ".fixpoint"));
}
