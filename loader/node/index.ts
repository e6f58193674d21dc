export * from "./data-dir.js";
export * from "./node.js";
export { runtimeEntry } from "../supervisor/runtime-entry.js";
