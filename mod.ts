/**
 * httpkit for Deno: a minimalist, event-driven HTTP/1.1 server, client and
 * WebSocket toolkit with Ring-style handlers and zero dependencies, after
 * Clojure's http-kit.
 *
 * A handler takes a plain request map and returns a plain response map; the
 * client returns a plain response map too, and never rejects; one channel
 * vocabulary serves WebSockets, HTTP streaming and long-polling:
 *
 * ```ts
 * import { asChannel, get, runServer, websocket } from "@httpkit/httpkit";
 *
 * // A hello server, with a WebSocket echo on /ws.
 * const server = runServer((req) =>
 *   req.uri === "/ws"
 *     ? asChannel(req, { onReceive: (ch, message) => ch.send(message) })
 *     : { headers: { "content-type": "text/plain" }, body: `Hello from ${req.uri}` }, {
 *   ip: "127.0.0.1",
 *   port: 0,
 * });
 *
 * // A client call: errors come back as values.
 * const res = await get(`http://127.0.0.1:${server.port}/there`, { as: "text" });
 * if (!res.error) console.assert(res.body === "Hello from /there");
 *
 * // A WebSocket client on the same channel vocabulary.
 * const echoed = Promise.withResolvers<string | Uint8Array>();
 * const ch = await websocket(`ws://127.0.0.1:${server.port}/ws`, {
 *   onReceive: (_ch, message) => echoed.resolve(message),
 * });
 * ch.send("ping?");
 * console.assert((await echoed.promise) === "ping?");
 * ch.close();
 * await ch.closed;
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
  StreamingRequest,
} from "./server/types.ts";
export type {
  HeaderPairs,
  HeaderValue,
  OutHeaders,
} from "./http1/serialize.ts";
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
export { serve } from "./adapter/serve.ts";
export type { HttpServer, ServeInit, ServeOptions } from "./adapter/serve.ts";
export {
  fetchToRing,
  ringRequestOf,
  ringToFetch,
  toRequest,
  toRingRequest,
} from "./adapter/convert.ts";
export { fromResponse, toResponse } from "./adapter/response.ts";
export type {
  FetchHandler,
  ServeHandlerInfo,
  ToRequestOptions,
  ToRingRequestOptions,
} from "./adapter/convert.ts";
export { upgradeWebSocket } from "./adapter/websocket.ts";
export type {
  UpgradeWebSocketOptions,
  WebSocketUpgrade,
} from "./adapter/websocket.ts";
export { compose } from "./middleware/compose.ts";
export type { HandlerResult, Middleware } from "./middleware/compose.ts";
export { parseParams, wrapParams } from "./middleware/params.ts";
export type { ParamMap, ParamsRequest } from "./middleware/params.ts";
export {
  parseCookies,
  serializeCookie,
  wrapCookies,
} from "./middleware/cookies.ts";
export type {
  Cookie,
  CookiesRequest,
  CookiesResponse,
} from "./middleware/cookies.ts";
export { wrapJson } from "./middleware/json.ts";
export type {
  JsonOptions,
  JsonRequest,
  JsonResponse,
} from "./middleware/json.ts";
export { contentTypeOf, wrapStatic } from "./middleware/static.ts";
export type { StaticOptions } from "./middleware/static.ts";
export { acceptsGzip, wrapGzip } from "./middleware/gzip.ts";
export type { GzipOptions } from "./middleware/gzip.ts";
export type { DeflateOptions } from "./ws/extensions.ts";
export { router } from "./middleware/router.ts";
export type {
  Route,
  RouteRequest,
  RouterOptions,
} from "./middleware/router.ts";
export { sse } from "./server/sse.ts";
export { formatSse } from "./server/sse_event.ts";
export type { SseEvent } from "./server/sse_event.ts";
export type {
  SseChannel,
  SseData,
  SseHandlers,
  SseOptions,
} from "./server/sse.ts";
export { Topics } from "./topics/topics.ts";
export { broadcastTransport } from "./topics/broadcast.ts";
export {
  defaultTopics,
  publish,
  subscribe,
  unsubscribe,
} from "./topics/default.ts";
export type {
  PublishResult,
  TopicMessage,
  TopicsOptions,
  Transport,
  TransportLink,
} from "./topics/types.ts";
