/**
 * The one channel vocabulary shared by WebSocket connections, HTTP streaming
 * and long-polling, on the server and on the client.
 *
 * @module
 */

/**
 * Why a channel closed, in http-kit's kebab-case names.
 *
 * WebSocket close codes map to `normal` (1000), `going-away` (1001, also a TCP
 * EOF or reset), `protocol-error` (1002), `unsupported` (1003),
 * `no-status-received` (1005), `abnormal` (1006), `invalid-payload-data`
 * (1007), `policy-violation` (1008), `message-too-big` (1009),
 * `mandatory-extension` (1010), `internal-server-error` (1011),
 * `tls-handshake` (1015) and `unknown` for any other code. HTTP channels close
 * with `client-close` (the peer went away) or `server-close` (`close()` was
 * called or the server stopped).
 *
 * @example Telling a clean close from a dropped one
 * ```ts
 * import { closeStatus, type CloseStatus } from "@httpkit/httpkit";
 *
 * function clean(status: CloseStatus): boolean {
 *   return status === "normal" || status === "server-close";
 * }
 * console.assert(clean(closeStatus(1000)));
 * console.assert(!clean(closeStatus(1006))); // "abnormal"
 * console.assert(!clean("client-close"));
 * ```
 */
export type CloseStatus =
  | "normal"
  | "going-away"
  | "protocol-error"
  | "unsupported"
  | "no-status-received"
  | "abnormal"
  | "invalid-payload-data"
  | "policy-violation"
  | "message-too-big"
  | "mandatory-extension"
  | "internal-server-error"
  | "tls-handshake"
  | "unknown"
  | "client-close"
  | "server-close";

const CODE_NAMES: Record<number, CloseStatus> = {
  1000: "normal",
  1001: "going-away",
  1002: "protocol-error",
  1003: "unsupported",
  1005: "no-status-received",
  1006: "abnormal",
  1007: "invalid-payload-data",
  1008: "policy-violation",
  1009: "message-too-big",
  1010: "mandatory-extension",
  1011: "internal-server-error",
  1015: "tls-handshake",
};

/**
 * Names a WebSocket close code the way `onClose` reports it.
 *
 * @param code A WebSocket close code.
 * @returns The kebab-case status name, or `"unknown"`.
 *
 * @example Naming close codes
 * ```ts
 * import { closeStatus } from "@httpkit/httpkit";
 * console.assert(closeStatus(1000) === "normal");
 * console.assert(closeStatus(4000) === "unknown");
 * ```
 */
export function closeStatus(code: number): CloseStatus {
  return CODE_NAMES[code] ?? "unknown";
}

/**
 * A response head and body sent through an HTTP channel. `status` and
 * `headers` count only on the first `send`.
 *
 * @example A first send that sets the response head
 * ```ts
 * import { asChannel, type ChannelMessage, runServer } from "@httpkit/httpkit";
 *
 * const first: ChannelMessage = {
 *   status: 202,
 *   headers: { "content-type": "text/event-stream" },
 *   body: "data: hello\n\n",
 * };
 * const server = runServer((req) =>
 *   asChannel(req, {
 *     onOpen(ch) {
 *       ch.send(first, false); // head and first chunk
 *       ch.send("data: bye\n\n", true); // last chunk, then close
 *     },
 *   }), { ip: "127.0.0.1", port: 0 });
 * const res = await fetch(`http://127.0.0.1:${server.port}/events`);
 * console.assert(res.status === 202);
 * console.assert(res.headers.get("content-type") === "text/event-stream");
 * console.assert((await res.text()) === "data: hello\n\ndata: bye\n\n");
 * await server.stop();
 * ```
 */
export interface ChannelMessage {
  /** HTTP status of the response (first send only). Defaults to 200. */
  status?: number;
  /** Response headers (first send only). */
  headers?: Record<string, string | number | string[]>;
  /** The bytes or text to send. */
  body?: string | Uint8Array | null;
}

/**
 * What `send` accepts: text, bytes, or (HTTP channels) a response map.
 *
 * @example The three kinds of data
 * ```ts
 * import type { ChannelData } from "@httpkit/httpkit";
 *
 * const outgoing: ChannelData[] = [
 *   "a text frame",
 *   new Uint8Array([1, 2, 3]), // a binary frame
 *   { status: 200, body: "a response (HTTP channels)" },
 * ];
 * const kinds = outgoing.map((data) =>
 *   typeof data === "string"
 *     ? "text"
 *     : data instanceof Uint8Array
 *     ? "binary"
 *     : "response"
 * );
 * console.assert(kinds.join() === "text,binary,response");
 * ```
 */
