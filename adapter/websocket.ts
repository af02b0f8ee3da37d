/**
 * `upgradeWebSocket`: `Deno.upgradeWebSocket` for fetch handlers run by
 * {@linkcode serve}, on httpkit's WebSocket channels.
 *
 * @module
 */

import type { Channel, ChannelHandlers, CloseStatus } from "../channel.ts";
import { checkOptions } from "../_options.ts";
import { hasToken } from "../http1/_chars.ts";
import type { RingRequest, RingResponse } from "../server/types.ts";
import { requestUrl } from "./_request.ts";
import { asChannel, type ChannelOptions } from "../server/channel.ts";
import { checkUpgrade } from "../ws/handshake.ts";
import { ringRequestOf, takeoverResponse } from "./convert.ts";
import { unrefInterval } from "../_timers.ts";

const encoder = new TextEncoder();

const CONNECTING = 0, OPEN = 1, CLOSING = 2, CLOSED = 3;

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
  options: UpgradeWebSocketOptions = {},
): WebSocketUpgrade {
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
  const url = request.url.replace(/^http/, "ws");
  const socket = new ServerWebSocket(
    url,
    agreed.ok ? agreed.protocol ?? "" : "",
    agreed.ok ? agreed.extensions ?? "" : "",
    options.idleTimeout ?? 120,
  );
  const res = asChannel(req, socket[HANDLERS], {
    protocols,
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
const HANDLERS: unique symbol = Symbol("httpkit.wsHandlers");

type Listener = ((this: ServerWebSocket, ev: Event) => unknown) | null;
type MessageListener =
  | ((this: ServerWebSocket, ev: MessageEvent) => unknown)
  | null;
type CloseListener =
  | ((this: ServerWebSocket, ev: CloseEvent) => unknown)
  | null;

/** What a driven socket must offer: events, and the binary type it wants. */
interface SocketTarget extends EventTarget {
  binaryType: BinaryType;
}

/**
 * Drives a WebSocket-shaped object from a WebSocket channel: the state,
 * sends (Blobs in order), the close handshake, the idle ping, and the
 * events. It drives our own `ServerWebSocket`, and also a `WebSocket` made
 * by `Deno.upgradeWebSocket` on a request from serve() (see
 * {@linkcode adoptDenoWebSocket}).
 */
class SocketDriver {
  readonly handlers: ChannelHandlers;
  state = CONNECTING;
  #target: SocketTarget;
  #origin: string;
  #ch: Channel | null = null;
  #chain: Promise<void> | null = null;
  #pendingClose: [number, string] | null = null;
  #idle: number;
  #timer = 0;
  #heard = true;
  #pinged = false;

  constructor(target: SocketTarget, url: string, idleTimeout: number) {
    this.#target = target;
    this.#origin = new URL(url).origin;
    this.#idle = idleTimeout;
    this.handlers = {
      onOpen: (ch) => this.#opened(ch),
      onReceive: (_ch, m) => this.#received(m),
      onPong: () => (this.#heard = true),
      onPing: () => (this.#heard = true),
      onClose: (_ch, status, code) => this.#closed(status, code),
      onHandshakeError: (status, reason) => this.#refused(status, reason),
    };
  }

  get bufferedAmount(): number {
    return this.#ch?.bufferedAmount ?? 0;
  }

  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.state !== OPEN) {
      throw new DOMException("'readyState' not OPEN", "InvalidStateError");
    }
    let msg: string | Uint8Array | Promise<ArrayBuffer>;
    if (typeof data === "string") msg = data;
    else if (data instanceof Blob) msg = data.arrayBuffer();
    else if (ArrayBuffer.isView(data)) {
      msg = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else if (
      data instanceof ArrayBuffer ||
      (typeof SharedArrayBuffer !== "undefined" &&
        data instanceof SharedArrayBuffer)
    ) msg = new Uint8Array(data);
    else msg = String(data);
    if (this.#chain === null && !(msg instanceof Promise)) {
      this.#ch!.send(msg);
      return;
    }
    // A Blob is read asynchronously; later messages wait behind it.
    const ch = this.#ch!;
    const next: Promise<void> = (this.#chain ?? Promise.resolve()).then(
      async () => {
        const m = msg instanceof Promise ? new Uint8Array(await msg) : msg;
        ch.send(m);
      },
    ).catch((err) => this.#error(`Could not send a Blob: ${err}`)).finally(
      () => {
        if (this.#chain === next) this.#chain = null;
      },
    );
    this.#chain = next;
  }

  close(code?: number, reason?: string): void {
    if (
      code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)
    ) {
      throw new DOMException(
        `The close code must be either 1000 or in the range of 3000 to 4999: received ${code}`,
        "InvalidAccessError",
      );
    }
    const r = reason ?? "";
    if (encoder.encode(r).length > 123) {
      throw new DOMException(
        "The close reason may not be longer than 123 bytes",
        "SyntaxError",
      );
    }
    const c = code ?? (r !== "" ? 1000 : 0);
    if (this.state === CONNECTING) {
      this.#pendingClose = [c, r];
      this.state = CLOSING;
    } else if (this.state === OPEN) {
      this.state = CLOSING;
      const ch = this.#ch!;
      if (this.#chain !== null) this.#chain.then(() => ch.close(c, r));
      else ch.close(c, r);
    }
  }

  #opened(ch: Channel): void {
    this.#ch = ch;
    if (this.#pendingClose !== null) {
      ch.close(...this.#pendingClose);
      return;
    }
    this.state = OPEN;
    if (this.#idle > 0) {
      this.#timer = unrefInterval(() => this.#tick(), this.#idle * 1000);
    }
    this.#target.dispatchEvent(new Event("open"));
  }

  #tick(): void {
    if (this.#heard) {
      this.#heard = false;
      this.#pinged = false;
      return;
    }
    if (!this.#pinged) {
      this.#pinged = true;
      this.#ch?.ping();
      return;
    }
    this.#ch?.close(1001, "No response from ping frame.");
  }

  #received(m: string | Uint8Array): void {
    this.#heard = true;
    if (this.state !== OPEN) return;
    let data: string | ArrayBuffer | Blob;
    if (typeof m === "string") data = m;
    else if (this.#target.binaryType === "blob") {
      data = new Blob([m as BlobPart]);
    } else if (m.byteOffset === 0 && m.byteLength === m.buffer.byteLength) {
      data = m.buffer as ArrayBuffer;
    } else data = m.slice().buffer;
    this.#target.dispatchEvent(
      new MessageEvent("message", { data, origin: this.#origin }),
    );
  }

  #closed(status: CloseStatus, code: number | undefined): void {
    if (this.#timer !== 0) clearInterval(this.#timer);
    this.#timer = 0;
    this.state = CLOSED;
    const c = code === undefined || code === 0 ? 1005 : code;
    const wasClean = c !== 1006 && status !== "abnormal";
    if (!wasClean) this.#error("WebSocket closed abnormally");
    this.#target.dispatchEvent(
      new CloseEvent("close", { code: c, reason: "", wasClean }),
    );
  }

  #refused(status: number, reason: string): void {
    this.state = CLOSED;
    this.#error(`WebSocket handshake failed: ${status} ${reason}`);
    this.#target.dispatchEvent(
      new CloseEvent("close", { code: 1006, reason: "", wasClean: false }),
    );
  }

  #error(message: string): void {
    this.#target.dispatchEvent(new ErrorEvent("error", { message }));
  }
}

