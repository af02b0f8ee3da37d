/**
 * Converters between Ring maps and the Fetch API, both ways, so Ring
 * handlers, Ring middleware and fetch-style apps (Hono and the like) mix:
 *
 * | from            | to              | function                    |
 * | --------------- | --------------- | --------------------------- |
 * | `RingRequest`   | `Request`       | {@linkcode toRequest}       |
 * | `Request`       | `RingRequest`   | {@linkcode toRingRequest}   |
 * | `RingResponse`  | `Response`      | {@linkcode toResponse}      |
 * | `Response`      | `RingResponse`  | {@linkcode fromResponse}    |
 * | Ring `Handler`  | fetch handler   | {@linkcode ringToFetch}     |
 * | fetch handler   | Ring `Handler`  | {@linkcode fetchToRing}     |
 *
 * A `Request` made from a request map the server passed in remembers it
 * ({@linkcode ringRequestOf}), so channels (`asChannel`) and
 * `upgradeWebSocket` work from inside fetch handlers too.
 *
 * @module
 */

import { CONN, linkOf } from "../server/_link.ts";
import type { Handler, RingRequest } from "../server/types.ts";
import { hasToken } from "../http1/_chars.ts";
import { mediaType } from "../http1/media.ts";
import { LightRequest, requestUrl } from "./_request.ts";
import { settle, toResponse } from "./response.ts";

/**
 * What a fetch handler gets besides the `Request`, as in `Deno.serve`.
 *
 * @example The client's address
 * ```ts
 * import { serve, type ServeHandlerInfo } from "@httpkit/httpkit";
 *
 * const server = serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   (_request, info: ServeHandlerInfo) => {
 *     info.completed.catch(() => console.log("the client went away"));
 *     return new Response(`you are ${info.remoteAddr.hostname}`);
 *   },
 * );
 * const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * console.assert((await res.text()) === "you are 127.0.0.1");
 * await server.shutdown();
 * ```
 */
export interface ServeHandlerInfo {
  /** The client's address and port. */
  remoteAddr: Deno.NetAddr;
  /**
   * Resolves when the response has been handed to the socket (for a
   * streamed body: once the stream ended); rejects when a streamed body was
   * cut short, for example because the client went away.
   */
  completed: Promise<void>;
}

/**
 * A fetch-style handler, the shape `Deno.serve` takes.
 *
 * @example A fetch app as a Ring handler
 * ```ts
 * import {
 *   type FetchHandler,
 *   fetchToRing,
 *   toResponse,
 *   toRingRequest,
 * } from "@httpkit/httpkit";
 *
 * const app: FetchHandler = (request) =>
 *   Response.json({ path: new URL(request.url).pathname });
 * // Serve it with serve(app), or mount it among Ring handlers:
 * const ring = fetchToRing(app);
 * const req = await toRingRequest(new Request("http://localhost/items"));
 * const res = toResponse(await ring(req));
 * console.assert((await res.text()) === '{"path":"/items"}');
 * ```
 */
export type FetchHandler = (
  request: Request,
  info: ServeHandlerInfo,
) => Response | Promise<Response>;

// Request -> the request map it was made from.
const RINGS = new WeakMap<
  Request,
  RingRequest<Uint8Array | ReadableStream<Uint8Array> | null>
>();

/**
 * The Ring request map a `Request` was made from by {@linkcode toRequest},
 * or `undefined` for any other `Request`.
 *
 * @param request A `Request` a fetch handler received.
 * @returns The request map, which `asChannel` accepts.
 *
 * @example Long-polling from a fetch handler
 * ```ts
 * import { asChannel, ringRequestOf, serve, toResponse } from "@httpkit/httpkit";
 *
 * const server = serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
 *   const req = ringRequestOf(request)!;
 *   return toResponse(asChannel(req, {
 *     onOpen(ch) {
 *       setTimeout(() => ch.send("later"), 10);
 *     },
 *   }));
 * });
 * const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * console.assert((await res.text()) === "later");
 * await server.shutdown();
 * ```
 */
export function ringRequestOf(
  request: Request,
): RingRequest<Uint8Array | ReadableStream<Uint8Array> | null> | undefined {
  if (request instanceof LightRequest) return request.ring;
  return RINGS.get(request);
}

