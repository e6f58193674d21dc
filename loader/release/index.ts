export * from "./release.js";
export * from "./release-store.js";
export { STEPS as UPGRADE_STEPS, type Step as UpgradeStep } from "./guarded-restart.js";
