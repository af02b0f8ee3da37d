/**
 * The HTTP/1.1 client, after http-kit's: plain option maps in, plain
 * response maps out, a keep-alive pool per host, redirects, gzip/deflate,
 * streaming both ways, HTTP proxies (CONNECT for HTTPS). A request's promise
 * never rejects: failures come back as `{ opts, error }`.
 *
 * ```ts
 * import { get } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => Response.json({ ok: true }),
 * );
 * const res = await get(`http://127.0.0.1:${server.addr.port}/`, {
 *   keepalive: -1,
 * });
 * if (res.error) console.error(res.error.message);
 * else console.log(res.status, res.body); // 200 '{"ok":true}'
 * await server.shutdown();
 * ```
 *
 * @module
 */

import { HttpClient } from "./client.ts";
import { ClientError } from "./errors.ts";
import type {
  ClientResponse,
  ErrorResponse,
  ResponseBodyOf,
} from "./response.ts";
import type { As, RequestOptions } from "./types.ts";

export { HttpClient } from "./client.ts";
export { ClientError, type ClientErrorCode } from "./errors.ts";
export type { HeaderValue, OutHeaders } from "../http1/serialize.ts";
export type {
  ClientResponse,
  ErrorResponse,
  HttpResponse,
  ResponseBodyOf,
  ResponseBodyValue,
} from "./response.ts";
export type {
  As,
  ClientOptions,
  MultiParamStyle,
  MultipartPart,
  Params,
  ParamValue,
  RequestBody,
  RequestOptions,
  ResolvedOptions,
} from "./types.ts";

/**
 * The client the module functions use when `options.client` is not given.
 * Call `defaultClient.close()` to drop its idle keep-alive connections.
 *
 * @example Dropping idle connections
 * ```ts
 * import { defaultClient } from "@httpkit/httpkit";
 *
 * defaultClient.close();
 * ```
 */
export const defaultClient: HttpClient = new HttpClient();

/**
 * Options of the module functions: a request plus the client to use.
 *
 * @example Sending through a client of one's own
 * ```ts
 * import { HttpClient, request, type RequestOptionsWithClient } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("pooled"),
 * );
 * const client = new HttpClient({ maxConnections: 1 });
 * const opts: RequestOptionsWithClient = {
 *   url: `http://127.0.0.1:${server.addr.port}/`,
 *   client,
 * };
 * const first = await request(opts);
 * const second = await request(opts); // reuses the idle connection
 * console.assert(first.body === "pooled" && second.body === "pooled");
 * client.close();
 * await server.shutdown();
 * ```
 */
export interface RequestOptionsWithClient extends RequestOptions {
  /** The client (and so the pool) to use; default {@linkcode defaultClient}. */
  client?: HttpClient;
}

/**
 * A response callback; its return value becomes the promise's value. `B` is
 * the body's type, which follows the request's `as` (a `Callback<T>` takes
 * any response).
 *
 * @example Turning a response into a value
 * ```ts
 * import { type Callback, get } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => Response.json({ count: 3 }),
 * );
 * const countOf: Callback<number> = (res) => {
 *   if (res.error) return -1;
 *   return JSON.parse(res.body as string).count;
 * };
 * const count = await get(`http://127.0.0.1:${server.addr.port}/`, {
 *   keepalive: -1,
 * }, countOf);
 * console.assert(count === 3);
 * await server.shutdown();
 * ```
 */
export type Callback<T, B = unknown> = (
  res: ClientResponse<B>,
) => T | Promise<T>;

/**
 * Request options whose `as` is the literal `A`: what lets the response's
 * body type follow `as` (see {@linkcode ResponseBodyOf}).
 *
 * @example Options kept in a variable, with their `as`
 * ```ts
 * import { request, type RequestOptionsAs } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response(new Uint8Array([7])),
 * );
 * const opts: RequestOptionsAs<"bytes"> = {
 *   url: `http://127.0.0.1:${server.addr.port}/`,
 *   as: "bytes",
 *   keepalive: -1,
 * };
 * const res = await request(opts);
 * if (!res.error) console.assert(res.body[0] === 7); // res.body: Uint8Array
 * await server.shutdown();
 * ```
 */
