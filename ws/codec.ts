/**
 * Sans-IO WebSocket frame codec (RFC 6455), with optional permessage-deflate
 * (RFC 7692) through a {@linkcode PerMessageDeflate}.
 *
 * Feed the bytes read from a socket to {@linkcode WsDecoder.push} and get back
 * the complete messages and control frames they finish; build the bytes to
 * write with {@linkcode WsEncoder} or {@linkcode encodeFrame}. Nothing here
 * touches a socket, a timer or a Promise.
 *
 * @example Echo one text message, server side
 * ```ts
 * import assert from "node:assert/strict";
 *
 * import { WsDecoder } from "./decoder.ts";
 *
 * import { WsEncoder } from "./encoder.ts";
 *
 * const client = new WsEncoder({ role: "client" });
 * const server = new WsDecoder({ role: "server" });
 * const [event] = server.push(client.text("hi"));
 * assert.deepEqual(event, { type: "text", data: "hi" });
 * ```
 *
 * @module
 */

export * from "./frame.ts";
export * from "./decoder.ts";
export * from "./encoder.ts";
