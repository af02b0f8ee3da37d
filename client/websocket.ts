// The WebSocket client: an HTTP/1.1 upgrade over a connection dialled like
// the HTTP client's (TCP, TLS with SNI, a proxy's CONNECT tunnel or a Unix
// socket), written and read by the same exchange, then the WsChannel the
// server uses, in the client role (masked frames). Failures reject with a
// ClientError, like the HTTP client's error values; bad arguments throw.

import type { Channel, ChannelHandlers } from "../channel.ts";
import { checkOptions as checkKnown } from "../_options.ts";
import { isFieldValue, isToken } from "../http1/_chars.ts";
import { Framing } from "../http1/framing.ts";
import { latin1Bytes } from "../http1/serialize.ts";
import type { ResponseHead } from "../http1/head.ts";
import { WsChannel } from "../ws/channel.ts";
import {
  checkServerHandshake,
  clientOffer,
  generateKey,
} from "../ws/handshake.ts";
import { Connection } from "./_conn.ts";
import { type Attempt, attempt, dial } from "./_dial.ts";
import { exchange } from "./_exchange.ts";
import type { WireRequest } from "./_wire.ts";
import { NONE } from "./_encode.ts";
import {
  type KeySettings,
  parseProxy,
  parseTarget,
  type Target,
} from "./_target.ts";
import { ClientError } from "./errors.ts";

