// The WebSocket client: an HTTP/1.1 upgrade over TCP or TLS, then the same
// WsChannel the server uses, in the client role (masked frames).

import type { Channel, ChannelHandlers } from "../channel.ts";
import { ByteConn } from "../_byteconn.ts";
import { parseResponseHead } from "../http1/head.ts";
import { isFieldValue, isToken } from "../http1/_chars.ts";
import { WsChannel } from "../ws/channel.ts";
import {
  checkServerHandshake,
  clientOffer,
  generateKey,
} from "../ws/handshake.ts";

const encoder = new TextEncoder();
const LIMITS = { maxLine: 8192, maxHeaderBytes: 64 * 1024 };

/**
 * Options of {@linkcode websocket}.
 *
 * @example Subprotocol and authorization
 * ```ts
 * import { asChannel, runServer, websocket, type WebSocketOptions } from "@httpkit/httpkit";
 *
 * const server = runServer(
 *   (req) =>
 *     req.headers["authorization"] === "Bearer t0k3n"
 *       ? asChannel(req, {}, { protocols: ["v1"] })
 *       : { status: 401, body: "who are you?" },
 *   { ip: "127.0.0.1", port: 0 },
 * );
 * const wsOptions: WebSocketOptions = {
 *   protocols: ["v1"],
 *   headers: { authorization: "Bearer t0k3n" },
 *   connectTimeout: 2000,
 * };
 * const ch = await websocket(`ws://127.0.0.1:${server.port}/`, {}, wsOptions);
 * console.assert(ch.protocol === "v1");
 * ch.close();
 * await ch.closed;
 * await server.stop();
 * ```
 */
export interface WebSocketOptions {
  /** Subprotocols to offer, in order of preference. */
  protocols?: string[];
  /** Extra request headers (e.g. Authorization, Origin). */
  headers?: Record<string, string>;
  /** Offer permessage-deflate. Default `true`. */
  deflate?: boolean;
  /** Largest message accepted, in bytes. Default 4 MiB. */
  maxWs?: number;
  /** Most bytes queued for the server. Default 16 MiB. */
  maxQueue?: number;
  /** Give up connecting after this many ms. Default 30000. */
  connectTimeout?: number;
  /** PEM CA certificates to trust for `wss:`. */
  caCerts?: string[];
  /** Cancels the connection attempt. */
  signal?: AbortSignal;
}

/**
 * A client channel; `protocol` is the subprotocol the server chose.
 *
 * @example Waiting for the close
 * ```ts
 * import { asChannel, type ClientChannel, runServer, websocket } from "@httpkit/httpkit";
 *
 * const server = runServer(
 *   (req) => asChannel(req, { onOpen: (ch) => ch.close(1000, "done") }),
 *   { ip: "127.0.0.1", port: 0 },
 * );
 * const ch: ClientChannel = await websocket(`ws://127.0.0.1:${server.port}/`);
 * console.assert(ch.isWebSocket && ch.protocol === null);
 * await ch.closed; // the server closed it
 * console.assert(!ch.isOpen && !ch.send("too late"));
 * await server.stop();
 * ```
 */
export interface ClientChannel extends Channel {
  /** The negotiated subprotocol, or null. */
  readonly protocol: string | null;
  /** Resolves once the channel has closed. */
  readonly closed: Promise<void>;
}

/**
 * Opens a WebSocket to `url` (`ws:` or `wss:`) and returns the open channel,
 * driven by the same handlers as a server channel. Frames are masked, pings
 * are answered, permessage-deflate is offered; `close()` reports
 * `"client-close"` to `onClose`.
 *
 * Unlike the HTTP client this rejects when the connection or the handshake
 * fails, because there is no response to return as a value.
 *
 * @param url The `ws:` or `wss:` URL.
 * @param handlers `onOpen`, `onReceive`, `onPing`, `onPong`, `onClose`.
 * @param options Subprotocols, headers, compression, limits, TLS.
 * @returns The open channel.
 *
 * @example Echo through a server channel
 * ```ts
 * import { asChannel, runServer, websocket } from "@httpkit/httpkit";
 *
 * const server = runServer((req) =>
 *   asChannel(req, { onReceive: (ch, m) => ch.send(m) }), {
 *   ip: "127.0.0.1",
 *   port: 0,
 * });
 * const got = Promise.withResolvers<string | Uint8Array>();
 * const ch = await websocket(`ws://127.0.0.1:${server.port}/`, {
 *   onReceive: (_ch, m) => got.resolve(m),
 * });
 * ch.send("hello");
 * console.assert((await got.promise) === "hello");
 * ch.close();
 * await ch.closed;
 * await server.stop();
 * ```
 */
