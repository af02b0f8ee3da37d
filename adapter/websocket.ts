/**
 * `upgradeWebSocket`: `Deno.upgradeWebSocket` for fetch handlers run by
 * {@linkcode serve}, on httpkit's WebSocket channels.
 *
 * @module
 */

import type { ChannelHandlers } from "../channel.ts";
import { checkOptions } from "../_options.ts";
import { hasToken } from "../http1/_chars.ts";
import type { RingRequest, RingResponse } from "../server/types.ts";
import { requestUrl } from "./_request.ts";
import { asChannel, type ChannelOptions } from "../server/channel.ts";
import { checkUpgrade } from "../ws/handshake.ts";
import { ringRequestOf } from "./convert.ts";
import { takeoverResponse } from "./response.ts";
import { HANDLERS, ServerWebSocket, SocketDriver } from "./_socket.ts";

/**
 * Options of {@linkcode upgradeWebSocket}.
 *
 * @example Agreeing on a subprotocol
 * ```ts
 * import {
 *   serve,
 *   upgradeWebSocket,
 *   type UpgradeWebSocketOptions,
 *   websocket,
 * } from "@httpkit/httpkit";
 *
 * const upgradeOptions: UpgradeWebSocketOptions = {
 *   protocol: "chat",
 *   idleTimeout: 30,
 *   maxWs: 64 * 1024,
 * };
 * const server = serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   (request) => upgradeWebSocket(request, upgradeOptions).response,
 * );
 * const ch = await websocket(`ws://127.0.0.1:${server.addr.port}/`, {}, {
 *   protocols: ["chat"],
 * });
 * console.assert(ch.protocol === "chat");
 * ch.close();
 * await ch.closed;
 * await server.shutdown();
 * ```
 */
export interface UpgradeWebSocketOptions
  extends Omit<ChannelOptions, "protocols"> {
  /**
   * The subprotocol to agree on, when the client offers it (as with
   * `Deno.upgradeWebSocket`).
   */
  protocol?: string;
  /**
   * Seconds without a message or pong before the server pings; a second
   * quiet period closes the socket with 1001. 0 turns it off. Default 120.
   */
  idleTimeout?: number;
}

/**
 * What {@linkcode upgradeWebSocket} returns, like `Deno.WebSocketUpgrade`.
 *
 * @example Greeting each new socket
 * ```ts
 * import {
 *   serve,
 *   upgradeWebSocket,
 *   websocket,
 *   type WebSocketUpgrade,
 * } from "@httpkit/httpkit";
 *
 * const server = serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   (request) => {
 *     const upgrade: WebSocketUpgrade = upgradeWebSocket(request);
 *     upgrade.socket.onopen = () => upgrade.socket.send("welcome");
 *     return upgrade.response;
 *   },
 * );
 * const got = Promise.withResolvers<string | Uint8Array>();
 * const ch = await websocket(`ws://127.0.0.1:${server.addr.port}/`, {
 *   onReceive: (_ch, message) => got.resolve(message),
 * });
 * console.assert((await got.promise) === "welcome");
 * ch.close();
 * await ch.closed;
 * await server.shutdown();
 * ```
 */
export interface WebSocketUpgrade {
  /** Return this from the fetch handler. */
  response: Response;
  /** The server side of the WebSocket. */
  socket: WebSocket;
}

/**
 * Upgrades a request to a WebSocket, like `Deno.upgradeWebSocket`: returns
 * the `socket` to use and the `response` to return from the handler. Code
 * written for `Deno.upgradeWebSocket` works unchanged.
 *
 * The socket is a WebSocket-like `EventTarget` (it is not `instanceof
 * WebSocket`): `readyState`, `onopen`/`onmessage`/`onclose`/`onerror` and
 * `addEventListener`, `send` of strings, `ArrayBuffer`s, views and `Blob`s,
 * `close(code?, reason?)`, `protocol`, `extensions`, `bufferedAmount`, `url`
 * and `binaryType` (`"arraybuffer"` by default, as in Deno). Binary messages
 * arrive as `ArrayBuffer` or `Blob`. `CloseEvent.reason` is always `""`.
 *
 * The `response` has status 200 (the Fetch API refuses 101) and a marker
 * header; the server writes the real 101 handshake. Headers added to it are
 * not sent.
 *
 * @param request The `Request` a handler run by `serve` received.
 * @param options Subprotocol, idle timeout, compression and limits.
 * @returns The socket and the response.
 * @throws {TypeError} When the request is not a WebSocket upgrade or does not
 * come from httpkit's `serve`.
 *
 * @example An echo server
 * ```ts
 * import { serve, upgradeWebSocket } from "@httpkit/httpkit";
 *
 * const server = serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
 *   const { socket, response } = upgradeWebSocket(request);
 *   socket.onmessage = (e) => socket.send(`echo: ${e.data}`);
 *   return response;
 * });
 * const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
 * await new Promise((r) => (ws.onopen = r));
 * ws.send("hi");
 * const reply = await new Promise((r) => (ws.onmessage = (e) => r(e.data)));
 * console.assert(reply === "echo: hi");
 * ws.close();
 * await new Promise((r) => (ws.onclose = r));
 * await server.shutdown();
 * ```
 */
