export * from "./trust-file.js";
export * from "./policy.js";
