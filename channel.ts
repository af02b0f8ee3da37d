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
 */
export interface ChannelMessage {
  /** HTTP status of the response (first send only). Defaults to 200. */
  status?: number;
  /** Response headers (first send only). */
  headers?: Record<string, string | number | string[]>;
  /** The bytes or text to send. */
  body?: string | Uint8Array | null;
}

/** What `send` accepts: text, bytes, or (HTTP channels) a response map. */
export type ChannelData = string | Uint8Array | ChannelMessage;

/**
 * One connection held open by the server or client: a WebSocket, an HTTP
 * stream (chunked) or a long-poll response.
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

/** Callbacks of a channel; every one is optional. */
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
