// asChannel: hands a request's connection to a channel. A WebSocket upgrade
// becomes a WebSocket channel; any other request becomes an HTTP channel for
// streaming (chunked) or long-polling (one complete response).

import { ChannelBase, Done, Open } from "../_channel.ts";
import { checkOptions } from "../_options.ts";
import type {
  ChannelData,
  ChannelHandlers,
  ChannelMessage,
  CloseStatus,
} from "../channel.ts";
import { encodeChunk, LAST_CHUNK } from "../http1/chunked.ts";
import { Framing, responseFraming } from "../http1/framing.ts";
import type { RequestHead } from "../http1/head.ts";
import { encodeHead } from "../http1/serialize.ts";
import type { DeflateOptions } from "../ws/extensions.ts";
import {
  linkOf,
  type RequestLink,
  type ServerLink,
  TAKEOVER,
  type TakeoverResponse,
} from "./_link.ts";
import type { RingRequest, RingResponse } from "./types.ts";
import { acceptWebSocket } from "./websocket.ts";
import { DELIVER, type Prepared } from "../_hooks.ts";

const encoder = new TextEncoder();

/** Every option name asChannel knows. */
const CHANNEL_OPTIONS = [
  "protocols",
  "headers",
  "deflate",
  "maxWs",
  "maxQueue",
];

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

/** Returns the link behind a request map, or throws. */
function connOf(req: RingRequest<unknown>): RequestLink {
  const link = linkOf(req);
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
  req: RingRequest<unknown>,
  handlers?: ChannelHandlers,
  options?: ChannelOptions,
): RingResponse {
  options ??= {};
  handlers ??= {};
  checkOptions("asChannel", options, CHANNEL_OPTIONS);
  const link = connOf(req);
  const res: TakeoverResponse = {
    status: 101,
    [TAKEOVER]: (conn: ServerLink): Promise<boolean> => {
      if (req.websocket) {
        return acceptWebSocket(conn, link.head, req, handlers, options);
      }
      return new HttpChannel(conn, link.head, handlers, options).run();
    },
  };
  return res;
}

/** An HTTP response held open: long-poll or chunked stream. */
class HttpChannel extends ChannelBase {
  readonly isWebSocket = false;
  #c: ServerLink;
  #head: RequestHead;
  #started = false;
  #framing: Framing = Framing.None;
  #keepAlive = false;
  #finished!: (more: boolean) => void;
  #result: Promise<boolean>;

  constructor(
    c: ServerLink,
    head: RequestHead,
    handlers: ChannelHandlers,
    options: ChannelOptions,
  ) {
    super(
      c.remoteAddr,
      handlers,
      (b) => c.write(b),
      options.maxQueue,
      (err) => c.reportError(err, null),
    );
    this.#c = c;
    this.#head = head;
    this.#result = new Promise((r) => (this.#finished = r));
  }

  /** Opens the channel and resolves when its response is over. */
  run(): Promise<boolean> {
    this.#c.adopt(this);
    this.fire(this.handlers.onOpen);
    if (this.state === Open) this.#watch();
    return this.#result;
  }

