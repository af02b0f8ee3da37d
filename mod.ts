/**
 * httpkit for Deno: a minimalist, event-driven HTTP/1.1 server, client and
 * WebSocket toolkit with Ring-style handlers and zero dependencies, after
 * Clojure's http-kit.
 *
 * A handler takes a plain request map and returns a plain response map:
 *
 * ```ts
 * import { runServer } from "@httpkit/httpkit";
 *
 * const server = runServer((req) => ({
 *   status: 200,
 *   headers: { "content-type": "text/plain" },
 *   body: `Hello from ${req.uri}`,
 * }), { ip: "127.0.0.1", port: 0 });
 * await server.stop();
 * ```
 *
 * @module
 */

export { runServer } from "./server/server.ts";
export type {
  Handler,
  ResponseBody,
  RingRequest,
  RingResponse,
  Server,
  ServerOptions,
} from "./server/types.ts";
export type { HeaderValue, OutHeaders } from "./http1/serialize.ts";
export { ProtocolError } from "./http1/errors.ts";
export { closeStatus } from "./channel.ts";
export type {
  Channel,
  ChannelData,
  ChannelHandlers,
  ChannelMessage,
  CloseStatus,
} from "./channel.ts";
export { asChannel } from "./server/channel.ts";
export type { ChannelOptions } from "./server/channel.ts";
export * from "./client/mod.ts";
