/**
 * Server-Sent Events over an HTTP channel.
 *
 * @module
 */

// Built only on the public asChannel API: the SSE channel wraps the HTTP
// channel, writes the stream's head with whatever onOpen sent, formats events
// and keeps idle streams alive with comments.

import type {
  Channel,
  ChannelData,
  ChannelMessage,
  CloseStatus,
} from "../channel.ts";
import { checkOptions } from "../_options.ts";
import { unrefInterval } from "../_timers.ts";
import { asChannel } from "./channel.ts";
import {
  DELIVER,
  type Deliverable,
  type Prepared,
  WATCH_CLOSE,
} from "../_hooks.ts";
import type { RingRequest, RingResponse } from "./types.ts";
import { commentLines, formatSse, type SseEvent } from "./sse_event.ts";

/**
 * What {@linkcode SseChannel.send} accepts: text or bytes (UTF-8) as the
 * data of one event, an {@linkcode SseEvent}, or a channel message whose
 * `body` is the data (so code written for any {@linkcode Channel} works).
 *
 * @example Four ways to send the same data
 * ```ts
 * import { runServer, sse, type SseData } from "@httpkit/httpkit";
 *
 * const same: SseData[] = [
 *   "hi",
 *   { data: "hi" },
 *   new TextEncoder().encode("hi"),
 *   { body: "hi" },
 * ];
 * const server = runServer((req) =>
 *   sse(req, {
 *     onOpen(ch) {
 *       same.forEach((data, i) => ch.send(data, i === same.length - 1));
 *     },
 *   }), { ip: "127.0.0.1", port: 0 });
 * const text = await (await fetch(`http://127.0.0.1:${server.port}/`)).text();
 * console.assert(text === "data: hi\n\n".repeat(4));
 * await server.stop();
 * ```
 */
export type SseData = ChannelData | SseEvent;

/**
 * A Server-Sent Events stream, as handlers get it: a {@linkcode Channel}
 * whose `send` sends events.
 *
 * @example A clock
 * ```ts
 * import { runServer, sse, type SseChannel } from "@httpkit/httpkit";
 *
 * function tick(ch: SseChannel, n: number): void {
 *   ch.send({ event: "tick", id: String(n), data: String(n) }, n === 3);
 *   if (n < 3) setTimeout(() => tick(ch, n + 1), 10);
 * }
 * const server = runServer((req) => sse(req, { onOpen: (ch) => tick(ch, 1) }), {
 *   ip: "127.0.0.1",
 *   port: 0,
 * });
 * const res = await fetch(`http://127.0.0.1:${server.port}/clock`);
 * const text = await res.text();
 * console.assert(text.endsWith("event: tick\nid: 3\ndata: 3\n\n"));
 * await server.stop();
 * ```
 */
export interface SseChannel extends Channel {
  /**
   * Sends one event.
   *
   * @param data Text (one event, a `data:` line per line), an
   * {@linkcode SseEvent}, bytes (UTF-8 text) or a message whose `body` is
   * the data.
   * @param closeAfterSend End the stream after this event. Default `false`.
   * @returns `false` when the stream is already closed.
   * @throws {TypeError} For an event or id with a line break (see
   * {@linkcode formatSse}).
   */
  send(data: SseData, closeAfterSend?: boolean): boolean;
  /**
   * Sends a comment line, which browsers ignore: a keep-alive, or a note
   * for someone reading the stream with curl.
   *
   * @returns `false` when the stream is already closed.
   */
  comment(text?: string): boolean;
  /** The request's `Last-Event-ID` header: where a reconnecting browser was. */
  readonly lastEventId: string | null;
}

/**
 * Callbacks of {@linkcode sse}; every one is optional.
 *
 * @example Counting open streams
 * ```ts
 * import { runServer, sse, type SseHandlers } from "@httpkit/httpkit";
 *
 * let open = 0;
 * const closed = Promise.withResolvers<void>();
 * const handlers: SseHandlers = {
 *   onOpen: (ch) => {
 *     open++;
 *     ch.send("bye", true);
 *   },
 *   onClose: () => {
 *     open--;
 *     closed.resolve();
 *   },
 * };
 * const server = runServer((req) => sse(req, handlers), { ip: "127.0.0.1", port: 0 });
 * await (await fetch(`http://127.0.0.1:${server.port}/`)).text();
 * await closed.promise;
 * console.assert(open === 0);
 * await server.stop();
 * ```
 */
export interface SseHandlers {
  /**
   * The stream is open. What it sends here goes out with the response head,
   * in one write.
   */
  onOpen?(ch: SseChannel): void;
  /**
   * The stream closed: `client-close` when the browser went away,
   * `server-close` after `close()` or when the server stops.
   */
  onClose?(ch: SseChannel, status: CloseStatus): void;
  /** The send queue fell back under its limit. */
  onDrain?(ch: SseChannel): void;
}

