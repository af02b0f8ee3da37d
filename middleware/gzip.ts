/**
 * gzip compression of response bodies for Ring handlers.
 *
 * @module
 */

import type { Handler, RingRequest, RingResponse } from "../server/types.ts";
import { headersOf, responseHeader } from "./_headers.ts";

/**
 * Options of {@linkcode wrapGzip}.
 *
 * @example A lower threshold
 * ```ts
 * import {
 *   type GzipOptions,
 *   toResponse,
 *   toRingRequest,
 *   wrapGzip,
 * } from "@httpkit/httpkit";
 *
 * const gzipOptions: GzipOptions = { threshold: 64 };
 * const app = wrapGzip(
 *   (req) => ({
 *     headers: { "content-type": "text/plain" },
 *     body: "z".repeat(Number(req.queryString)),
 *   }),
 *   gzipOptions,
 * );
 * const ask = async (size: number) =>
 *   toResponse(
 *     await app(
 *       await toRingRequest(
 *         new Request(`http://x/?${size}`, { headers: { "accept-encoding": "gzip" } }),
 *       ),
 *     ),
 *   );
 * const small = await ask(10);
 * console.assert(small.headers.get("content-encoding") === null);
 * console.assert((await small.text()) === "z".repeat(10));
 * const large = await ask(100);
 * console.assert(large.headers.get("content-encoding") === "gzip");
 * await large.body?.cancel();
 * ```
 */
export interface GzipOptions {
  /** Bodies smaller than this many bytes go out as they are. Default 860. */
  threshold?: number;
}

const COMPRESSIBLE =
  /^(text\/|application\/(json|javascript|ecmascript|xml|wasm|x-www-form-urlencoded)|application\/[^;]*\+(json|xml)|image\/svg\+xml)/i;

/**
 * Whether an Accept-Encoding value allows gzip (a `q=0` refuses it; `*`
 * allows it unless gzip is refused by name).
 *
 * @param header The Accept-Encoding value.
 * @returns True when a gzip body is acceptable.
 *
 * @example
 * ```ts
 * import { acceptsGzip } from "@httpkit/httpkit";
 *
 * console.assert(acceptsGzip("gzip, br"));
 * console.assert(!acceptsGzip("*, gzip;q=0"));
 * ```
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  let star = false;
  for (const part of header.split(",")) {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p);
      if (m !== null) q = Number(m[1]);
    }
    const name = coding.trim();
    if (name === "gzip" || name === "x-gzip") return q > 0;
    if (name === "*") star = q > 0;
  }
  return star;
}

async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return await new Response(stream).bytes();
}

/**
 * Middleware that gzips response bodies when the request's Accept-Encoding
 * allows it, with `Vary: Accept-Encoding` on every response that could be
 * compressed. Only string and byte bodies of a compressible type (text,
 * JSON, JavaScript, XML, SVG) at least `threshold` long are compressed;
 * streams, files, responses that already have a Content-Encoding, partial
 * content and HEAD requests pass through.
 *
 * @param handler The handler to wrap.
 * @param options The size threshold.
 * @returns The wrapped handler.
 *
 * @example
 * ```ts
 * import { runServer, wrapGzip } from "@httpkit/httpkit";
 *
 * const server = runServer(
 *   wrapGzip(() => ({ headers: { "content-type": "text/plain" }, body: "z".repeat(5000) })),
 *   { ip: "127.0.0.1", port: 0 },
 * );
 * const res = await fetch(`http://127.0.0.1:${server.port}/`); // fetch asks for gzip
 * console.assert(res.headers.get("content-encoding") === "gzip");
 * console.assert((await res.text()) === "z".repeat(5000));
 * await server.stop();
 * ```
 */
export function wrapGzip(handler: Handler, options?: GzipOptions): Handler {
  options ??= {};
  const threshold = options.threshold ?? 860;
  return async (req: RingRequest) => {
    const res = await handler(req);
    if (res === null || res === undefined || res.status === 101) return res;
    const status = res.status ?? 200;
    let body = res.body;
    if (body instanceof ArrayBuffer) body = new Uint8Array(body);
    if (
      status < 200 || status === 204 || status === 206 || status === 304 ||
      !(typeof body === "string" || body instanceof Uint8Array) ||
      !COMPRESSIBLE.test(responseHeader(res, "content-type") ?? "") ||
      responseHeader(res, "content-encoding") !== null
    ) return res;
    const headers = headersOf(res);
    const vary = headers.get("vary");
    if (vary === null) headers.set("vary", "Accept-Encoding");
    else if (!/(^|,)\s*(accept-encoding|\*)\s*(,|$)/i.test(vary)) {
      headers.set("vary", `${vary}, Accept-Encoding`);
    }
    const bytes = typeof body === "string"
      ? new TextEncoder().encode(body)
      : body;
    if (
      req.requestMethod === "head" || bytes.length < threshold ||
      !acceptsGzip(req.headers["accept-encoding"])
    ) return { ...res, headers, body: bytes } as RingResponse;
    headers.set("content-encoding", "gzip");
    headers.delete("content-length");
    const etag = headers.get("etag");
    if (etag !== null && !etag.startsWith("W/")) {
      // the compressed body is a different representation
      headers.set("etag", etag.replace(/"$/, '-gzip"'));
    }
    return { ...res, headers, body: await gzip(bytes) } as RingResponse;
  };
}
