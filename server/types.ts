import type { HeaderPairs, OutHeaders } from "../http1/serialize.ts";

/**
 * The Ring request map a handler receives: plain data, no methods.
 *
 * Header names are lower-case; a repeated field is joined with `,` (Cookie
 * with `;`). By default the body is read whole before the handler runs (up
 * to `maxBody`), as a `Uint8Array`, or is `null` when the request has none;
 * with the server option `streamBody` it is a stream the handler pulls
 * ({@linkcode StreamingRequest}). `Body` is the type of `body`.
 *
 * @example Reading a request map
 * ```ts
 * import { type RingRequest, toRingRequest } from "@httpkit/httpkit";
 *
 * const req: RingRequest = await toRingRequest(
 *   new Request("http://example.com/items?page=2", { headers: { "X-Id": "7" } }),
 * );
 * console.assert(req.requestMethod === "get" && req.uri === "/items");
 * console.assert(req.queryString === "page=2");
 * console.assert(req.headers["x-id"] === "7"); // names are lower-case
 * console.assert(req.body === null);
 * ```
 */
export interface RingRequest<Body = Uint8Array | null> {
  /** Port the server listens on. */
  serverPort: number;
  /** Host name the client asked for (Host header without the port). */
  serverName: string;
  /** IP address of the socket peer. X-Forwarded-For is not trusted. */
  remoteAddr: string;
  /** Path of the request target, as sent (not decoded). */
  uri: string;
  /** Query after `?`, or null when the target has no `?`. */
  queryString: string | null;
  /** `"http"`, or `"https"` on a TLS listener. */
  scheme: "http" | "https";
  /** Lower-case method: `"get"`, `"post"`... */
  requestMethod: string;
  /** `"HTTP/1.1"` or `"HTTP/1.0"`. */
  protocol: "HTTP/1.1" | "HTTP/1.0";
  /** Header fields, lower-case names. */
  headers: Record<string, string>;
  /** Media type of the body without parameters, lower-case, or null. */
  contentType: string | null;
  /** Declared Content-Length, or null. */
  contentLength: number | null;
  /** The `charset` parameter of Content-Type, or null. */
  characterEncoding: string | null;
  /** The request body (whole by default), or null when there is none. */
  body: Body;
  /** `true` when the request asks for a WebSocket upgrade. */
  websocket: boolean;
}

/**
 * A request map whose body is a stream pulled from the socket (the server
 * option `streamBody`): nothing is read before the handler reads, and a slow
 * reader holds the client back. The stream is also async-iterable. A body
 * that breaks `maxBody` errors the stream with a {@linkcode ProtocolError}
 * (status 413) and the response becomes 413; a client that leaves errors it
 * too. What the handler leaves unread is dropped after the response (up to
 * 256 KiB), or the connection closes.
 *
 * @example Counting the bytes of an upload as they arrive
 * ```ts
 * import { runServer, type StreamingRequest } from "@httpkit/httpkit";
 *
 * const server = runServer(async (req: StreamingRequest) => {
 *   let n = 0;
 *   if (req.body !== null) for await (const chunk of req.body) n += chunk.length;
 *   return { body: `${n} bytes` };
 * }, { ip: "127.0.0.1", port: 0, streamBody: true });
 * const res = await fetch(`http://127.0.0.1:${server.port}/`, {
 *   method: "POST",
 *   body: new Uint8Array(100_000),
 * });
 * console.assert((await res.text()) === "100000 bytes");
 * await server.stop();
 * ```
 */
export type StreamingRequest = RingRequest<ReadableStream<Uint8Array> | null>;

/**
 * What a response body may be. Strings go out as UTF-8. Streams, iterables
 * and files are written as they come, with backpressure, chunked when the
 * length is unknown; a `Deno.FsFile` is closed once sent.
 *
 * @example Bodies of several kinds
 * ```ts
 * import { type ResponseBody, toResponse } from "@httpkit/httpkit";
 *
 * const bodies: ResponseBody[] = [
 *   "text",
 *   new TextEncoder().encode("bytes"),
 *   ["an ", "iterable"],
 *   ReadableStream.from(["a ", "stream"]),
 * ];
 * const texts = await Promise.all(bodies.map((body) => toResponse({ body }).text()));
 * console.assert(texts.join("|") === "text|bytes|an iterable|a stream");
 * ```
 */
