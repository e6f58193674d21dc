export * from "./atomic.js";
export * from "./bundle-store.js";
