// The response side of the client's plain data: the response and error
// maps a request resolves to, their body types following `as`.

import type { ClientError } from "./errors.ts";
import type { As, ResolvedOptions } from "./types.ts";

/**
 * The type of a response body for an `as` value: `string` for `"text"`,
 * `Uint8Array` for `"bytes"`, `ReadableStream<Uint8Array>` for `"stream"`,
 * `null` for `"none"`, `unknown` for `"json"` (check its shape, or cast), and
 * `string | Uint8Array | null` for `"auto"` or no `as` (null when the
 * response has no body). When `as` is only known as {@linkcode As} the body
 * is `unknown`.
 *
 * @example The body typed by the literal `as`
 * ```ts
 * import { get, type ResponseBodyOf } from "@httpkit/httpkit";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("typed"),
 * );
 * const res = await get(`http://127.0.0.1:${server.addr.port}/`, {
 *   as: "text",
 *   keepalive: -1,
 * });
 * if (!res.error) {
 *   const text: ResponseBodyOf<"text"> = res.body; // a string, no cast
 *   console.assert(text.toUpperCase() === "TYPED");
 * }
 * await server.shutdown();
 * ```
 */
export type ResponseBodyOf<A extends As | undefined> = [As] extends [A]
  ? unknown
  : A extends "text" ? string
  : A extends "bytes" ? Uint8Array
  : A extends "stream" ? ReadableStream<Uint8Array>
  : A extends "none" ? null
  : A extends "json" ? unknown
  : string | Uint8Array | null;

/**
 * The bodies `as` can give other than `"json"` (whose value is whatever the
 * JSON holds): a union to narrow a body of any of those kinds.
 *
 * @example Text from any body
 * ```ts
 * import { get, type ResponseBodyValue } from "@httpkit/httpkit";
 *
 * async function textOf(body: ResponseBodyValue): Promise<string> {
 *   if (body === null) return "";
 *   if (typeof body === "string") return body;
 *   if (body instanceof Uint8Array) return new TextDecoder().decode(body);
 *   const decoder = new TextDecoder();
 *   let text = "";
 *   for await (const chunk of body) text += decoder.decode(chunk, { stream: true });
 *   return text + decoder.decode();
 * }
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response(ReadableStream.from(["stre", "amed"]).pipeThrough(new TextEncoderStream())),
 * );
 * const res = await get(`http://127.0.0.1:${server.addr.port}/`, {
 *   as: "stream",
 *   keepalive: -1,
 * });
 * if (res.error) throw res.error;
 * console.assert((await textOf(res.body)) === "streamed");
 * await server.shutdown();
 * ```
 */
export type ResponseBodyValue =
  | string
  | Uint8Array
  | ReadableStream<Uint8Array>
  | null;

/**
 * A response: status, lower-case headers (repeats joined) and body. `B` is
 * the body's type (see {@linkcode ResponseBodyOf}); without it, the body is
 * `unknown` (any response fits), to narrow with `typeof`/`instanceof`.
 *
 * @example Narrowing to a successful response
 * ```ts
 * import { get, type HttpResponse } from "@httpkit/httpkit";
 *
 * function summary(res: HttpResponse): string {
 *   return `${res.status} ${res.headers["content-type"]} ${res.body}`;
 * }
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("ok", { headers: { "content-type": "text/plain" } }),
 * );
 * const res = await get(`http://127.0.0.1:${server.addr.port}/`, { keepalive: -1 });
 * if (res.error) throw res.error;
 * console.assert(summary(res) === "200 text/plain ok");
 * await server.shutdown();
 * ```
 */
export interface HttpResponse<B = unknown> {
  /** The request options, resolved. */
  opts: ResolvedOptions;
  /** The HTTP status. */
  status: number;
  /** Header fields by lower-case name; repeated fields are joined with `,`. */
  headers: Record<string, string>;
  /** The body, shaped by `as` (see {@linkcode As} for responses without
   * one). */
  body: B;
  /** Never set on a success. */
  error?: undefined;
}

/**
 * A failed request. `error` is always a {@linkcode ClientError}; its `code`
 * says what failed. When the final response's head had arrived and its body
 * failed (`bad-json`, `body-too-large`, `idle-timeout` or
 * `connection-closed` while reading it, a broken gzip body...), `status` and
 * `headers` are that response's; otherwise (no response, or a redirect that
 * could not be followed) they are absent. `body` is never set: with
 * `bad-json` the start of the text is in the error message.
 *
 * @example Connection refused, and a body that is not JSON
 * ```ts
 * import { type ErrorResponse, get } from "@httpkit/httpkit";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.port;
 * listener.close(); // nothing listens there any more
 * const res = await get(`http://127.0.0.1:${port}/`);
 * if (res.error) {
 *   const failed: ErrorResponse = res;
 *   console.assert(failed.opts.url === `http://127.0.0.1:${port}/`);
 *   console.assert(failed.error.code === "connection-refused");
 *   console.assert(failed.status === undefined); // no response at all
 * } else console.assert(false, "expected an error");
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("<h1>Oops</h1>", { status: 502 }),
 * );
 * const api = await get(`http://127.0.0.1:${server.addr.port}/`, {
 *   as: "json",
 *   keepalive: -1,
 * });
 * if (api.error) {
 *   // The response came, its body is not JSON: status and headers come along.
 *   console.assert(api.error.code === "bad-json" && api.status === 502);
 * }
 * await server.shutdown();
 * ```
 */
export interface ErrorResponse {
  /** The request options, resolved as far as they got. */
  opts: ResolvedOptions;
  /** What went wrong. */
  error: ClientError;
  /** The final response's status, when its body is what failed. */
  status?: number;
  /** The final response's headers, when its body is what failed. */
  headers?: Record<string, string>;
  /** Never set on a failure. */
  body?: undefined;
}

/**
 * What `request` resolves to: a response or an error, never a rejection.
 * Test `error` to tell them apart. `B` is the body's type, which the
 * request functions work out from `as`; plain `ClientResponse` (body
 * `unknown`) is any response, as a parameter type for code that takes
 * responses of every kind.
 *
 * @example Handling both outcomes
 * ```ts
 * import { type ClientResponse, get } from "@httpkit/httpkit";
 *
 * function describe(res: ClientResponse): string {
 *   return res.error ? `failed: ${res.error.message}` : `status ${res.status}`;
 * }
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("ok"),
 * );
 * const ok = await get(`http://127.0.0.1:${server.addr.port}/`, { keepalive: -1 });
 * console.assert(describe(ok) === "status 200");
 * const bad = await get("not a url");
 * console.assert(describe(bad).startsWith("failed:"));
 * await server.shutdown();
 * ```
 */
export type ClientResponse<B = unknown> =
  | HttpResponse<B>
  | ErrorResponse;