export type RequestOptionsAs<A extends As | undefined> =
  & RequestOptionsWithClient
  & { as?: A };

/**
 * Sends a request. The promise never rejects: errors (connection refused,
 * DNS, TLS, timeouts, too many redirects, bad URL...) resolve to
 * `{ opts, error }`. With a callback, the promise resolves to what the
 * callback returns, or to `{ opts, error }` when the callback throws.
 *
 * @param options The request options; `url` is required.
 * @param callback Optional handler of the response.
 * @returns The response map, the error map, or the callback's value.
 *
 * @example A POST with form parameters
 * ```ts
 * import { request } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   async (req) => new Response(await req.text()),
 * );
 * const res = await request({
 *   url: `http://127.0.0.1:${server.addr.port}/form`,
 *   method: "post",
 *   formParams: { q: "a b", tags: ["x", "y"] },
 *   keepalive: -1,
 * });
 * console.log(res.body); // "q=a+b&tags=x&tags=y"
 * await server.shutdown();
 * ```
 */
export function request<A extends As | undefined = undefined>(
  options: RequestOptionsAs<A>,
): Promise<ClientResponse<ResponseBodyOf<A>>>;
/**
 * Sends a request and hands the response to `callback`; resolves to the
 * callback's value, or to `{ opts, error }` (code `callback`) when the
 * callback throws.
 *
 * @param options The request options; `url` is required.
 * @param callback Handler of the response.
 * @returns The callback's value, or the error map.
 */
export function request<T, A extends As | undefined = undefined>(
  options: RequestOptionsAs<A>,
  callback: Callback<T, ResponseBodyOf<A>>,
): Promise<T | ErrorResponse>;
export function request<T>(
  options: RequestOptionsWithClient,
  callback?: Callback<T, unknown>,
): Promise<T | ClientResponse<unknown>> {
  let client: HttpClient;
  try {
    client = options.client ?? defaultClient;
  } catch (e) {
    return Promise.reject(e);
  }
  // No callback: the client's promise as is (no async layer on top).
  if (callback === undefined) return client.request(options);
  return withCallback(client, options, callback);
}

async function withCallback<T>(
  client: HttpClient,
  options: RequestOptionsWithClient,
  callback: Callback<T, unknown>,
): Promise<T | ErrorResponse> {
  const res = await client.request(options);
  try {
    return await callback(res);
  } catch (e) {
    // The thrown value stays reachable as the cause, its message as ours.
    const message = e instanceof Error ? e.message : String(e);
    return { opts: res.opts, error: new ClientError("callback", message, e) };
  }
}

function verb(method: string): VerbFunction {
  const call = <T>(
    url: string | URL,
    options?: RequestOptionsWithClient,
    callback?: Callback<T, unknown>,
  ): Promise<T | ClientResponse<unknown>> => {
    const o = { ...options, url, method };
    return callback === undefined ? request(o) : request(o, callback);
  };
  // The overloads only add the body's type, which `request` works out.
  return call as VerbFunction;
}

/**
 * The shape of the verb helpers: `(url, options?, callback?)`.
 *
 * @example Picking the verb at run time
 * ```ts
 * import { del, get, post, put, type VerbFunction } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   (req) => new Response(req.method),
 * );
 * const verbs: Record<string, VerbFunction> = { get, post, put, delete: del };
 * const url = `http://127.0.0.1:${server.addr.port}/`;
 * for (const [name, send] of Object.entries(verbs)) {
 *   const res = await send(url, { keepalive: -1 });
 *   console.assert(res.body === name.toUpperCase());
 * }
 * await server.shutdown();
 * ```
 */
