/**
 * The loader's public surface, imported by the devtool and the tests. Nothing here imports
 * runtime/ or devtool/ (test/loader/layering.test.ts checks).
 */
export * from "./protocol/index.js";
export * from "./channel/index.js";
export * from "./trust/index.js";
export * from "./bundle/index.js";
export * from "./store/index.js";
export * from "./release/index.js";
export * from "./node/index.js";
export { LOADER_NODE_FLAGS } from "./supervisor/runtime-entry.js";