const LIMITS = { maxLine: 8192, maxHeaderBytes: 64 * 1024 };
// The channel's read buffer at rest, as the server's WebSockets have it: an
// idle WebSocket keeps 1 KiB, not the HTTP client's 16 KiB;
// ByteConn.readChunk() grows it while reads fill it.
const WS_BUFFER = 1024;

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
  /** Time allowed for connecting and the whole handshake, in ms; 0 for no
   * limit. Default 30000. Past it: `connect-timeout`. */
  connectTimeout?: number;
  /** PEM CA certificates to trust for `wss:`. */
  caCerts?: string[];
  /** An `http://[user:password@]host:port` proxy; both `ws:` and `wss:`
   * tunnel through it with `CONNECT`. */
  proxyUrl?: string;
  /** Connect to this Unix domain socket instead of the URL's host and port
   * (`ws:` only; the URL still gives the Host header and the path). */
  unixSocket?: string;
  /** Cancels the connection attempt (`aborted`); once the channel is open,
   * close it with `close()`. */
  signal?: AbortSignal;
  /** Gets errors thrown by the channel's callbacks (`onReceive`,
   * `onClose`...); default: `console.error`. */
  errorLogger?: (err: unknown) => void;
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
 * `"client-close"` to `onClose`. It dials like the HTTP client: TLS with SNI
 * and `caCerts`, `proxyUrl` (a `CONNECT` tunnel), `unixSocket`.
 *
 * There is no response map to return a failure in, so the promise rejects
 * with a {@linkcode ClientError} whose `code` says what failed:
 * - `bad-url`: not a `ws:`/`wss:` URL (or a bad `proxyUrl`);
 * - `connection-refused`, `dns`, `tls`, `proxy`, `network`: connecting;
 * - `connect-timeout`: no open channel within `connectTimeout` (connecting
 *   or a server that never answers the upgrade);
 * - `aborted`: `signal` fired before the channel opened;
 * - `connection-closed`: the server closed before answering;
 * - `handshake`: the server refused the upgrade: its status (and reason) is
 *   in the message, e.g. `WebSocket upgrade refused by 127.0.0.1:8080: 403
 *   Forbidden`;
 * - `protocol`: a malformed answer, or a 101 that breaks the handshake rules
 *   (wrong `Sec-WebSocket-Accept`, a subprotocol or extension not offered).
 *
 * Bad arguments (a subprotocol that is not a token, a header with CR/LF, a
 * negative timeout, `unixSocket` with `wss:`) throw a `TypeError` instead.
 * Errors thrown by the handlers go to `errorLogger`.
 *
 * @param url The `ws:` or `wss:` URL.
 * @param handlers `onOpen`, `onReceive`, `onPing`, `onPong`, `onClose`.
 * @param options Subprotocols, headers, compression, limits, TLS, proxy.
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
 *
 * @example Telling a refused upgrade from a dead server
 * ```ts
 * import { ClientError, runServer, websocket } from "@httpkit/httpkit";
 *
 * const server = runServer(() => ({ status: 403, body: "no" }), {
 *   ip: "127.0.0.1",
 *   port: 0,
 * });
 * try {
 *   await websocket(`ws://127.0.0.1:${server.port}/`);
 * } catch (err) {
 *   if (!(err instanceof ClientError)) throw err;
 *   console.assert(err.code === "handshake" && err.message.includes("403"));
 * }
 * await server.stop();
 * ```
 */
export async function websocket(
  url: string | URL,
  handlers?: ChannelHandlers,
  options?: WebSocketOptions,
): Promise<ClientChannel> {
  handlers ??= {};
  options ??= {};
  const timeout = checkOptions(options, String(url));
  const t = parseTarget(url, "ws");
  if (t.https && options.unixSocket !== undefined) {
    throw new TypeError(
      `unixSocket works with ws: URLs only, received ${JSON.stringify(t.href)}`,
    );
  }
  const key = generateKey();
  const protocols = options.protocols ?? [];
  const deflate = options.deflate ?? true;
  const out = upgradeRequest(t, key, protocols, deflate, options.headers);
  const dialing: KeySettings = {
    proxy: options.proxyUrl === undefined ? null : parseProxy(options.proxyUrl),
    unixSocket: options.unixSocket,
    insecure: false,
    caCerts: options.caCerts,
  };
  const { c, head } = await attempt(
    (a) => handshake(t, dialing, out, a),
    timeout,
    timeout,
    options.signal,
    (late) => late.c.close(),
  );
  const check = checkServerHandshake(
    head.status,
    head.headers,
    key,
    protocols,
    deflate,
  );
  if (!check.ok) {
    c.close();
    throw new ClientError(
      "protocol",
      `WebSocket handshake with ${t.host} failed: ${check.reason}`,
    );
  }
  const ch = new WsChannel(c, handlers, {
    role: "client",
    maxWs: options.maxWs,
    maxQueue: options.maxQueue,
    deflate: check.deflate,
    protocol: check.protocol,
    extensions: head.headers["sec-websocket-extensions"] ?? null,
    remoteAddr: addressOf(c.conn),
    onError: options.errorLogger ?? logError,
  });
  ch.run().catch(() => {});
  return ch;
}

function logError(err: unknown): void {
  console.error("httpkit: WebSocket callback failed:", err);
}

/** Every option name websocket() knows. */
const WEBSOCKET_OPTIONS = [
  "protocols",
  "headers",
  "deflate",
  "maxWs",
  "maxQueue",
  "connectTimeout",
  "caCerts",
  "proxyUrl",
  "unixSocket",
  "signal",
  "errorLogger",
];

/** Checks the option values; the connect timeout in ms (0: none). */
function checkOptions(o: WebSocketOptions, url: string): number {
  checkKnown("websocket", o, WEBSOCKET_OPTIONS);
  const ms = o.connectTimeout ?? 30_000;
  if (typeof ms !== "number" || Number.isNaN(ms) || ms < 0) {
    throw new TypeError(`Invalid connectTimeout: ${ms} (for ${url})`);
  }
  if (o.errorLogger !== undefined && typeof o.errorLogger !== "function") {
    throw new TypeError(`Invalid errorLogger: ${typeof o.errorLogger}`);
  }
  return ms === 0 ? Infinity : ms;
}

/** Dials, sends the upgrade request and reads the server's answer. */
async function handshake(
  t: Target,
  dialing: KeySettings,
  out: WireRequest,
  a: Attempt,
): Promise<{ c: Connection; head: ResponseHead }> {
  const sock = await dial(t, dialing, LIMITS, a, true);
  const c = new Connection(sock, "", `${t.hostname}:${t.port}`, WS_BUFFER);
  const head = await exchange(c, out, LIMITS, true);
  if (head.status !== 101) {
    throw new ClientError(
      "handshake",
      `WebSocket upgrade refused by ${t.host}: ${head.status} ${head.reason}`
        .trimEnd(),
    );
  }
  return { c, head };
}

function addressOf(conn: Deno.Conn): string {
  const addr = conn.remoteAddr;
  return addr.transport === "unix" || addr.transport === "unixpacket"
    ? (addr as Deno.UnixAddr).path
    : (addr as Deno.NetAddr).hostname;
}

/**
 * The upgrade request.
 *
 * @throws {TypeError} for a subprotocol that is not a token or a header
 * that cannot be sent.
 */
function upgradeRequest(
  t: Target,
  key: string,
  protocols: string[],
  deflate: boolean,
  headers: Record<string, string> = {},
): WireRequest {
  let h = `GET ${t.path} HTTP/1.1\r\nHost: ${t.host}\r\n` +
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
    if (!isToken(name) || typeof value !== "string" || !isFieldValue(value)) {
      throw new TypeError(
        `Invalid header ${JSON.stringify(name)}: ${JSON.stringify(value)}`,
      );
    }
    h += `${name}: ${value}\r\n`;
  }
  return {
    // latin1, as the HTTP client sends its heads (isFieldValue allows no
    // char above 255).
    bytes: latin1Bytes(h + "\r\n"),
    body: NONE,
    framing: Framing.None,
    close: false,
  };
}
