// asChannel: hands a request's connection to a channel. A WebSocket upgrade
// becomes a WebSocket channel; any other request becomes an HTTP channel for
// streaming (chunked) or long-polling (one complete response).

import type {
  Channel,
  ChannelData,
  ChannelHandlers,
  ChannelMessage,
  CloseStatus,
} from "../channel.ts";
import { encodeChunk, LAST_CHUNK } from "../http1/chunked.ts";
import type { RequestHead } from "../http1/head.ts";
import { encodeHead } from "../http1/serialize.ts";
import { WriteQueue } from "../_queue.ts";
import type { DeflateOptions } from "../ws/deflate.ts";
import {
  CONN,
  type Connection,
  TAKEOVER,
  type TakeoverResponse,
} from "./connection.ts";
import type { RingRequest, RingResponse } from "./types.ts";
import { upgradeWebSocket } from "./websocket.ts";

const encoder = new TextEncoder();

/**
 * Options of {@linkcode asChannel}.
 *
 * @example Subprotocols and no compression
 * ```ts
 * import { asChannel, type ChannelOptions, runServer, websocket } from "@httpkit/httpkit";
 *
 * const channelOptions: ChannelOptions = {
 *   protocols: ["chat.v2", "chat.v1"],
 *   deflate: false,
 *   maxWs: 64 * 1024,
 * };
 * const server = runServer((req) => asChannel(req, {}, channelOptions), {
 *   ip: "127.0.0.1",
 *   port: 0,
 * });
 * const ch = await websocket(`ws://127.0.0.1:${server.port}/`, {}, {
 *   protocols: ["chat.v1", "chat.v2"],
 * });
 * console.assert(ch.protocol === "chat.v1"); // the client's first choice
 * ch.close();
 * await ch.closed;
 * await server.stop();
 * ```
 */
export interface ChannelOptions {
  /**
   * WebSocket subprotocols the server speaks; the first one the client
   * offers (in the client's order) that is in this list is chosen.
   */
  protocols?: string[];
  /** Extra headers for the WebSocket 101 response (e.g. Set-Cookie). */
  headers?: Record<string, string>;
  /**
   * Negotiate permessage-deflate (RFC 7692). Default `true`: without context
   * takeover both ways (an idle WebSocket keeps no zlib state), level 1,
   * messages from 1 KiB. Pass options (e.g. `{ serverNoContextTakeover:
   * false, clientNoContextTakeover: false }`) for context takeover, which
   * compresses small repetitive messages better at ~300 KiB per connection.
   */
  deflate?: boolean | DeflateOptions;
  /** Largest WebSocket message in bytes; larger closes with 1009. Default 4 MiB. */
  maxWs?: number;
  /** Most bytes a channel may queue for a slow peer. Default 16 MiB. */
  maxQueue?: number;
}

/** The hidden link a request map carries to its connection. */
export interface ConnLink {
  conn: Connection;
  head: RequestHead;
}

/** Returns the connection behind a request map, or throws. */
export function connOf(req: RingRequest): ConnLink {
  const link = (req as unknown as Record<symbol, ConnLink | undefined>)[CONN];
  if (link === undefined) {
    throw new TypeError(
      "asChannel needs the request map the server passed to the handler",
    );
  }
  return link;
}

/**
 * Turns a request into a channel: returns the response map that hands the
 * connection over. A WebSocket upgrade request gets a WebSocket channel;
 * anything else an HTTP channel, where the first `send(data, true)` answers
 * with a complete response (long-polling) and `send(data, false)` starts a
 * chunked stream whose later sends are chunks.
 *
 * @param req The request map the handler received.
 * @param handlers `onOpen`, `onReceive`, `onPing`, `onPong`, `onClose`,
 * `onHandshakeError`, `onDrain`.
 * @param options Subprotocols, compression and limits.
 * @returns The response map to return from the handler.
 *
 * @example A server-sent stream of three chunks
 * ```ts
 * import { asChannel, runServer } from "@httpkit/httpkit";
 *
 * const server = runServer((req) =>
 *   asChannel(req, {
 *     onOpen(ch) {
 *       ch.send({ headers: { "content-type": "text/plain" }, body: "a" }, false);
 *       ch.send("b", false);
 *       ch.send("c", true);
 *     },
 *   }), { ip: "127.0.0.1", port: 0 });
 * const res = await fetch(`http://127.0.0.1:${server.port}/`);
 * console.assert((await res.text()) === "abc");
 * await server.stop();
 * ```
 */
export function asChannel(
  req: RingRequest,
  handlers: ChannelHandlers = {},
  options: ChannelOptions = {},
): RingResponse {
  const link = connOf(req);
  const res: TakeoverResponse = {
    status: 101,
    [TAKEOVER]: (): Promise<boolean> => {
      if (req.websocket) {
        return upgradeWebSocket(
          link.conn,
          link.head.method,
          req,
          handlers,
          options,
        );
      }
      return new HttpChannel(link, handlers, options).run();
    },
  };
  return res;
}

const NOT_STARTED = 0, STREAMING = 1, DONE = 2;

/** An HTTP response held open: long-poll or chunked stream. */
class HttpChannel implements Channel {
  readonly isWebSocket = false;
  readonly remoteAddr: string;
  #c: Connection;
  #head: RequestHead;
  #h: ChannelHandlers;
  #q: WriteQueue;
  #state = NOT_STARTED;
  #open = true;
  #chunked = false;
  #keepAlive = false;
  #finished!: (more: boolean) => void;
  #result: Promise<boolean>;