/**
 * Options of {@linkcode toRequest}.
 *
 * @example A Request with an abort signal
 * ```ts
 * import { toRequest, type ToRequestOptions, toRingRequest } from "@httpkit/httpkit";
 *
 * const controller = new AbortController();
 * const toRequestOptions: ToRequestOptions = { signal: controller.signal };
 * const req = await toRingRequest(new Request("http://localhost/slow"));
 * const request = toRequest(req, toRequestOptions);
 * controller.abort();
 * console.assert(request.signal.aborted);
 * ```
 */
export interface ToRequestOptions {
  /** The `Request.signal`; none by default. */
  signal?: AbortSignal;
}

/**
 * Makes a `Request` from a Ring request map. The URL is built from the Host
 * header (else `serverName:serverPort`), `uri` and `queryString`; the body
 * (already read whole by the server) becomes the `Request` body stream. The
 * `Request` remembers the map ({@linkcode ringRequestOf}).
 *
 * @param req A Ring request map.
 * @param options The signal to give the `Request`.
 * @returns The `Request`.
 * @throws {TypeError} When the Host header or target do not make a URL.
 *
 * @example From a request map to a Request
 * ```ts
 * import { toRequest, toRingRequest } from "@httpkit/httpkit";
 *
 * const ring = await toRingRequest(new Request("http://example.com/a?b=1"));
 * const request = toRequest(ring);
 * console.assert(request.url === "http://example.com/a?b=1");
 * ```
 */
export function toRequest(
  req: RingRequest<Uint8Array | ReadableStream<Uint8Array> | null>,
  options?: ToRequestOptions,
): Request {
  options ??= {};
  const method = req.requestMethod.toUpperCase();
  const body = method === "GET" || method === "HEAD" ? null : req.body;
  const request = new Request(requestUrl(req), {
    method,
    headers: req.headers,
    body: body as Uint8Array<ArrayBuffer> | null,
    signal: options.signal,
  });
  RINGS.set(request, req);
  return request;
}

/** Client address of a request map, with the port when the server knows it. */
export function remoteAddrOf(req: RingRequest<unknown>): Deno.NetAddr {
  const link = linkOf(req);
  if (link !== undefined) {
    const addr = link.conn.conn.remoteAddr as Deno.NetAddr;
    return { transport: "tcp", hostname: addr.hostname, port: addr.port };
  }
  return { transport: "tcp", hostname: req.remoteAddr, port: 0 };
}

/**
 * Options of {@linkcode toRingRequest}.
 *
 * @example Passing the client address along
 * ```ts
 * import { toRingRequest, type ToRingRequestOptions } from "@httpkit/httpkit";
 *
 * const toRingOptions: ToRingRequestOptions = {
 *   remoteAddr: { hostname: "203.0.113.7", port: 51000 },
 * };
 * const req = await toRingRequest(new Request("http://localhost/"), toRingOptions);
 * console.assert(req.remoteAddr === "203.0.113.7");
 * ```
 */
export interface ToRingRequestOptions {
  /** The client address (the `info.remoteAddr` of a fetch handler). */
  remoteAddr?: { hostname: string; port?: number };
}

/**
 * Makes a Ring request map from a `Request`, reading its body whole. Header
 * names become lower-case; `uri` is the URL's path, `queryString` what
 * follows `?` (or null). When the `Request` came from this server (see
 * {@linkcode ringRequestOf}) the map keeps the link to the connection, so a
 * Ring handler mounted inside a fetch app can still use `asChannel`.
 *
 * It is async because a `Request` body is a stream while a Ring body is
 * bytes.
 *
 * @param request The `Request`.
 * @param options The client address, for `remoteAddr`.
 * @returns The Ring request map.
 *
 * @example A Request as a request map
 * ```ts
 * import { toRingRequest } from "@httpkit/httpkit";
 *
 * const req = await toRingRequest(
 *   new Request("http://example.com:8080/p?q=1", { method: "POST", body: "hi" }),
 * );
 * console.assert(req.requestMethod === "post" && req.uri === "/p");
 * console.assert(req.queryString === "q=1" && req.serverPort === 8080);
 * console.assert(new TextDecoder().decode(req.body!) === "hi");
 * ```
 */