export type ChannelData = string | Uint8Array | ChannelMessage;

/**
 * One connection held open by the server or client: a WebSocket, an HTTP
 * stream (chunked) or a long-poll response.
 *
 * @example One function for WebSocket and HTTP channels
 * ```ts
 * import { asChannel, type Channel, runServer, websocket } from "@httpkit/httpkit";
 *
 * function greet(ch: Channel): void {
 *   ch.send(ch.isWebSocket ? "hello, socket" : "hello, http");
 * }
 * const server = runServer((req) => asChannel(req, { onOpen: greet }), {
 *   ip: "127.0.0.1",
 *   port: 0,
 * });
 * const res = await fetch(`http://127.0.0.1:${server.port}/`);
 * console.assert((await res.text()) === "hello, http");
 *
 * const got = Promise.withResolvers<string | Uint8Array>();
 * const ch = await websocket(`ws://127.0.0.1:${server.port}/`, {
 *   onReceive: (_ch, message) => got.resolve(message),
 * });
 * console.assert((await got.promise) === "hello, socket");
 * ch.close();
 * await ch.closed;
 * await server.stop();
 * ```
 */
export interface Channel {
  /**
   * Sends data. On a WebSocket a string goes as a text frame and bytes as a
   * binary frame; on an HTTP channel the first send writes the response head.
   *
   * @param data What to send.
   * @param closeAfterSend Close once sent. Defaults to `true` on HTTP channels
   * and `false` on WebSockets.
   * @returns `false` when the channel is already closed.
   */
  send(data: ChannelData, closeAfterSend?: boolean): boolean;
  /**
   * Closes the channel. Idempotent.
   *
   * @param code WebSocket close code (default 1000).
   * @param reason WebSocket close reason.
   * @returns `false` when it was already closed.
   */
  close(code?: number, reason?: string): boolean;
  /**
   * Sends a WebSocket ping. Returns `false` on HTTP channels or when closed.
   *
   * @param data Up to 125 bytes of payload.
   */
  ping(data?: string | Uint8Array): boolean;
  /** `true` until the channel closes. */
  readonly isOpen: boolean;
  /** `true` for WebSocket channels. */
  readonly isWebSocket: boolean;
  /** The peer's address. */
  readonly remoteAddr: string;
  /** Bytes queued for the peer and not yet written to the socket. */
  readonly bufferedAmount: number;
  /**
   * Resolves when the queue is written out (or the channel closed), so a
   * producer can wait instead of growing memory without bound.
   */
  drained(): Promise<void>;
}

/**
 * Callbacks of a channel; every one is optional.
 *
 * @example An echo with a close report
 * ```ts
 * import {
 *   asChannel,
 *   type ChannelHandlers,
 *   type CloseStatus,
 *   runServer,
 *   websocket,
 * } from "@httpkit/httpkit";
 *
 * const closed = Promise.withResolvers<CloseStatus>();
 * const echo: ChannelHandlers = {
 *   onReceive: (ch, message) => ch.send(message),
 *   onClose: (_ch, status) => closed.resolve(status),
 * };
 * const server = runServer((req) => asChannel(req, echo), {
 *   ip: "127.0.0.1",
 *   port: 0,
 * });
 * const got = Promise.withResolvers<string | Uint8Array>();
 * const ch = await websocket(`ws://127.0.0.1:${server.port}/`, {
 *   onReceive: (_ch, message) => got.resolve(message),
 * });
 * ch.send("ping?");
 * console.assert((await got.promise) === "ping?");
 * ch.close();
 * console.assert((await closed.promise) === "normal");
 * await ch.closed;
 * await server.stop();
 * ```
 */
export interface ChannelHandlers {
  /** Called once the channel is ready for `send`. */
  onOpen?(ch: Channel): void;
  /** A whole WebSocket message (text as string, binary as bytes), in order. */
  onReceive?(ch: Channel, message: string | Uint8Array): void;
  /** A ping arrived (the pong is sent automatically). */
  onPing?(ch: Channel, data: Uint8Array): void;
  /** A pong arrived. */
  onPong?(ch: Channel, data: Uint8Array): void;
  /**
   * The channel closed; called exactly once. WebSockets also pass the close
   * code and the peer's reason.
   */
  onClose?(
    ch: Channel,
    status: CloseStatus,
    code?: number,
    reason?: string,
  ): void;
  /** A WebSocket upgrade request was refused (status and reason). */
  onHandshakeError?(status: number, reason: string): void;
  /** The send queue fell back under its limit. */
  onDrain?(ch: Channel): void;
}
