export * from "./data-dir.js";
export * from "./node.js";
export * from "./start-node.js";
export * from "./process-flags.js";
