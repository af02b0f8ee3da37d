/**
 * Composing Ring middleware.
 *
 * @module
 */

import type { Handler, RingRequest, RingResponse } from "../server/types.ts";

/**
 * What a Ring handler may return.
 *
 * @example Sync, async and no answer
 * ```ts
 * import {
 *   type HandlerResult,
 *   type RingRequest,
 *   toResponse,
 *   toRingRequest,
 * } from "@httpkit/httpkit";
 *
 * const routes: Record<string, (req: RingRequest) => HandlerResult> = {
 *   "/": () => ({ body: "home" }),
 *   "/later": async () => ({ status: 202, body: "later" }),
 * };
 * // null (or undefined) lets the server answer 404
 * const dispatch = (req: RingRequest): HandlerResult =>
 *   routes[req.uri]?.(req) ?? null;
 *
 * const later = await dispatch(await toRingRequest(new Request("http://x/later")));
 * console.assert(later?.status === 202);
 * const none = await dispatch(await toRingRequest(new Request("http://x/none")));
 * console.assert(toResponse(none).status === 404);
 * ```
 */
export type HandlerResult =
  | RingResponse
  | null
  | undefined
  | void
  | Promise<RingResponse | null | undefined | void>;

/**
 * Ring middleware: takes a handler, returns a handler that wraps it.
 *
 * @example A fallback for unanswered requests
 * ```ts
 * import {
 *   compose,
 *   type Middleware,
 *   type ParamsRequest,
 *   toResponse,
 *   toRingRequest,
 *   wrapParams,
 * } from "@httpkit/httpkit";
 *
 * const notFound: Middleware = (handler) => async (req) =>
 *   (await handler(req)) ?? { status: 404, body: `no route for ${req.uri}` };
 *
 * const app = compose(notFound, wrapParams)((req: ParamsRequest) =>
 *   req.uri === "/hi" ? { body: `hi ${req.params.name}` } : null
 * );
 * const hi = await app(await toRingRequest(new Request("http://x/hi?name=ann")));
 * console.assert(hi?.body === "hi ann");
 * const res = toResponse(await app(await toRingRequest(new Request("http://x/no"))));
 * console.assert(res.status === 404 && (await res.text()) === "no route for /no");
 * ```
 */
export type Middleware = (handler: Handler) => Handler;

/**
 * Chains middleware around a handler: `compose(a, b, c)(h)` is
 * `a(b(c(h)))`, so `a` sees the request first and the response last.
 * Middleware that take options go in as a small function, e.g.
 * `(h) => wrapStatic(h, "public")`.
 *
 * @param middleware Middleware, outermost first.
 * @returns A function that wraps a handler in all of them. The handler may
 * declare the richer request type the middleware provide, for example
 * `(req: ParamsRequest) => ...`.
 *
 * @example Params and cookies
 * ```ts
 * import { compose, wrapCookies, wrapParams } from "@httpkit/httpkit";
 * import type { CookiesRequest, ParamsRequest } from "@httpkit/httpkit";
 *
 * const app = compose(wrapParams, wrapCookies)(
 *   (req: ParamsRequest & CookiesRequest) => ({
 *     body: `${req.params.name} ${req.cookies.theme}`,
 *   }),
 * );
 * const res = await app({
 *   serverPort: 80, serverName: "x", remoteAddr: "", uri: "/", scheme: "http",
 *   queryString: "name=ann", requestMethod: "get", protocol: "HTTP/1.1",
 *   headers: { cookie: "theme=dark" }, contentType: null, contentLength: null,
 *   characterEncoding: null, body: null, websocket: false,
 * });
 * console.assert(res?.body === "ann dark");
 * ```
 */
export function compose(
  ...middleware: Middleware[]
): <R extends RingRequest>(handler: (req: R) => HandlerResult) => Handler {
  return (handler) => {
    let h = handler as unknown as Handler;
    for (let i = middleware.length - 1; i >= 0; i--) h = middleware[i](h);
    return h;
  };
}