export type ResponseBody =
  | string
  | Uint8Array
  | ArrayBuffer
  | ReadableStream<Uint8Array | string>
  | Iterable<Uint8Array | string>
  | AsyncIterable<Uint8Array | string>
  | Blob
  | Deno.FsFile
  | null
  | undefined;

/**
 * The Ring response map a handler returns.
 *
 * @example A response map with repeated headers
 * ```ts
 * import { type RingResponse, toResponse } from "@httpkit/httpkit";
 *
 * const res: RingResponse = {
 *   status: 201,
 *   headers: { "content-type": "text/plain", "x-tag": ["a", "b"] },
 *   body: "created",
 * };
 * const response = toResponse(res);
 * console.assert(response.status === 201);
 * console.assert(response.headers.get("x-tag") === "a, b");
 * console.assert((await response.text()) === "created");
 * ```
 */
export interface RingResponse {
  /** HTTP status; defaults to 200. */
  status?: number;
  /**
   * Header fields: a map (an array value becomes repeated lines), a
   * `Headers`, or name/value pairs. Content-Length,
   * Transfer-Encoding and Connection are computed by the server (a
   * Content-Length given with a stream body is kept and enforced).
   */
  headers?: OutHeaders | Headers | HeaderPairs;
  /** The body; see {@linkcode ResponseBody}. */
  body?: ResponseBody;
}

/**
 * A Ring handler: a request map in, a response map (or its Promise) out.
 *
 * @example A small router
 * ```ts
 * import { type Handler, ringToFetch } from "@httpkit/httpkit";
 *
 * const app: Handler = (req) =>
 *   req.uri === "/"
 *     ? { headers: { "content-type": "text/plain" }, body: "home" }
 *     : { status: 404, body: `no ${req.uri}` };
 * // Run it with runServer(app, options), or call it through the Fetch API:
 * const res = await ringToFetch(app)(new Request("http://localhost/missing"));
 * console.assert(res.status === 404 && (await res.text()) === "no /missing");
 * ```
 */
export type Handler<Req = RingRequest> = (
  req: Req,
) =>
  | RingResponse
  | null
  | undefined
  | void
  | Promise<RingResponse | null | undefined | void>;

/** A handler for any body the server hands out (whole or streamed). */
export type AnyHandler = Handler<
  RingRequest<Uint8Array | ReadableStream<Uint8Array> | null>
>;

/**
 * Options of {@linkcode runServer}, with http-kit's defaults.
 *
 * @example Tighter limits, no Server header
 * ```ts
 * import { runServer, type ServerOptions } from "@httpkit/httpkit";
 *
 * const options: ServerOptions = {
 *   ip: "127.0.0.1",
 *   port: 0, // a free port
 *   maxBody: 1024,
 *   serverHeader: null,
 * };
 * const server = runServer(() => ({ body: "ok" }), options);
 * const res = await fetch(`http://127.0.0.1:${server.port}/`, {
 *   method: "POST",
 *   body: "x".repeat(2048),
 * });
 * console.assert(res.status === 413 && !res.headers.has("server"));
 * await res.body?.cancel();
 * await server.stop();
 * ```
 */