  // A peer that leaves while the response is open closes the channel.
  async #watch(): Promise<void> {
    if (await this.#c.watchPeer(() => this.state === Open)) {
      this.#end("client-close");
    }
  }

  send(data: ChannelData, closeAfterSend = true): boolean {
    if (this.state !== Open) return false;
    const msg: ChannelMessage =
      typeof data === "string" || data instanceof Uint8Array
        ? { body: data }
        : data;
    const body = toBytes(msg.body);
    const out = this.#started
      ? this.#frame(body, closeAfterSend)
      : this.#start(msg, body, closeAfterSend);
    if (out.length > 0 && !this.queue.push(out)) {
      this.#end("server-close");
      return false;
    }
    if (closeAfterSend) this.#complete();
    return true;
  }

  /**
   * topics/: a published message. Before the first send it is the whole
   * response (long-poll: the channel completes and leaves its topics); on a
   * chunked stream, one chunk built once for every subscriber (`sse`: the
   * message as an SSE event).
   */
  [DELIVER](m: Prepared, sse = false): boolean {
    if (this.state !== Open) return false;
    if (!this.#started || this.#framing !== Framing.Chunked) {
      if (this.#started) return this.send(sse ? m.sseBytes() : m.value, false);
      return this.send(
        { headers: m.text ? POLL_TEXT : POLL_BYTES, body: m.value },
        true,
      );
    }
    if (this.queue.push(sse ? m.sseChunk() : m.chunk())) return true;
    this.#end("server-close");
    return false;
  }

  // The first send: the response head, framed by what this send says (a
  // whole response, or the start of a stream of unknown length), and its
  // body.
  #start(msg: ChannelMessage, body: Uint8Array, last: boolean): Uint8Array {
    const headers = msg.headers ??
      { "content-type": "text/html; charset=utf-8" };
    const start = this.#c.responseHead(this.#head, msg.status ?? 200, headers);
    const f = responseFraming(
      this.#head,
      msg.status ?? 200,
      last ? body.length : -1,
      -1,
      start.keepAlive,
    );
    this.#started = true;
    this.#framing = f.framing;
    this.#keepAlive = f.keepAlive;
    const head = encodeHead(start.text + f.fields + "\r\n");
    return joinBytes(head, this.#frame(body, last));
  }

  // Body bytes as the framing wants them: chunks, or as they are.
  #frame(body: Uint8Array, last: boolean): Uint8Array {
    switch (this.#framing) {
      case Framing.None:
        return EMPTY;
      case Framing.Chunked:
        return encodeChunk(body, last);
      default:
        return body;
    }
  }

  // The response is complete: once written, the connection goes on.
  #complete(): void {
    this.state = Done;
    const more = this.#keepAlive;
    this.queue.drained().then(() => {
      this.#closed("server-close");
      this.#finished(more && !this.queue.failed);
    });
  }

  close(): boolean {
    if (this.state !== Open) return false;
    // A started response ends cleanly unless only the socket can end it.
    if (this.#started && this.#framing !== Framing.Close) {
      if (this.#framing === Framing.Chunked) {
        this.queue.push(encoder.encode(LAST_CHUNK));
      }
      this.#complete();
      return true;
    }
    this.#end("server-close");
    return true;
  }

  /** Closes because the server stops. */
  serverClose(): void {
    this.close();
  }

  protected writeFailed(): void {
    this.#end("client-close");
  }

  // Ends the channel without completing the response: the connection
  // closes once what is queued is out (a close-delimited body ends with the
  // socket; a departed peer fails the queue at once).
  #end(status: CloseStatus): void {
    if (this.state === Done) return;
    this.state = Done;
    this.#closed(status);
    this.queue.drained().then(() => {
      this.#c.close();
      this.#finished(false);
    });
  }

  #closed(status: CloseStatus): void {
    this.#c.adopt(null);
    this.reportClose(status);
  }
}

const EMPTY = new Uint8Array(0);
// The head of a long-poll answered by a published message.
const POLL_TEXT = {
  "content-type": "text/plain; charset=utf-8",
  "cache-control": "no-store",
};
const POLL_BYTES = {
  "content-type": "application/octet-stream",
  "cache-control": "no-store",
};

function toBytes(body: string | Uint8Array | null | undefined): Uint8Array {
  if (body === null || body === undefined) return EMPTY;
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
export function requestSignal(req: RingRequest<unknown>): AbortSignal {
  const { conn, head } = connOf(req);
  const ac = new AbortController();
  const gone = (): DOMException =>
    new DOMException("The client closed the connection", "AbortError");
  // A client already known gone (a streamed body saw it leave) aborts now.
  if (conn.eof && conn.responding(head)) {
    ac.abort(gone());
    return ac.signal;
  }
  conn.watchPeer(() => conn.responding(head)).then((left) => {
    if (left) ac.abort(gone());
  });
  return ac.signal;
}
