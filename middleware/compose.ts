/**
 * Composing Ring middleware.
 *
 * @module
 */

import type { Handler, RingRequest, RingResponse } from "../server/types.ts";

/** What a Ring handler may return. */
export type HandlerResult =
  | RingResponse
  | null
  | undefined
  | void
  | Promise<RingResponse | null | undefined | void>;

/** Ring middleware: takes a handler, returns a handler that wraps it. */
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
