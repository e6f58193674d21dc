export * from "./limits.js";
export * from "./framing.js";
export * from "./cbor.js";
export * from "./schema.js";
export * from "./messages.js";
export * from "./handshake.js";