/** The server side of an upgraded WebSocket, on a WebSocket channel. */
class ServerWebSocket extends EventTarget {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  readonly CONNECTING = CONNECTING;
  readonly OPEN = OPEN;
  readonly CLOSING = CLOSING;
  readonly CLOSED = CLOSED;
  readonly url: string;
  readonly protocol: string;
  readonly extensions: string;
  binaryType: BinaryType = "arraybuffer";
  onopen: Listener = null;
  onmessage: MessageListener = null;
  onclose: CloseListener = null;
  onerror: Listener = null;
  readonly #d: SocketDriver;

  constructor(
    url: string,
    protocol: string,
    extensions: string,
    idleTimeout: number,
  ) {
    super();
    this.url = url;
    this.protocol = protocol;
    this.extensions = extensions;
    this.#d = new SocketDriver(this, url, idleTimeout);
    // The on* properties run first, then addEventListener listeners.
    this.addEventListener("open", (e) => this.onopen?.call(this, e));
    this.addEventListener(
      "message",
      (e) => this.onmessage?.call(this, e as MessageEvent),
    );
    this.addEventListener(
      "close",
      (e) => this.onclose?.call(this, e as CloseEvent),
    );
    this.addEventListener("error", (e) => this.onerror?.call(this, e));
  }

  /** The channel callbacks that drive this socket. */
  get [HANDLERS](): ChannelHandlers {
    return this.#d.handlers;
  }

  /** `CONNECTING` (0), `OPEN` (1), `CLOSING` (2) or `CLOSED` (3). */
  get readyState(): number {
    return this.#d.state;
  }

  /** Bytes queued for the client and not yet written. */
  get bufferedAmount(): number {
    return this.#d.bufferedAmount;
  }

  /**
   * Sends a text (string) or binary (buffer, view, Blob) message, in order.
   *
   * @throws {DOMException} InvalidStateError unless the socket is open.
   */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    this.#d.send(data);
  }

  /**
   * Starts the closing handshake.
   *
   * @param code 1000 or 3000-4999; none sends a close frame without a code.
   * @param reason Up to 123 bytes of UTF-8.
   */
  close(code?: number, reason?: string): void {
    this.#d.close(code, reason);
  }
}

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
