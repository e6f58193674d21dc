
export * from "./policy.js";
