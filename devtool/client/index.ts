/** The client side of a node: connecting over the channel, signing bundles and releases. */
export * from "./channel-client.js";
export * from "./sign.js";
