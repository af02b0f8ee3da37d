// The request algorithm: options -> pooled connection -> one exchange
// (request written, final response head read) -> body or redirect, looping
// over redirects. Failures become `{ opts, error }` values.

import { Framing, responseBodyFraming } from "../http1/framing.ts";
import type { HeadLimits, ResponseHead } from "../http1/head.ts";
import { isToken } from "../http1/_chars.ts";
import { optionsProblem } from "../_options.ts";
import {
  bodyStream,
  codingFormat,
  decodeStream,
  decodeWhole,
  drain,
  readWhole,
} from "./_body.ts";
import { Coercer, emptyBody } from "./_coerce.ts";
import { Connection } from "./_conn.ts";
import { attempt, connectTimeout, dial, race } from "./_dial.ts";
import { exchange, outgoing } from "./_exchange.ts";
import { Pool } from "./_pool.ts";
import {
  Defaults,
  firstHop,
  follows,
  hasBody,
  type Hop,
  prepareHopBody,
  redirect,
  REQUEST_OPTIONS,
  type Settings,
} from "./_settings.ts";
import { poolKey, type Target, Targets } from "./_target.ts";
import { asClientError, ClientError } from "./errors.ts";
import type {
  ClientResponse,
  ErrorResponse,
  HttpResponse,
  ResponseBodyOf,
} from "./response.ts";
import type {
  As,
  ClientOptions,
  RequestOptions,
  ResolvedOptions,
} from "./types.ts";

// Option names request() accepts; `traceRedirects` too, so the `opts` a
// response carries back can be sent again.
const KNOWN: ReadonlySet<string> = new Set<string>([
  ...REQUEST_OPTIONS,
  "traceRedirects",
]);

/** Largest redirect body read to keep its connection; larger ones close it. */
const DRAIN_LIMIT = 65536;

/** A request and its response head, on its connection. */
interface Exchanged {
  c: Connection;
  head: ResponseHead;
  /** The request said `Connection: close`. */
  close: boolean;
}

/**
 * An HTTP/1.1 client with its own keep-alive pool. The module functions
 * (`request`, `get`, ...) use {@linkcode defaultClient}; pass `client` in
 * the options to use another. A client keeps its own caches too (parsed
 * URLs, the request bytes of plain requests, the meaning of the last
 * Content-Type): clients share nothing but the process-wide idle-timeout
 * sweep.
 *
 * @example A client with a connection cap
 * ```ts
 * import { HttpClient } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("hi"),
 * );
 * const client = new HttpClient({ maxConnections: 4 });
 * const res = await client.request({
 *   url: `http://127.0.0.1:${server.addr.port}/`,
 *   as: "text",
 * });
 * if (!res.error) console.log(res.status, res.body.toUpperCase()); // 200 "HI"
 * client.close();
 * await server.shutdown();
 * ```
 */
export class HttpClient {
  /** The keep-alive pool. */
  readonly #pool: Pool;
  readonly #limits: HeadLimits;
  readonly #defaults: Defaults;
  readonly #targets = new Targets();
  readonly #coercer = new Coercer();

