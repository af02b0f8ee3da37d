// The plain-data shapes of the client's requests: request options and their
// parts, and the options of a client (responses are in response.ts).

import type { OutHeaders } from "../http1/serialize.ts";

/**
 * How the response body is handed over:
 * - `"auto"` (default): a string for textual media types (`text/*`, JSON,
 *   XML, JavaScript, form data), a `Uint8Array` otherwise;
 * - `"text"`: always a string, decoded with the Content-Type charset (UTF-8
 *   by default);
 * - `"json"`: the text (decoded as for `"text"`) parsed as JSON; a body that
 *   is not JSON is an error value with code `bad-json`;
 * - `"bytes"`: always a `Uint8Array`;
 * - `"stream"`: a `ReadableStream<Uint8Array>` that delivers the body as it
 *   arrives (the response resolves as soon as the head is read);
 * - `"none"`: the body is read and dropped; `body` is `null`.
 *
 * A response without a body (to HEAD, 1xx, 204, 304) gets the empty value of
 * the type `as` promises: `""`, an empty `Uint8Array` or an empty stream;
 * `null` for `"auto"`, `"json"` and `"none"`. TypeScript follows `as`: see
 * {@linkcode ResponseBodyOf}.
 *
 * @example The same body as text, bytes, JSON and nothing
 * ```ts
 * import { type As, get } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => Response.json({ n: 1 }),
 * );
 * const url = `http://127.0.0.1:${server.addr.port}/`;
 * const kinds: As[] = ["text", "bytes", "json", "none"];
 * const bodies = await Promise.all(
 *   kinds.map(async (as) => (await get(url, { as, keepalive: -1 })).body),
 * );
 * console.assert(bodies[0] === '{"n":1}');
 * console.assert(bodies[1] instanceof Uint8Array && bodies[1].length === 7);
 * console.assert((bodies[2] as { n: number }).n === 1);
 * console.assert(bodies[3] === null);
 * await server.shutdown();
 * ```
 */
export type As = "auto" | "text" | "bytes" | "stream" | "none" | "json";

/**
 * A value in `queryParams` or `formParams`: scalars, arrays, nested maps.
 *
 * @example Scalars, arrays and nested maps
 * ```ts
 * import { get, type ParamValue } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   (req) => new Response(decodeURIComponent(new URL(req.url).search)),
 * );
 * const page: ParamValue = 2;
 * const filter: ParamValue = { tag: ["a", "b"], draft: false, owner: null };
 * const res = await get(`http://127.0.0.1:${server.addr.port}/`, {
 *   queryParams: { page, filter },
 *   keepalive: -1,
 * });
 * // null and undefined values are left out
 * console.assert(res.body === "?page=2&filter[tag]=a&filter[tag]=b&filter[draft]=false");
 * await server.shutdown();
 * ```
 */
export type ParamValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | readonly ParamValue[]
  | { readonly [key: string]: ParamValue };

/**
 * A map of query or form parameters.
 *
 * @example A form post
 * ```ts
 * import { type Params, post } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   async (req) => new Response(`${req.headers.get("content-type")} ${await req.text()}`),
 * );
 * const form: Params = { user: "ann lee", roles: ["admin", "dev"] };
 * const res = await post(`http://127.0.0.1:${server.addr.port}/`, {
 *   formParams: form,
 *   keepalive: -1,
 * });
 * console.assert(
 *   res.body === "application/x-www-form-urlencoded user=ann+lee&roles=admin&roles=dev",
 * );
 * await server.shutdown();
 * ```
 */
export type Params = Readonly<Record<string, ParamValue>>;

/**
 * One part of a `multipart/form-data` body.
 *
 * @example A field and a file
 * ```ts
 * import { type MultipartPart, post } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   async (req) => {
 *     const form = await req.formData();
 *     const file = form.get("photo") as File;
 *     return new Response(`${form.get("title")} ${file.name} ${file.size}`);
 *   },
 * );
 * const parts: MultipartPart[] = [
 *   { name: "title", content: "Holiday" },
 *   {
 *     name: "photo",
 *     content: new Uint8Array([1, 2, 3]),
 *     filename: "beach.jpg",
 *     contentType: "image/jpeg",
 *   },
 * ];
 * const res = await post(`http://127.0.0.1:${server.addr.port}/`, {
 *   multipart: parts,
 *   keepalive: -1,
 * });
 * console.assert(res.body === "Holiday beach.jpg 3");
 * await server.shutdown();
 * ```
 */
