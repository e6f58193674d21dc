export * from "./ed25519.js";
export * from "./x25519.js";
export * from "./aead.js";
export * from "./fingerprint.js";
export * from "./keys.js";