export async function websocket(
  url: string | URL,
  handlers: ChannelHandlers = {},
  options: WebSocketOptions = {},
): Promise<ClientChannel> {
  const u = new URL(url);
  if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new TypeError(
      `WebSocket URL must be ws: or wss:, received ${
        JSON.stringify(String(url))
      }`,
    );
  }
  const tls = u.protocol === "wss:";
  const port = u.port === "" ? (tls ? 443 : 80) : Number(u.port);
  const hostname = u.hostname.startsWith("[")
    ? u.hostname.slice(1, -1)
    : u.hostname;
  const key = generateKey();
  const protocols = options.protocols ?? [];
  const deflate = options.deflate ?? true;
  const request = upgradeRequest(
    u,
    key,
    protocols,
    deflate,
    options.headers ?? {},
  );
  const conn = await connect(hostname, port, tls, options);
  const socket = new ByteConn(conn, 16 * 1024);
  try {
    await socket.write(encoder.encode(request));
    const he = await socket.fillHead(LIMITS.maxHeaderBytes);
    if (he < 0) {
      throw new Error("Connection closed during the WebSocket handshake");
    }
    const head = parseResponseHead(socket.buf, socket.start, he, LIMITS);
    socket.start = he;
    const check = checkServerHandshake(
      head.status,
      head.headers,
      key,
      protocols,
      deflate,
    );
    if (!check.ok) {
      throw new Error(
        `WebSocket handshake with ${u.host} failed: ${check.reason}`,
      );
    }
    const ch = new WsChannel(socket, handlers, {
      role: "client",
      maxWs: options.maxWs,
      maxQueue: options.maxQueue,
      deflate: check.deflate,
      remoteAddr: (conn.remoteAddr as Deno.NetAddr).hostname ?? "",
      onError: (err) => console.error("httpkit: channel callback failed:", err),
    });
    const client = Object.assign(ch, { protocol: check.protocol }) as
      & WsChannel
      & {
        protocol: string | null;
      };
    ch.run().catch(() => {});
    return client;
  } catch (err) {
    socket.close();
    throw err;
  }
}

function upgradeRequest(
  u: URL,
  key: string,
  protocols: string[],
  deflate: boolean,
  headers: Record<string, string>,
): string {
  let h = `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n` +
    "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`;
  if (protocols.length > 0) {
    for (const p of protocols) {
      if (!isToken(p)) {
        throw new TypeError(`Invalid subprotocol: ${JSON.stringify(p)}`);
      }
    }
    h += `Sec-WebSocket-Protocol: ${protocols.join(", ")}\r\n`;
  }
  const offer = clientOffer(deflate);
  if (offer !== "") h += `Sec-WebSocket-Extensions: ${offer}\r\n`;
  for (const name in headers) {
    const value = headers[name];
    if (!isToken(name) || !isFieldValue(value)) {
      throw new TypeError(
        `Invalid header ${JSON.stringify(name)}: ${JSON.stringify(value)}`,
      );
    }
    h += `${name}: ${value}\r\n`;
  }
  return h + "\r\n";
}

async function connect(
  hostname: string,
  port: number,
  tls: boolean,
  options: WebSocketOptions,
): Promise<Deno.Conn> {
  const timeout = options.connectTimeout ?? 30_000;
  const timer = new AbortController();
  const id = setTimeout(() => timer.abort(), timeout);
  const signal = options.signal
    ? AbortSignal.any([timer.signal, options.signal])
    : timer.signal;
  let tcp: Deno.TcpConn;
  try {
    tcp = await Deno.connect({ hostname, port, signal });
  } catch (err) {
    if (timer.signal.aborted) {
      throw new Error(`connect timeout: ${timeout} ms`, { cause: err });
    }
    throw err;
  } finally {
    clearTimeout(id);
  }
  tcp.setNoDelay(true);
  if (!tls) return tcp;
  const conn = await Deno.startTls(tcp, { hostname, caCerts: options.caCerts });
  await conn.handshake();
  return conn;
}