export async function toRingRequest(
  request: Request,
  options?: ToRingRequestOptions,
): Promise<RingRequest> {
  options ??= {};
  const url = new URL(request.url);
  const headers: Record<string, string> = {};
  for (const [name, value] of request.headers) {
    const prev = headers[name];
    headers[name] = prev === undefined
      ? value
      : prev + (name === "cookie" ? "; " : ",") + value;
  }
  if (headers["host"] === undefined) headers["host"] = url.host;
  let body: Uint8Array | null = null;
  if (request.body !== null) {
    const b = new Uint8Array(await request.arrayBuffer());
    if (b.length > 0) body = b;
  }
  const { type: contentType, charset } = mediaType(headers["content-type"]);
  const cl = headers["content-length"];
  const scheme = url.protocol === "https:" || url.protocol === "wss:"
    ? "https"
    : "http";
  const href = url.href;
  const qi = href.indexOf("?");
  const hi = href.indexOf("#");
  const origin = ringRequestOf(request);
  const req: RingRequest = {
    serverPort: url.port !== ""
      ? Number(url.port)
      : scheme === "https"
      ? 443
      : 80,
    serverName: url.hostname,
    remoteAddr: options.remoteAddr?.hostname ?? origin?.remoteAddr ?? "",
    uri: url.pathname,
    queryString: qi === -1
      ? null
      : href.slice(qi + 1, hi === -1 ? undefined : hi),
    scheme,
    requestMethod: request.method.toLowerCase(),
    protocol: origin?.protocol ?? "HTTP/1.1",
    headers,
    contentType,
    contentLength: cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : null,
    characterEncoding: charset,
    body,
    websocket: hasToken(headers["upgrade"], "websocket") &&
      hasToken(headers["connection"], "upgrade"),
  };
  const link = origin === undefined ? undefined : linkOf(origin);
  if (link !== undefined) {
    (req as unknown as Record<symbol, unknown>)[CONN] = link;
  }
  return req;
}

/**
 * A fetch handler that runs a Ring handler: the `Request` becomes a request
 * map (body read whole), the response map a `Response`.
 *
 * @param handler A Ring handler, possibly wrapped in Ring middleware.
 * @returns A fetch handler (for `Deno.serve`, Hono's `app.mount`, or our
 * `serve`).
 *
 * @example A Ring handler inside a fetch app
 * ```ts
 * import { ringToFetch } from "@httpkit/httpkit";
 *
 * const app = ringToFetch((req) => ({ body: `ring saw ${req.uri}` }));
 * const res = await app(new Request("http://localhost/x"));
 * console.assert((await res.text()) === "ring saw /x");
 * ```
 */
export function ringToFetch(
  handler: Handler,
): (request: Request, info?: ServeHandlerInfo) => Promise<Response> {
  return async (request, info) => {
    const req = await toRingRequest(request, { remoteAddr: info?.remoteAddr });
    return toResponse(await handler(req));
  };
}

/**
 * A Ring handler that runs a fetch handler: the request map becomes a
 * `Request`, the `Response` a response map. Small bodies that are complete
 * at once are sent with Content-Length; others stream as they come.
 *
 * @param handler A fetch handler (`(request, info) => Response`).
 * @returns A Ring handler for `runServer` and Ring middleware.
 *
 * @example A fetch handler under Ring middleware
 * ```ts
 * import { fetchToRing, runServer } from "@httpkit/httpkit";
 *
 * const server = runServer(
 *   fetchToRing((request) => new Response(`fetch saw ${new URL(request.url).pathname}`)),
 *   { ip: "127.0.0.1", port: 0 },
 * );
 * const res = await fetch(`http://127.0.0.1:${server.port}/y`);
 * console.assert((await res.text()) === "fetch saw /y");
 * await server.stop();
 * ```
 */
export function fetchToRing(handler: FetchHandler): Handler {
  return async (req) => {
    const request = toRequest(req);
    const info: ServeHandlerInfo = {
      remoteAddr: remoteAddrOf(req),
      completed: Promise.resolve(),
    };
    return await settle(await handler(request, info), req);
  };
}