  /**
   * Creates a client with an empty pool.
   *
   * @param options Pool size, head limits and the default User-Agent.
   */
  constructor(options: ClientOptions = {}) {
    const max = options.maxConnections ?? Infinity;
    if (!(max >= 1)) {
      throw new RangeError(`Invalid maxConnections: ${max}`);
    }
    this.#pool = new Pool(max);
    this.#limits = {
      maxLine: options.maxLine ?? 8192,
      maxHeaderBytes: options.maxHeaderBytes ?? 65536,
    };
    this.#defaults = new Defaults(options.userAgent ?? "httpkit-deno");
  }

  /** The default User-Agent. */
  get userAgent(): string {
    return this.#defaults.userAgent;
  }

  /** Idle pooled connections (for tests and metrics). */
  get idleConnections(): number {
    return this.#pool.idleCount();
  }

  /**
   * Closes every idle pooled connection and stops the pool's timer. The
   * client stays usable: later requests open new connections.
   */
  close(): void {
    this.#pool.closeIdle();
  }

  /**
   * Sends a request. The promise never rejects: a failure resolves to
   * `{ opts, error }` (see {@linkcode ErrorResponse}). The body's type
   * follows `as`.
   *
   * @param options The request options.
   * @returns The response, or the error as a value.
   */
  async request<A extends As | undefined = undefined>(
    options: RequestOptions & { as?: A },
  ): Promise<ClientResponse<ResponseBodyOf<A>>> {
    const opts: ResolvedOptions = {
      ...options,
      url: String(options.url ?? ""),
      method: String(options.method ?? "GET").toUpperCase(),
    };
    let final: ResponseHead | null = null;
    try {
      for (const name in options) {
        if (!KNOWN.has(name)) {
          const problem = optionsProblem("request", options, [...KNOWN]);
          throw new ClientError("bad-option", problem ?? name);
        }
      }
      if (!isToken(opts.method)) {
        throw new ClientError(
          "bad-option",
          `Invalid method: ${JSON.stringify(opts.method)}`,
        );
      }
      const s = this.#defaults.settings(options);
      const hop = firstHop(options, opts.method, this.#targets);
      // Awaited only when there is a body: each await costs.
      if (hasBody(options)) hop.body = await prepareHopBody(options);
      let trace: string[] | null = null;
      for (let redirects = 0;; redirects++) {
        opts.url = hop.target.href;
        opts.method = hop.method;
        const x = await this.#exchange(hop, s);
        if (!follows(s, x.head.status)) {
          final = x.head;
          return (this.#finish(x, hop, s, opts) ??
            await this.#respond(x, hop, s, opts)) as HttpResponse<
              ResponseBodyOf<A>
            >;
        }
        await this.#discard(x, hop, s);
        const next = redirect(hop, x.head, redirects, s, this.#targets);
        if (trace === null) trace = opts.traceRedirects = [opts.url];
        trace.push(next);
      }
    } catch (e) {
      return failure(opts, e, final);
    }
  }

  /**
   * Sends the hop's request on a pooled or new connection and reads the
   * final response head. A GET or HEAD that finds its pooled connection
   * closed by the server before any response byte is sent once more on a
   * new connection.
   */
  async #exchange(hop: Hop, s: Settings): Promise<Exchanged> {
    const t = hop.target;
    const key = poolKey(t, s);
    const out = outgoing(hop, s);
    const retryable = (hop.method === "GET" || hop.method === "HEAD") &&
      hop.body.kind !== "stream";
    for (let tries = 0;; tries++) {
      const c = (tries === 0 ? this.#pool.takeIdle(key) : null) ??
        await this.#open(key, t, s);
      const reused = c.uses > 0;
      c.watch(s.idleTimeout, s.signal);
      const before = c.end - c.start;
      try {
        return {
          c,
          head: await exchange(c, out, this.#limits),
          close: out.close,
        };
      } catch (e) {
        const silent = c.end - c.start === before && c.failure === null;
        this.#pool.release(c, false, 0);
        if (
          !(reused && silent && retryable && tries === 0 &&
            e instanceof ClientError &&
            (e.code === "connection-closed" || e.code === "network"))
        ) {
          throw e;
        }
      }
    }
  }

  /** Gets a connection slot (maybe queueing), then dials. */
  async #open(key: string, t: Target, s: Settings): Promise<Connection> {
    const deadline = Date.now() + s.connectTimeout;
    const r = this.#pool.reserve(key);
    if (r.ready !== null) {
      let got: Connection | null;
      try {
        got = await race(
          r.ready,
          s.connectTimeout,
          s.signal,
          () => connectTimeout(s.connectTimeout),
        );
      } catch (e) {
        r.cancel();
        throw e;
      }
      if (got !== null) return got;
    }
    try {
      const sock = await attempt(
        (a) => dial(t, s, this.#limits, a),
        deadline - Date.now(),
        s.connectTimeout,
        s.signal,
        (late) => late.close(),
      );
      return new Connection(sock, key, `${t.hostname}:${t.port}`);
    } catch (e) {
      this.#pool.unreserve(key);
      throw e;
    }
  }

  // A connection goes back to the pool for reuse only when the response
  // allowed it and left no unread bytes behind.
  #release(c: Connection, persistent: boolean, s: Settings): void {
    this.#pool.release(c, persistent && c.start === c.end, s.keepalive);
  }

  /** Reads and drops a redirect's body, keeping the connection if cheap. */
  async #discard(x: Exchanged, hop: Hop, s: Settings): Promise<void> {
    const { c, head } = x;
    const f = responseBodyFraming(hop.method, head);
    let ok = f === Framing.None;
    if (!ok) {
      try {
        ok = await drain(c, f, head.contentLength, DRAIN_LIMIT);
      } catch {
        ok = false;
      }
    }
    this.#release(c, ok && head.keepAlive && !x.close, s);
  }

  /**
   * The response without awaiting anything, when that is possible: no body,
   * or a buffered, unencoded Content-Length body already in the buffer.
   * @returns `null` when {@linkcode #respond} must read on.
   */
  #finish(
    x: Exchanged,
    hop: Hop,
    s: Settings,
    opts: ResolvedOptions,
  ): HttpResponse<unknown> | null {
    const { c, head } = x;
    const f = responseBodyFraming(hop.method, head);
    if (f === Framing.None) {
      this.#release(c, head.keepAlive && !x.close, s);
      return response(opts, head, emptyBody(s.as));
    }
    const length = head.contentLength;
    if (
      f !== Framing.Length || s.as === "stream" ||
      (s.maxBody >= 0 && length > s.maxBody) || c.end - c.start < length ||
      (s.autoCompression &&
        codingFormat(head.headers["content-encoding"]) !== null)
    ) {
      return null;
    }
    const ct = head.headers["content-type"];
    const start = c.start;
    c.start += length;
    // Text is decoded straight from the read buffer; bytes get a copy.
    const bytes = this.#coercer.wantsText(s.as, ct)
      ? c.buf.subarray(start, c.start)
      : c.buf.slice(start, c.start);
    this.#release(c, head.keepAlive && !x.close, s);
    return response(opts, head, this.#coercer.coerce(bytes, s.as, ct));
  }

  /** The response after reading (or streaming) its body. */
  async #respond(
    x: Exchanged,
    hop: Hop,
    s: Settings,
    opts: ResolvedOptions,
  ): Promise<HttpResponse<unknown>> {
    const { c, head } = x;
    const f = responseBodyFraming(hop.method, head);
    const persistent = head.keepAlive && !x.close && f !== Framing.Close;
    const coding = s.autoCompression
      ? codingFormat(head.headers["content-encoding"])
      : null;
    const limit = coding === null ? s.maxBody : -1;
    if (s.as === "stream") {
      let body = bodyStream(
        c,
        f,
        head.contentLength,
        limit,
        (ok) => this.#release(c, ok && persistent, s),
      );
      if (coding !== null) body = decodeStream(body, coding, s.maxBody);
      return response(opts, head, body);
    }
    let bytes: Uint8Array;
    try {
      bytes = await readWhole(c, f, head.contentLength, limit);
    } catch (e) {
      this.#pool.release(c, false, 0);
      throw e;
    }
    this.#release(c, persistent, s);
    if (coding !== null) bytes = await decodeWhole(bytes, coding, s.maxBody);
    const ct = head.headers["content-type"];
    return response(opts, head, this.#coercer.coerce(bytes, s.as, ct));
  }
}

function response(
  opts: ResolvedOptions,
  head: ResponseHead,
  body: unknown,
): HttpResponse<unknown> {
  return { opts, status: head.status, headers: head.headers, body };
}

/**
 * The error value of a failed request; when the final response's head had
 * arrived (its body failed: bad JSON, too large, cut off, a timeout), its
 * status and headers come along.
 */
function failure(
  opts: ResolvedOptions,
  e: unknown,
  head: ResponseHead | null,
): ErrorResponse {
  const error = asClientError(e, "internal", "Unexpected client failure");
  return head === null
    ? { opts, error }
    : { opts, error, status: head.status, headers: head.headers };
}