export interface MultipartPart {
  /** The form field name. */
  name: string;
  /** The part's content; a string is sent as UTF-8. */
  content: string | Uint8Array | Blob;
  /** A file name, sent in Content-Disposition. */
  filename?: string;
  /** The part's Content-Type (defaults to `application/octet-stream` for a
   * file part, none for a plain field). */
  contentType?: string;
}

/**
 * What a request body may be. Strings go out as UTF-8. Byte arrays, Blobs and
 * files are sent with a Content-Length; streams and iterables are uploaded
 * chunked as they come (or with the caller's own Content-Length header),
 * never buffered whole. A `Deno.FsFile` is read to its end and closed.
 *
 * @example Uploading from a generator (chunked)
 * ```ts
 * import { put, type RequestBody } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   async (req) => new Response(await req.text()),
 * );
 * async function* lines() {
 *   yield "first\n";
 *   yield "second\n";
 * }
 * const body: RequestBody = lines();
 * const res = await put(`http://127.0.0.1:${server.addr.port}/log`, {
 *   body,
 *   keepalive: -1,
 * });
 * console.assert(res.body === "first\nsecond\n");
 * await server.shutdown();
 * ```
 */
export type RequestBody =
  | string
  | Uint8Array
  | ArrayBuffer
  | Blob
  | URLSearchParams
  | ReadableStream<Uint8Array | string>
  | Iterable<Uint8Array | string>
  | AsyncIterable<Uint8Array | string>
  | Deno.FsFile
  | null
  | undefined;

/**
 * How arrays in `queryParams`/`formParams` are written.
 *
 * @example Arrays written PHP-style
 * ```ts
 * import { get, type MultiParamStyle } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   (req) => new Response(decodeURIComponent(new URL(req.url).search)),
 * );
 * const style: MultiParamStyle = "array";
 * const res = await get(`http://127.0.0.1:${server.addr.port}/`, {
 *   queryParams: { id: [1, 2] },
 *   multiParamStyle: style,
 *   keepalive: -1,
 * });
 * console.assert(res.body === "?id[]=1&id[]=2");
 * await server.shutdown();
 * ```
 */
export type MultiParamStyle = "repeat" | "array" | "indexed";

/**
 * Options of one request, http-kit's option map in camelCase.
 *
 * @example An authenticated JSON request
 * ```ts
 * import { request, type RequestOptions } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   (req) =>
 *     Response.json({
 *       auth: req.headers.get("authorization"),
 *       url: new URL(req.url).search,
 *     }),
 * );
 * const opts: RequestOptions = {
 *   url: `http://127.0.0.1:${server.addr.port}/api`,
 *   method: "get",
 *   headers: { accept: "application/json" },
 *   queryParams: { q: "deno" },
 *   oauthToken: "t0k3n",
 *   timeout: 5000,
 *   keepalive: -1,
 * };
 * const res = await request(opts);
 * console.assert(res.body === '{"auth":"Bearer t0k3n","url":"?q=deno"}');
 * await server.shutdown();
 * ```
 */