export interface ServerOptions {
  /** Address to bind. Default `"0.0.0.0"`. */
  ip?: string;
  /** Port to bind; 0 picks a free one. Default 8090. */
  port?: number;
  /** Largest request body in bytes; larger gets 413. Default 8 MiB. */
  maxBody?: number;
  /**
   * Hand request bodies to the handler as streams it pulls instead of
   * whole: `true` for every request, or a function that decides per
   * request from its map (the body not read yet, `null`). See
   * {@linkcode StreamingRequest}. Default `false`.
   */
  streamBody?: boolean | ((req: RingRequest<null>) => boolean);
  /** Longest request line or header line; longer gets 414. Default 8192. */
  maxLine?: number;
  /** Largest request head; larger gets 431. Default 64 KiB. */
  maxHeaderBytes?: number;
  /**
   * Largest WebSocket message in bytes, for every channel of this server
   * (a channel's own `maxWs` wins); larger closes with 1009. Default 4 MiB.
   */
  maxWs?: number;
  /** `Server` header value; `null` leaves it out. Default `"http-kit"`. */
  serverHeader?: string | null;
  /** A request head must arrive within this many ms, else 408. Default 30000. */
  headerTimeout?: number;
  /** A keep-alive connection may stay quiet this many ms. Default 60000. */
  idleTimeout?: number;
  /** Longest wait for more request-body bytes, in ms, else 408. Default 60000. */
  bodyTimeout?: number;
  /** Longest wait for the peer to take written bytes, in ms. Default 60000. */
  writeTimeout?: number;
  /** Most open connections; past it a new one gets 503 and is closed. Default 50000. */
  maxConnections?: number;
  /**
   * Most handler calls whose Promise is still pending; past it requests get
   * 503 at once instead of queueing without bound. Default 20480.
   */
  queueSize?: number;
  /**
   * PROXY protocol (v1 and v2) from a load balancer: `"disable"` (default),
   * `"optional"` (used when present) or `"enable"` (required, else 400). The
   * header's client address becomes `remoteAddr` and the request maps carry
   * `x-forwarded-for` (the client), `x-forwarded-port` (the port the client
   * connected to on the balancer) and `x-forwarded-proto` from it.
   */
  proxyProtocol?: "disable" | "optional" | "enable";
  /**
   * Trust X-Forwarded-For and X-Forwarded-Proto from this many proxy hops
   * (`true` = 1): `remoteAddr` becomes the address that many entries from
   * the end of the list. Off by default: clients can send any header.
   */
  trustProxy?: boolean | number;
  /** PEM certificate chain: with `key`, the server speaks TLS (https, wss). */
  cert?: string;
  /** PEM private key for `cert`. */
  key?: string;
  /**
   * Run this many Web Workers, each with its own listener on the same port
   * (`reusePort`, Linux), so every core serves requests. The handler must
   * then be given as a module URL whose default export is the handler;
   * function options (loggers, onListen, signal) stay in the main thread.
   * Needs `--unstable-net`.
   */
  workers?: number;
  /**
   * Bind with SO_REUSEPORT so several processes or workers share the port
   * (Linux). Needs `--unstable-net`.
   */
  reusePort?: boolean;
  /** Listen on this Unix domain socket path instead of TCP. */
  unixSocket?: string;
  /** Called with errors of handlers and of writing responses. */
  errorLogger?: (err: unknown, req: RingRequest | null) => void;
  /** Called with warnings (refused requests, dropped connections). */
  warnLogger?: (message: string, err?: unknown) => void;
  /** Called once the server listens. */
  onListen?: (addr: { hostname: string; port: number }) => void;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
}

/**
 * A running server.
 *
 * @example Lifecycle of a server
 * ```ts
 * import { runServer, type Server } from "@httpkit/httpkit";
 *
 * const server: Server = runServer(() => ({ body: "up" }), {
 *   ip: "127.0.0.1",
 *   port: 0,
 * });
 * await server.ready;
 * console.assert(server.status === "running" && server.port > 0);
 * await server.stop({ timeout: 50 });
 * await server.finished;
 * console.assert(server.status === "stopped");
 * ```
 */
export interface Server extends AsyncDisposable {
  /** The bound port (useful with `port: 0`). */
  readonly port: number;
  /** The bound address. */
  readonly hostname: string;
  /** `"running"`, then `"stopping"` during `stop`, then `"stopped"`. */
  readonly status: "running" | "stopping" | "stopped";
  /** Resolves once the server has stopped. */
  readonly finished: Promise<void>;
  /**
   * Resolves once every listener is bound: at once for one process, when all
   * workers listen with `workers`.
   */
  readonly ready: Promise<void>;
  /**
   * Stops accepting, closes idle keep-alive connections, lets requests in
   * flight finish for up to `timeout` ms (default 100), then closes the rest.
   * Resolves when every connection is closed.
   */
  stop(options?: { timeout?: number }): Promise<void>;
  /** Keeps the process alive while the server listens (the default). */
  ref(): void;
  /** Lets the process exit even though the server still listens. */
  unref(): void;
  /** Stops the server as `stop()` does (for `await using`). */
  [Symbol.asyncDispose](): Promise<void>;
}
