/**
 * `upgradeWebSocket`: `Deno.upgradeWebSocket` for fetch handlers run by
 * {@linkcode serve}, on httpkit's WebSocket channels.
 *
 * @module
 */

import type { Channel, ChannelHandlers, CloseStatus } from "../channel.ts";
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
  const req = ringRequestOf(request);
  if (req === undefined) {
    throw new TypeError(
      "upgradeWebSocket() needs a Request passed in by httpkit's serve()",
    );
  }
  const h = request.headers;
  if (!hasToken(h.get("upgrade"), "websocket")) {
    throw new TypeError(
      "Invalid Header: 'upgrade' header must contain 'websocket'",
    );
  }
  if (!hasToken(h.get("connection"), "upgrade")) {
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
const HANDLERS: unique symbol = Symbol("httpkit.wsHandlers");

function hasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  return value.split(",").some((t) => t.trim().toLowerCase() === token);
}

type Listener = ((this: ServerWebSocket, ev: Event) => unknown) | null;
type MessageListener =
  | ((this: ServerWebSocket, ev: MessageEvent) => unknown)
  | null;
type CloseListener =
  | ((this: ServerWebSocket, ev: CloseEvent) => unknown)
  | null;

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
  readonly [HANDLERS]: ChannelHandlers;
  #state = CONNECTING;
  #ch: Channel | null = null;
  #chain: Promise<void> | null = null;
  #pendingClose: [number, string] | null = null;
  #idle: number;
  #timer = 0;
  #heard = true;
  #pinged = false;

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
    this.#idle = idleTimeout;
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
    this[HANDLERS] = {
      onOpen: (ch) => this.#opened(ch),
      onReceive: (_ch, m) => this.#received(m),
      onPong: () => (this.#heard = true),
      onPing: () => (this.#heard = true),
      onClose: (_ch, status, code) => this.#closed(status, code),
      onHandshakeError: (status, reason) => this.#refused(status, reason),
    };
  }

  /** `CONNECTING` (0), `OPEN` (1), `CLOSING` (2) or `CLOSED` (3). */
  get readyState(): number {
    return this.#state;
  }

  /** Bytes queued for the client and not yet written. */
  get bufferedAmount(): number {
    return this.#ch?.bufferedAmount ?? 0;
  }

  /**
   * Sends a text (string) or binary (buffer, view, Blob) message, in order.
   *
   * @throws {DOMException} InvalidStateError unless the socket is open.
   */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.#state !== OPEN) {
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

  /**
   * Starts the closing handshake.
   *
   * @param code 1000 or 3000-4999; none sends a close frame without a code.
   * @param reason Up to 123 bytes of UTF-8.
   */
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
    if (this.#state === CONNECTING) {
      this.#pendingClose = [c, r];
      this.#state = CLOSING;
    } else if (this.#state === OPEN) {
      this.#state = CLOSING;
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
    this.#state = OPEN;
    if (this.#idle > 0) {
      this.#timer = unrefInterval(() => this.#tick(), this.#idle * 1000);
    }
    this.dispatchEvent(new Event("open"));
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
    if (this.#state !== OPEN) return;
    let data: string | ArrayBuffer | Blob;
    if (typeof m === "string") data = m;
    else if (this.binaryType === "blob") data = new Blob([m as BlobPart]);
    else if (m.byteOffset === 0 && m.byteLength === m.buffer.byteLength) {
      data = m.buffer as ArrayBuffer;
    } else data = m.slice().buffer;
    this.dispatchEvent(
      new MessageEvent("message", { data, origin: new URL(this.url).origin }),
    );
  }

  #closed(status: CloseStatus, code: number | undefined): void {
    if (this.#timer !== 0) clearInterval(this.#timer);
    this.#timer = 0;
    this.#state = CLOSED;
    const c = code === undefined || code === 0 ? 1005 : code;
    const wasClean = c !== 1006 && status !== "abnormal";
    if (!wasClean) this.#error("WebSocket closed abnormally");
    this.dispatchEvent(
      new CloseEvent("close", { code: c, reason: "", wasClean }),
    );
  }

  #refused(status: number, reason: string): void {
    this.#state = CLOSED;
    this.#error(`WebSocket handshake failed: ${status} ${reason}`);
    this.dispatchEvent(
      new CloseEvent("close", { code: 1006, reason: "", wasClean: false }),
    );
  }

  #error(message: string): void {
    this.dispatchEvent(new ErrorEvent("error", { message }));
  }
}