  constructor(
    link: ConnLink,
    handlers: ChannelHandlers,
    options: ChannelOptions,
  ) {
    this.#c = link.conn;
    this.#head = link.head;
    this.#h = handlers;
    this.remoteAddr = link.conn.remoteAddr;
    this.#result = new Promise((r) => (this.#finished = r));
    this.#q = new WriteQueue(
      (b) => this.#c.write(b),
      options.maxQueue ?? 16 * 1024 * 1024,
      () => this.#end("client-close", false),
      () => this.#call(() => handlers.onDrain?.(this)),
    );
  }

  get isOpen(): boolean {
    return this.#open;
  }

  get bufferedAmount(): number {
    return this.#q.bufferedAmount;
  }

  drained(): Promise<void> {
    return this.#q.drained();
  }

  ping(): boolean {
    return false;
  }

  /** Opens the channel and resolves when its response is over. */
  run(): Promise<boolean> {
    this.#c.channel = this;
    this.#call(() => this.#h.onOpen?.(this));
    if (this.#open) this.#watch();
    return this.#result;
  }

  // A peer that leaves while the response is open closes the channel.
  async #watch(): Promise<void> {
    if (await this.#c.watchPeer(() => this.#open)) {
      this.#end("client-close", false);
    }
  }

  send(data: ChannelData, closeAfterSend = true): boolean {
    if (!this.#open) return false;
    const msg: ChannelMessage =
      typeof data === "string" || data instanceof Uint8Array
        ? { body: data }
        : data;
    const body = toBytes(msg.body);
    const noBody = this.#head.method === "HEAD";
    let out: Uint8Array;
    if (this.#state === NOT_STARTED) {
      out = this.#start(msg, body, closeAfterSend, noBody);
    } else {
      out = this.#chunked && !noBody ? encodeChunk(body, closeAfterSend) : body;
    }
    if (out.length > 0 && !this.#q.push(out)) {
      this.#end("server-close", false);
      return false;
    }
    if (closeAfterSend) this.#complete();
    return true;
  }

  #start(
    msg: ChannelMessage,
    body: Uint8Array,
    last: boolean,
    noBody: boolean,
  ): Uint8Array {
    const headers = msg.headers ??
      { "content-type": "text/html; charset=utf-8" };
    const start = this.#c.startHead(this.#head, msg.status ?? 200, headers);
    let h = start.text;
    this.#keepAlive = start.keepAlive;
    this.#state = STREAMING;
    if (last) {
      h += `Content-Length: ${body.length}\r\n\r\n`;
      return noBody ? encodeHead(h) : joinBytes(encodeHead(h), body);
    }
    if (this.#head.http10) {
      // HTTP/1.0 has no chunked coding: the stream ends when the socket does.
      if (this.#keepAlive) {
        h = h.replace("Connection: keep-alive\r\n", "Connection: close\r\n");
      }
      this.#keepAlive = false;
    } else {
      h += "Transfer-Encoding: chunked\r\n";
      this.#chunked = true;
    }
    h += "\r\n";
    if (noBody) return encodeHead(h);
    return joinBytes(
      encodeHead(h),
      this.#chunked ? encodeChunk(body) : body,
    );
  }

  // The response is complete: once written, the connection goes on.
  #complete(): void {
    this.#state = DONE;
    this.#open = false;
    const more = this.#keepAlive;
    this.#q.drained().then(() => {
      this.#closed("server-close");
      this.#finished(more && !this.#q.failed);
    });
  }

  close(): boolean {
    if (!this.#open) return false;
    if (this.#state === STREAMING && this.#chunked) {
      this.#q.push(encoder.encode(LAST_CHUNK));
      this.#complete();
      return true;
    }
    this.#end("server-close", false);
    return true;
  }

  /** Closes because the server stops. */
  serverClose(): void {
    this.close();
  }

  #end(status: CloseStatus, more: boolean): void {
    if (this.#state === DONE) return;
    this.#state = DONE;
    this.#open = false;
    this.#closed(status);
    if (more) {
      this.#finished(true);
      return;
    }
    // A close-delimited (HTTP/1.0) body ends with the socket: what is
    // queued must go out first. (A departed peer fails the queue at once.)
    this.#q.drained().then(() => {
      this.#c.destroy();
      this.#finished(false);
    });
  }

  #closed(status: CloseStatus): void {
    if (this.#c.channel === this) this.#c.channel = null;
    this.#call(() => this.#h.onClose?.(this, status));
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#c.core.error(err, null);
    }
  }
}

function toBytes(body: string | Uint8Array | null | undefined): Uint8Array {
  if (body === null || body === undefined) return new Uint8Array(0);
  return typeof body === "string" ? encoder.encode(body) : body;
}

function joinBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * An AbortSignal that fires when the client goes away before the response
 * to `req` is complete (used by the fetch adapter for `Request.signal`).
 * It watches the socket only from this call on.
 */
export function requestSignal(req: RingRequest): AbortSignal {
  const { conn, head } = connOf(req);
  const ac = new AbortController();
  const active = (): boolean => conn.current === head && !conn.closed;
  conn.watchPeer(active).then((left) => {
    if (left) {
      ac.abort(
        new DOMException("The client closed the connection", "AbortError"),
      );
    }
  });
  return ac.signal;
}
