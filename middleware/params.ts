/**
 * Query-string and urlencoded form parameters for Ring handlers.
 *
 * @module
 */

import type { RingRequest } from "../server/types.ts";
import type { HandlerResult } from "./compose.ts";

/**
 * Parameters by name; a repeated name gives an array, in order.
 *
 * @example One value or many
 * ```ts
 * import { type ParamMap, parseParams } from "@httpkit/httpkit";
 *
 * const params: ParamMap = parseParams("tag=a&tag=b&q=deno");
 * const tags = ([] as string[]).concat(params.tag ?? []);
 * console.assert(tags.length === 2 && params.q === "deno");
 * ```
 */
export type ParamMap = Record<string, string | string[]>;

/**
 * A request map after {@linkcode wrapParams}.
 *
 * @example Form parameters win over the query
 * ```ts
 * import {
 *   type ParamsRequest,
 *   toResponse,
 *   toRingRequest,
 *   wrapParams,
 * } from "@httpkit/httpkit";
 *
 * const search = (req: ParamsRequest) => ({
 *   body: `${req.queryParams.q} ${req.formParams.q} ${req.params.q}`,
 * });
 * const req = await toRingRequest(
 *   new Request("http://localhost/search?q=query", {
 *     method: "POST",
 *     body: new URLSearchParams({ q: "form" }),
 *   }),
 * );
 * const res = toResponse(await wrapParams(search)(req));
 * console.assert((await res.text()) === "query form form");
 * ```
 */
export interface ParamsRequest extends RingRequest {
  /** Parameters of the query string. */
  queryParams: ParamMap;
  /** Parameters of an `application/x-www-form-urlencoded` body. */
  formParams: ParamMap;
  /** Both, form parameters winning over query parameters of the same name. */
  params: ParamMap;
}

/**
 * Parses `+` and `%XX` encoded `name=value` pairs. Bad escapes are kept
 * as they are rather than failing the request.
 *
 * @param text A query string or urlencoded body.
 * @returns The parameters.
 *
 * @example
 * ```ts
 * import { parseParams } from "@httpkit/httpkit";
 *
 * const p = parseParams("a=1&a=2&b=x+y");
 * console.assert(JSON.stringify(p) === '{"a":["1","2"],"b":"x y"}');
 * ```
 */
export function parseParams(text: string | null): ParamMap {
  const out: ParamMap = {};
  if (text === null || text === "") return out;
  for (const [name, value] of new URLSearchParams(text)) {
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (typeof prev === "string") out[name] = [prev, value];
    else prev.push(value);
  }
  return out;
}

/**
 * Middleware that adds `queryParams`, `formParams` (for
 * `application/x-www-form-urlencoded` bodies, decoded as UTF-8) and `params`
 * (both merged) to the request map.
 *
 * @param handler The handler to wrap; it gets a {@linkcode ParamsRequest}.
 * @returns The wrapped handler.
 *
 * @example
 * ```ts
 * import { runServer, wrapParams } from "@httpkit/httpkit";
 *
 * const server = runServer(
 *   wrapParams((req) => ({ body: JSON.stringify(req.params) })),
 *   { ip: "127.0.0.1", port: 0 },
 * );
 * const res = await fetch(`http://127.0.0.1:${server.port}/?a=1&a=2`, {
 *   method: "POST",
 *   body: new URLSearchParams({ b: "x y" }),
 * });
 * console.assert((await res.text()) === '{"a":["1","2"],"b":"x y"}');
 * await server.stop();
 * ```
 */
export function wrapParams(
  handler: (req: ParamsRequest) => HandlerResult,
): (req: RingRequest) => HandlerResult {
  return (req) => {
    const r = req as ParamsRequest;
    r.queryParams = parseParams(req.queryString);
    r.formParams = req.contentType === "application/x-www-form-urlencoded" &&
        req.body !== null
      ? parseParams(new TextDecoder().decode(req.body))
      : {};
    r.params = { ...r.queryParams, ...r.formParams };
    return handler(r);
  };
}
