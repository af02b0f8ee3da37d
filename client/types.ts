// The plain-data shapes of the client: request options in, response map out.

import type { OutHeaders } from "../http1/serialize.ts";

/** A value in `queryParams` or `formParams`: scalars, arrays, nested maps. */
export type ParamValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | readonly ParamValue[]
  | { readonly [key: string]: ParamValue };

/** A map of query or form parameters. */
export type Params = Readonly<Record<string, ParamValue>>;

/** One part of a `multipart/form-data` body. */
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
 * How the response body is handed over:
 * - `"auto"` (default): a string for textual media types (`text/*`, JSON,
 *   XML, JavaScript, form data), a `Uint8Array` otherwise;
 * - `"text"`: always a string, decoded with the Content-Type charset (UTF-8
 *   by default);
 * - `"bytes"`: always a `Uint8Array`;
 * - `"stream"`: a `ReadableStream<Uint8Array>` that delivers the body as it
 *   arrives (the response resolves as soon as the head is read);
 * - `"none"`: the body is read and dropped; `body` is `null`.
 */
export type As = "auto" | "text" | "bytes" | "stream" | "none";

/** How arrays in `queryParams`/`formParams` are written. */
export type MultiParamStyle = "repeat" | "array" | "indexed";

/** Options of one request, http-kit's option map in camelCase. */
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

/** The options a response carries back: the caller's, with the final URL,
 * upper-case method and the URLs of the redirects followed. */
export interface ResolvedOptions extends RequestOptions {
  /** The URL of the last request, as a string. */
  url: string;
  /** The method of the last request, upper-case. */
  method: string;
  /** Every URL requested, in order, when redirects were followed. */
  traceRedirects?: string[];
}

/** What a successful response's body may be, depending on `as`. */
export type ResponseBodyValue =
  | string
  | Uint8Array
  | ReadableStream<Uint8Array>
  | null;

/** A response: status, lower-case headers (repeats joined) and body. */
export interface HttpResponse {
  /** The request options, resolved. */
  opts: ResolvedOptions;
  /** The HTTP status. */
  status: number;
  /** Header fields by lower-case name; repeated fields are joined with `,`. */
  headers: Record<string, string>;
  /** The body, shaped by `as`; `null` for HEAD, 204, 205, 304 and `as:
   * "none"`. */
  body: ResponseBodyValue;
  /** Never set on a success. */
  error?: undefined;
}

/** A failed request: no status, only the error. */
export interface ErrorResponse {
  /** The request options, resolved as far as they got. */
  opts: ResolvedOptions;
  /** What went wrong. */
  error: Error;
  /** Never set on a failure. */
  status?: undefined;
  /** Never set on a failure. */
  headers?: undefined;
  /** Never set on a failure. */
  body?: undefined;
}

/** What `request` resolves to: a response or an error, never a rejection. */
export type ClientResponse = HttpResponse | ErrorResponse;

/** Options of a client and its connection pool. */
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
