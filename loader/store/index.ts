export * from "./atomic.js";
export * from "./bundle-store.js";
export * from "./state-store.js";