export function upgradeWebSocket(
  request: Request,
  options?: UpgradeWebSocketOptions,
): WebSocketUpgrade {
  options ??= {};
  checkOptions("upgradeWebSocket", options, UPGRADE_OPTIONS);
  const req = ringRequestOf(request);
  if (req === undefined) {
    throw new TypeError(
      "upgradeWebSocket() needs a Request passed in by httpkit's serve()",
    );
  }
  const h = request.headers;
  if (!hasToken(h.get("upgrade") ?? undefined, "websocket")) {
    throw new TypeError(
      "Invalid Header: 'upgrade' header must contain 'websocket'",
    );
  }
  if (!hasToken(h.get("connection") ?? undefined, "upgrade")) {
    throw new TypeError(
      "Invalid Header: 'connection' header must contain 'Upgrade'",
    );
  }
  if (!h.has("sec-websocket-key")) {
    throw new TypeError(
      "Invalid Header: 'sec-websocket-key' header must be set",
    );
  }
  if (UPGRADED.has(req)) {
    throw new TypeError(
      "upgradeWebSocket() was already called for this request",
    );
  }
  UPGRADED.add(req);
  const protocols = options.protocol === undefined ? [] : [options.protocol];
  // The same pure negotiation the server runs, for `protocol`/`extensions`.
  const agreed = checkUpgrade(
    req.requestMethod.toUpperCase(),
    req.protocol,
    req.headers,
    { protocols, deflate: options.deflate ?? true },
  );
  const url = wsUrl(req);
  const socket = new ServerWebSocket(
    url,
    agreed.ok ? agreed.protocol ?? "" : "",
    agreed.ok ? agreed.extensions ?? "" : "",
    options.idleTimeout ?? 120,
  );
  const res = asChannel(req, socket[HANDLERS], {
    protocols,
    headers: options.headers,
    deflate: options.deflate,
    maxWs: options.maxWs,
    maxQueue: options.maxQueue,
  });
  return {
    socket: socket as unknown as WebSocket,
    response: takeoverResponse(res, req),
  };
}

const UPGRADED = new WeakSet<object>();
const UPGRADE_OPTIONS = [
  "protocol",
  "idleTimeout",
  "headers",
  "deflate",
  "maxWs",
  "maxQueue",
];
/**
 * The WebSocket that `Deno.upgradeWebSocket` returned in `response`, when
 * the response is its 101 (the runtime keeps the socket on the Response),
 * or null.
 */
export function upgradedSocket(response: Response): WebSocket | null {
  if (response.status !== 101) return null;
  const r = response as unknown as Record<symbol, unknown>;
  for (const key of Object.getOwnPropertySymbols(response)) {
    if (r[key] instanceof WebSocket) return r[key] as WebSocket;
  }
  return null;
}

/**
 * Serves a WebSocket made by `Deno.upgradeWebSocket` (code written for
 * `Deno.serve`, such as Hono's `hono/deno` helper) on httpkit's WebSocket
 * channel: the runtime's socket has no connection of its own here, so its
 * `send`, `close`, `readyState`, `bufferedAmount`, `protocol` and
 * `extensions` are given to it, and the channel's events are dispatched on
 * it (its `onmessage` and listeners run as usual).
 *
 * @returns The response map that hands the connection over.
 */
export function adoptDenoWebSocket(
  req: RingRequest<unknown>,
  response: Response,
  socket: WebSocket,
): RingResponse {
  const protocol = response.headers.get("sec-websocket-protocol");
  const idle = idleTimeoutOf(socket);
  const d = new SocketDriver(socket, socket.url || wsUrl(req), idle);
  let extensions = "";
  const own = (name: string, get: () => unknown): void => {
    Object.defineProperty(socket, name, { configurable: true, get });
  };
  own("readyState", () => d.state);
  own("bufferedAmount", () => d.bufferedAmount);
  own("protocol", () => protocol ?? "");
  own("extensions", () => extensions);
  Object.defineProperty(socket, "send", {
    configurable: true,
    value: (data: string | ArrayBufferLike | ArrayBufferView | Blob) =>
      d.send(data),
  });
  Object.defineProperty(socket, "close", {
    configurable: true,
    value: (code?: number, reason?: string) => d.close(code, reason),
  });
  const handlers: ChannelHandlers = {
    ...d.handlers,
    onOpen: (ch) => {
      extensions = (ch as { extensions?: string | null }).extensions ?? "";
      d.handlers.onOpen!(ch);
    },
  };
  return asChannel(req, handlers, {
    protocols: protocol === null ? [] : [protocol],
  });
}

// Deno keeps the idleTimeout option on the socket; 120 s (its default)
// when it cannot be read.
function idleTimeoutOf(socket: WebSocket): number {
  const s = socket as unknown as Record<symbol, unknown>;
  for (const key of Object.getOwnPropertySymbols(socket)) {
    if (key.description === "[[idleTimeout]]" && typeof s[key] === "number") {
      return s[key] as number;
    }
  }
  return 120;
}

function wsUrl(req: RingRequest<unknown>): string {
  return requestUrl(req).replace(/^http/, "ws");
}