export interface VerbFunction {
  /** Sends the request; see {@linkcode request}. */
  <A extends As | undefined = undefined>(
    url: string | URL,
    options?: RequestOptionsAs<A>,
  ): Promise<ClientResponse<ResponseBodyOf<A>>>;
  /** Sends the request and hands the response to `callback`. */
  <T, A extends As | undefined = undefined>(
    url: string | URL,
    options: RequestOptionsAs<A> | undefined,
    callback: Callback<T, ResponseBodyOf<A>>,
  ): Promise<T | ErrorResponse>;
}

/**
 * Sends a GET request. Other methods: {@linkcode request} with `method`.
 *
 * @example Getting bytes with a callback
 * ```ts
 * import { get } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response(new Uint8Array([1, 2, 3])),
 * );
 * const size = await get(
 *   `http://127.0.0.1:${server.addr.port}/`,
 *   { as: "bytes", keepalive: -1 },
 *   (res) => res.error ? -1 : (res.body as Uint8Array).length,
 * );
 * console.log(size); // 3
 * await server.shutdown();
 * ```
 */
export const get: VerbFunction = verb("GET");

/**
 * Sends a POST request.
 *
 * @example Posting JSON
 * ```ts
 * import { post } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   async (req) => new Response(await req.text(), { status: 201 }),
 * );
 * const res = await post(`http://127.0.0.1:${server.addr.port}/`, {
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ a: 1 }),
 *   keepalive: -1,
 * });
 * console.log(res.status); // 201
 * await server.shutdown();
 * ```
 */
export const post: VerbFunction = verb("POST");

/**
 * Sends a PUT request.
 *
 * @example Uploading a stream (sent chunked)
 * ```ts
 * import { put } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   async (req) => new Response(String((await req.bytes()).length)),
 * );
 * const res = await put(`http://127.0.0.1:${server.addr.port}/`, {
 *   body: ReadableStream.from(["hello ", "world"]),
 *   keepalive: -1,
 * });
 * console.log(res.body); // "11"
 * await server.shutdown();
 * ```
 */
export const put: VerbFunction = verb("PUT");

/**
 * Sends a PATCH request.
 *
 * @example
 * ```ts
 * import { patch } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   (req) => new Response(req.method),
 * );
 * const res = await patch(`http://127.0.0.1:${server.addr.port}/`, {
 *   body: "x",
 *   keepalive: -1,
 * });
 * console.log(res.body); // "PATCH"
 * await server.shutdown();
 * ```
 */
export const patch: VerbFunction = verb("PATCH");

/**
 * Sends a DELETE request (`delete` is a reserved word).
 *
 * @example
 * ```ts
 * import { del } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response(null, { status: 204 }),
 * );
 * const res = await del(`http://127.0.0.1:${server.addr.port}/item/1`, {
 *   keepalive: -1,
 * });
 * console.log(res.status, res.body); // 204 null
 * await server.shutdown();
 * ```
 */
export const del: VerbFunction = verb("DELETE");

/**
 * Sends a HEAD request; the body is always `null`.
 *
 * @example
 * ```ts
 * import { head } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("abc"),
 * );
 * const res = await head(`http://127.0.0.1:${server.addr.port}/`, {
 *   keepalive: -1,
 * });
 * console.log(res.status, res.body); // 200 null
 * await server.shutdown();
 * ```
 */
export const head: VerbFunction = verb("HEAD");

/**
 * Sends an OPTIONS request.
 *
 * @example
 * ```ts
 * import { options } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response(null, { headers: { allow: "GET, HEAD" } }),
 * );
 * const res = await options(`http://127.0.0.1:${server.addr.port}/`, {
 *   keepalive: -1,
 * });
 * console.log(res.headers?.["allow"]); // "GET, HEAD"
 * await server.shutdown();
 * ```
 */
export const options: VerbFunction = verb("OPTIONS");
export { websocket } from "./websocket.ts";
export type { ClientChannel, WebSocketOptions } from "./websocket.ts";
