/**
 * Who may do what, in one table: request type × node mode → the roles that allow it.
 * Every request passes through `authorize` before its handler runs; a refusal is FORBIDDEN
 * and nothing else happens. A request type missing here is refused in every mode, so adding
 * a message without deciding its rights fails closed.
 */
import { FixpointError } from "../protocol/errors.js";
import type { Mode, RequestType, Role } from "../protocol/messages.js";

const ANY: readonly Role[] = ["observe", "dev", "release", "admin"];

export const POLICY: Record<RequestType, Record<Mode, readonly Role[]>> = {
  ping: { dev: ANY, production: ANY },
  status: { dev: ANY, production: ANY },
  subscribe: { dev: ANY, production: ANY },
  // Production takes code only as signed releases, applied by guarded restart.
  push: { dev: ["dev"], production: [] },
  // {M, F, A} on a live node: developers in dev; in production only operators.
  call: { dev: ["dev", "admin"], production: ["admin"] },
  // The REPL runs arbitrary code on the node: in dev mode for developers (and operators, as for
  // calls); in production only for operators, and every evaluation is audited before it runs
  // (node/repl-gateway.ts). Completion reads names (and may run a getter): the same rights.
  eval: { dev: ["dev", "admin"], production: ["admin"] },
  complete: { dev: ["dev", "admin"], production: ["admin"] },
  // Releases: staging is harmless in either mode (bundles travel before any node goes down);
  // applying one is production's way to change code. A release's own signer must have the
  // release role too (release.ts): the key asking and the key vouching are checked apart.
  stage: { dev: ["release", "admin"], production: ["release", "admin"] },
  upgrade: { dev: [], production: ["release", "admin"] },
  // Switching modes changes what every other key may do: operators only.
  mode: { dev: ["admin"], production: ["admin"] },
};

export function authorize(type: RequestType, mode: Mode, roles: readonly Role[]): void {
  const allowed = POLICY[type]?.[mode] ?? [];
  if (roles.some((r) => allowed.includes(r))) return;
  if (allowed.length === 0) {
    throw new FixpointError(
      "FORBIDDEN",
      type === "push" && mode === "production"
        ? "this node is in production mode and accepts code only as a signed release; use `devtool release create` and `devtool upgrade`"
        : type === "upgrade" && mode === "dev"
          ? "this node is in dev mode, where code changes by `devtool push`; switch it with `devtool mode --node NODE production` (admin) to apply releases"
          : `${type} is not allowed on a node in ${mode} mode`,
    );
  }
  throw new FixpointError("FORBIDDEN", `${type} in ${mode} mode needs one of the roles ${allowed.join(", ")}; this key has ${roles.length === 0 ? "none" : roles.join(", ")}`);
}