/**
 * Options of {@linkcode sse}.
 *
 * @example A CORS header, a retry hint and a faster keep-alive
 * ```ts
 * import { runServer, sse, type SseOptions } from "@httpkit/httpkit";
 *
 * const options: SseOptions = {
 *   headers: { "access-control-allow-origin": "*" },
 *   retry: 2000,
 *   keepAlive: 5000,
 * };
 * const server = runServer(
 *   (req) => sse(req, { onOpen: (ch) => ch.send("hi", true) }, options),
 *   { ip: "127.0.0.1", port: 0 },
 * );
 * const res = await fetch(`http://127.0.0.1:${server.port}/`);
 * console.assert(res.headers.get("access-control-allow-origin") === "*");
 * console.assert((await res.text()) === "retry: 2000\n\ndata: hi\n\n");
 * await server.stop();
 * ```
 */
export interface SseOptions {
  /**
   * More response headers, or replacements of the defaults
   * (`content-type: text/event-stream; charset=utf-8`,
   * `cache-control: no-cache`, `x-accel-buffering: no`).
   */
  headers?: Record<string, string | number | string[]>;
  /**
   * Send a comment every this many ms when nothing else was sent, so that
   * proxies and load balancers do not cut an idle stream. `0` turns it off.
   * Default 15000.
   */
  keepAlive?: number;
  /** A `retry:` field to send first: the browser's reconnect delay, in ms. */
  retry?: number;
  /** Most bytes the stream may queue for a slow client. Default 16 MiB. */
  maxQueue?: number;
}

const DEFAULT_HEADERS: Record<string, string> = {
  "content-type": "text/event-stream; charset=utf-8",
  // Every reconnect must reach the server, not a cache.
  "cache-control": "no-cache",
  // nginx would otherwise buffer the stream and deliver events late.
  "x-accel-buffering": "no",
};

const KEEP_ALIVE = ": keep-alive\n\n";
const SSE_OPTIONS = ["headers", "keepAlive", "retry", "maxQueue"] as const;
const decoder = new TextDecoder();

/**
 * Answers a request with a Server-Sent Events stream: returns the response
 * map that hands the connection to an {@linkcode SseChannel}, like
 * {@linkcode asChannel} does for an HTTP channel.
 *
 * The head goes out once `onOpen` returns, together with what it sent, with
 * `content-type: text/event-stream; charset=utf-8`, `cache-control:
 * no-cache` and `x-accel-buffering: no` (nginx) and chunked coding; an idle
 * stream gets a comment every `keepAlive` ms. A HEAD request gets that head
 * and no stream (the handlers are not called); over HTTP/1.0 the stream
 * ends with the connection. A WebSocket upgrade request gets 400.
 *
 * @param req The request map the handler received.
 * @param handlers `onOpen`, `onClose`, `onDrain`.
 * @param options More headers, `keepAlive`, `retry`, `maxQueue`.
 * @returns The response map to return from the handler.
 * @throws {TypeError} For an unknown option (`keepalive` for `keepAlive`).
 * @throws {RangeError} For a negative or non-finite `keepAlive`, or a bad
 * `retry`.
 *
 * @example A stream of three events read with fetch
 * ```ts
 * import { runServer, sse } from "@httpkit/httpkit";
 *
 * const server = runServer((req) =>
 *   sse(req, {
 *     onOpen(ch) {
 *       ch.send("hello");
 *       ch.send({ event: "count", data: "1\n2" });
 *       ch.send({ id: "3", data: "bye" }, true);
 *     },
 *   }), { ip: "127.0.0.1", port: 0 });
 * const res = await fetch(`http://127.0.0.1:${server.port}/events`);
 * console.assert(res.headers.get("content-type") === "text/event-stream; charset=utf-8");
 * console.assert(
 *   (await res.text()) ===
 *     "data: hello\n\nevent: count\ndata: 1\ndata: 2\n\nid: 3\ndata: bye\n\n",
 * );
 * await server.stop();
 * ```
 */
export function sse(
  req: RingRequest,
  handlers?: SseHandlers,
  options?: SseOptions,
): RingResponse {
  options ??= {};
  handlers ??= {};
  checkOptions("sse", options, SSE_OPTIONS);
  const keepAlive = options.keepAlive ?? 15_000;
  if (!Number.isFinite(keepAlive) || keepAlive < 0) {
    throw new RangeError(
      `sse: keepAlive must be a non-negative number of ms, got ${keepAlive}`,
    );
  }
  // Checked here, so a bad retry throws from sse() itself.
  const first = options.retry === undefined
    ? ""
    : formatSse({ retry: options.retry });
  const headers = headersOf(options);
  if (req.requestMethod === "head") return { status: 200, headers };
  if (req.websocket) {
    return {
      status: 400,
      headers: { "content-type": "text/plain; charset=utf-8" },
      body: "Expected an event stream request, not a WebSocket upgrade",
    };
  }
  const stream = new EventStream(req, handlers, headers, keepAlive, first);
  return asChannel(req, {
    onOpen: (ch) => stream.open(ch),
    onClose: (_ch, status) => stream.closed(status),
    onDrain: () => handlers.onDrain?.(stream),
  }, { maxQueue: options.maxQueue });
}