export interface RequestOptions {
  /** The URL to request, `http:` or `https:`. */
  url?: string | URL;
  /** The method, any case (`"get"`, `"POST"`, `"propfind"`...); default GET. */
  method?: string;
  /** Request headers; an array value is sent as repeated lines. Values with
   * CR, LF or other control bytes are refused. */
  headers?: OutHeaders;
  /** Parameters appended to the URL's query. */
  queryParams?: Params;
  /** Parameters sent as an `application/x-www-form-urlencoded` body. */
  formParams?: Params;
  /** How array values in params are written: `a=1&a=2` (`"repeat"`, the
   * default), `a[]=1&a[]=2` (`"array"`) or `a[0]=1&a[1]=2` (`"indexed"`).
   * Nested maps are always written as `a[b]=1`. */
  multiParamStyle?: MultiParamStyle;
  /** Parts of a `multipart/form-data` body. */
  multipart?: readonly MultipartPart[];
  /** The request body. */
  body?: RequestBody;
  /** Basic authentication, as `[user, password]` or `"user:password"`. */
  basicAuth?: readonly [string, string] | string;
  /** A bearer token, sent as `Authorization: Bearer <token>`. */
  oauthToken?: string;
  /** The User-Agent header (a `user-agent` in `headers` wins). */
  userAgent?: string;
  /** Default for both `connectTimeout` and `idleTimeout`, in ms. */
  timeout?: number;
  /** Time allowed to get a connection (queueing, TCP, TLS, proxy), in ms;
   * default 60000. */
  connectTimeout?: number;
  /** Longest wait for the server to accept or send bytes, in ms; default
   * 60000. */
  idleTimeout?: number;
  /** How long an idle connection stays pooled for reuse, in ms; default
   * 120000. `-1` sends `Connection: close` and never pools. */
  keepalive?: number;
  /** How the response body is delivered; default `"auto"`. */
  as?: As;
  /** Follow 301, 302, 303, 307 and 308 responses; default `true`. */
  followRedirects?: boolean;
  /** Redirects to follow before failing; default 10. */
  maxRedirects?: number;
  /** Largest body accepted, in bytes, counted after decompression; default
   * no limit. */
  maxBody?: number;
  /** Ask for gzip/deflate and decode them; default `true`. */
  autoCompression?: boolean;
  /**
   * Skip the check that the certificate names the host. Deno cannot turn off
   * certificate chain verification per connection: for a self-signed or
   * private CA pass it in `caCerts`, or run Deno with
   * `--unsafely-ignore-certificate-errors`.
   */
  insecure?: boolean;
  /** Extra trusted root certificates, in PEM. */
  caCerts?: readonly string[];
  /**
   * Connect to this Unix domain socket path instead of the URL's host and
   * port (the URL still gives the Host header and the path), as to a server
   * behind a local socket.
   */
  unixSocket?: string;
  /** An `http://[user:password@]host:port` proxy. Plain HTTP requests use
   * absolute-form targets; HTTPS requests tunnel through `CONNECT`. */
  proxyUrl?: string;
  /** Aborts the request (connection, upload or response body). */
  signal?: AbortSignal;
}

/**
 * The options a response carries back: the caller's, with the final URL,
 *
 * @example Where redirects led
 * ```ts
 * import { get, type ResolvedOptions } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   (req) =>
 *     new URL(req.url).pathname === "/old"
 *       ? new Response(null, { status: 302, headers: { location: "/new" } })
 *       : new Response("moved here"),
 * );
 * const base = `http://127.0.0.1:${server.addr.port}`;
 * const res = await get(`${base}/old`, { keepalive: -1 });
 * const resolved: ResolvedOptions = res.opts;
 * console.assert(resolved.url === `${base}/new` && resolved.method === "GET");
 * console.assert(resolved.traceRedirects?.join() === `${base}/old,${base}/new`);
 * await server.shutdown();
 * ```
 */
export interface ResolvedOptions extends RequestOptions {
  /** The URL of the last request, as a string. */
  url: string;
  /** The method of the last request, upper-case. */
  method: string;
  /** Every URL requested, in order, when redirects were followed. */
  traceRedirects?: string[];
}

/**
 * Options of a client and its connection pool.
 *
 * @example A client of its own
 * ```ts
 * import { type ClientOptions, HttpClient, request } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   (req) => new Response(req.headers.get("user-agent")),
 * );
 * const clientOptions: ClientOptions = { maxConnections: 4, userAgent: "my-app/1.0" };
 * const client = new HttpClient(clientOptions);
 * const res = await request({ url: `http://127.0.0.1:${server.addr.port}/`, client });
 * console.assert(res.body === "my-app/1.0");
 * client.close(); // drop the pooled connection
 * await server.shutdown();
 * ```
 */
export interface ClientOptions {
  /** Most connections open at once per (host, port, TLS, proxy); further
   * requests queue. Default: no limit. */
  maxConnections?: number;
  /** Longest status or header line accepted, in bytes; default 8192. */
  maxLine?: number;
  /** Largest response head accepted, in bytes; default 65536. */
  maxHeaderBytes?: number;
  /** Default User-Agent; default `httpkit-deno`. */
  userAgent?: string;
}