// The defaults, with the user's headers replacing those of the same name.
function headersOf(
  options: SseOptions,
): Record<string, string | number | string[]> {
  const out: Record<string, string | number | string[]> = {
    ...DEFAULT_HEADERS,
  };
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    out[name.toLowerCase()] = value;
  }
  return out;
}

/** The SseChannel over an HTTP channel. */
class EventStream implements SseChannel {
  readonly isWebSocket = false;
  readonly lastEventId: string | null;
  #req: RingRequest;
  #h: SseHandlers;
  #headers: Record<string, string | number | string[]>;
  #keepAlive: number;
  #ch: Channel | null = null;
  // Text sent during onOpen (after the retry hint), to go out with the
  // head; null once it went.
  #pending: string | null;
  #closeAfterOpen = false;
  #timer = 0;
  // Something was written since the last keep-alive tick.
  #wrote = false;

  constructor(
    req: RingRequest,
    handlers: SseHandlers,
    headers: Record<string, string | number | string[]>,
    keepAlive: number,
    first: string,
  ) {
    this.#req = req;
    this.#h = handlers;
    this.#headers = headers;
    this.#keepAlive = keepAlive;
    this.lastEventId = req.headers["last-event-id"] ?? null;
    this.#pending = first;
  }

  get remoteAddr(): string {
    return this.#ch?.remoteAddr ?? this.#req.remoteAddr;
  }

  get isOpen(): boolean {
    return this.#ch !== null && this.#ch.isOpen && !this.#closeAfterOpen;
  }

  get bufferedAmount(): number {
    return this.#ch?.bufferedAmount ?? 0;
  }

  drained(): Promise<void> {
    return this.#ch?.drained() ?? Promise.resolve();
  }

  ping(): boolean {
    return false;
  }

  /** Runs onOpen, then writes the head with what it sent. */
  open(ch: Channel): void {
    this.#ch = ch;
    try {
      this.#h.onOpen?.(this);
    } finally {
      const body = this.#pending ?? "";
      this.#pending = null;
      const message: ChannelMessage = { headers: this.#headers, body };
      if (ch.send(message, this.#closeAfterOpen) && !this.#closeAfterOpen) {
        this.#startKeepAlive();
      }
    }
  }

  send(data: SseData, closeAfterSend = false): boolean {
    return this.#write(formatSse(toEvent(data)), closeAfterSend);
  }

  comment(text = ""): boolean {
    return this.#write(commentLines(text), false);
  }

  close(): boolean {
    if (this.#pending !== null) {
      if (this.#closeAfterOpen) return false;
      this.#closeAfterOpen = true;
      return true;
    }
    return this.#ch?.close() ?? false;
  }

  /** The HTTP channel closed. */
  closed(status: CloseStatus): void {
    if (this.#timer !== 0) clearInterval(this.#timer);
    this.#timer = 0;
    this.#h.onClose?.(this, status);
  }

  /** topics/: a published message as one event, built once for all. */
  [DELIVER](m: Prepared): boolean {
    const ch = this.#ch as Deliverable | null;
    if (this.#pending !== null || ch === null || ch[DELIVER] === undefined) {
      return this.send(m.string());
    }
    if (!ch.isOpen) return false;
    this.#wrote = true;
    return ch[DELIVER](m, true);
  }

  /**
   * topics/: calls `fn(this)` once when the stream closes, as its HTTP
   * channel tells its own watchers (before onClose). A hub subscribes only
   * an open stream, so the channel is there.
   */
  [WATCH_CLOSE](fn: (ch: Channel) => void): void {
    (this.#ch as Deliverable)[WATCH_CLOSE]!(() => fn(this));
  }

  #write(text: string, closeAfterSend: boolean): boolean {
    if (this.#pending !== null) {
      if (this.#closeAfterOpen || this.#ch === null) return false;
      this.#pending += text;
      if (closeAfterSend) this.#closeAfterOpen = true;
      return true;
    }
    if (this.#ch === null || !this.#ch.isOpen) return false;
    this.#wrote = true;
    return this.#ch.send(text, closeAfterSend);
  }

  // A comment after each quiet interval; the timer goes with the stream.
  #startKeepAlive(): void {
    if (this.#keepAlive === 0 || !this.isOpen) return;
    this.#timer = unrefInterval(() => {
      if (!this.#wrote) this.#write(KEEP_ALIVE, false);
      this.#wrote = false;
    }, this.#keepAlive);
  }
}

/** Text, bytes, an event, or a channel message whose body is the data. */
function toEvent(data: SseData): string | SseEvent {
  if (typeof data === "string") return data;
  if (data instanceof Uint8Array) return decoder.decode(data);
  if (typeof data === "object" && data !== null && "body" in data) {
    const body = (data as ChannelMessage).body;
    if (body === null || body === undefined) return "";
    return typeof body === "string" ? body : decoder.decode(body);
  }
  return data as SseEvent;
}
