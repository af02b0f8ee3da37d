/**
 * A small router for Ring handlers, on `URLPattern` syntax.
 *
 * @module
 */

import type { RingRequest, RingResponse } from "../server/types.ts";
import { checkOptions } from "../_options.ts";
import { isToken } from "../http1/_chars.ts";
import type { HandlerResult } from "./compose.ts";

/**
 * A request map as a route's handler gets it: with the path parameters.
 *
 * @example Reading a path parameter
 * ```ts
 * import { router, type RouteRequest, toResponse, toRingRequest } from "@httpkit/httpkit";
 *
 * const show = (req: RouteRequest) => ({ body: `user ${req.pathParams.id}` });
 * const app = router([["GET", "/users/:id", show]]);
 * const req = await toRingRequest(new Request("http://localhost/users/ann%20b"));
 * console.assert((await toResponse(await app(req)).text()) === "user ann b");
 * ```
 */
export interface RouteRequest extends RingRequest {
  /**
   * The pattern's named groups (`:id` gives `id`, a `*` gives `"0"`, `"1"`...),
   * percent-decoded as UTF-8; a value with a bad escape is kept as sent.
   */
  pathParams: Record<string, string>;
}

/**
 * One route: `[method, pattern, handler]`.
 *
 * - `method`: `"GET"`, `"POST"`... (any case), or `"*"` for every method.
 * - `pattern`: a pathname pattern in `URLPattern` syntax (`"/users/:id"`,
 *   `"/files/*"`, `"/posts/:n(\\d+)"`), or a `URLPattern`, which is matched
 *   against the scheme, `serverName`, `uri` and `queryString`, so it can route
 *   by host too.
 * - `handler`: gets the request map with `pathParams`.
 *
 * `R` is the request map the middleware around the router provide (e.g.
 * {@linkcode ParamsRequest}), `Res` what the handlers return (e.g.
 * {@linkcode JsonResponse} inside {@linkcode wrapJson}).
 *
 * Routes are tuples in an array rather than an object keyed by `"GET /path"`:
 * the array's order is the order they are tried in, plainly; a pattern may
 * be a `URLPattern`; and nothing has to be parsed out of a key.
 *
 * @example A table of routes
 * ```ts
 * import { type Route, router, toResponse, toRingRequest } from "@httpkit/httpkit";
 *
 * const routes: Route[] = [
 *   ["GET", "/", () => ({ body: "home" })],
 *   ["POST", "/users", () => ({ status: 201 })],
 *   ["*", "/health", () => ({ body: "ok" })],
 *   ["GET", new URLPattern({ hostname: "api.*", pathname: "/v1/*" }), () => ({ body: "api" })],
 * ];
 * const app = router(routes);
 * const ask = async (url: string, method = "GET") =>
 *   toResponse(await app(await toRingRequest(new Request(url, { method }))));
 * console.assert((await (await ask("http://x/health", "POST")).text()) === "ok");
 * console.assert((await (await ask("http://api.example/v1/users")).text()) === "api");
 * console.assert((await ask("http://www.example/v1/users")).status === 404);
 * ```
 */
export type Route<
  R extends RingRequest = RingRequest,
  Res = HandlerResult,
> = readonly [
  method: string,
  pattern: string | URLPattern,
  handler: (req: R & RouteRequest) => Res,
];

/**
 * Options of {@linkcode router}.
 *
 * @example A JSON 404
 * ```ts
 * import { router, type RouterOptions, toResponse, toRingRequest } from "@httpkit/httpkit";
 *
 * const options: RouterOptions = {
 *   notFound: (req) => ({
 *     status: 404,
 *     headers: { "content-type": "application/json" },
 *     body: JSON.stringify({ error: `no ${req.uri}` }),
 *   }),
 * };
 * const app = router([["GET", "/", () => ({ body: "home" })]], options);
 * const res = toResponse(await app(await toRingRequest(new Request("http://x/nope"))));
 * console.assert(res.status === 404 && (await res.text()) === '{"error":"no /nope"}');
 * ```
 */
export interface RouterOptions<
  R extends RingRequest = RingRequest,
  Res = HandlerResult,
> {
  /**
   * Answers a path no route matches (any method). Default: 404 with a plain
   * text body.
   */
  notFound?: (req: R) => Res;
}

// How a route matches the path: equal text, a RegExp built from plain
// `:name` segments, or the URLPattern itself. URLPattern.exec costs about
// 5 µs a call here, as much as a whole hello request, so the first two cover
// the common patterns and agree with URLPattern on what they match.
const LITERAL = 0, SIMPLE = 1, PATTERN = 2;

interface Compiled<R extends RingRequest, Res> {
  /** Lower-case method, or "*". */
  method: string;
  kind: typeof LITERAL | typeof SIMPLE | typeof PATTERN;
  literal: string;
  regexp: RegExp | null;
  names: string[];
  pattern: URLPattern | null;
  handler: (req: R & RouteRequest) => Res;
}

/**
 * Routes requests by method and path to handlers: the first route whose
 * method and pattern match wins, in order, and its handler's answer is the
 * answer (a `null` from it is not passed on to later routes).
 *
 * - Patterns are matched against `req.uri`, the path as sent; path
 *   parameters come decoded in `req.pathParams`. A path with `.` or `..`
 *   segments (also as `%2e`) matches no route, so `/public/../admin` never
 *   reaches the `/admin` route.
 * - A path no route matches gets 404, or `options.notFound`.
 * - A path some route matches, but not with this method, gets 405 with an
 *   `Allow` header of the methods that would match.
 * - HEAD is answered by the first route for HEAD, GET or `"*"`; the server
 *   sends the head without the body. List a HEAD route before the GET route
 *   to answer HEAD yourself.
 * - OPTIONS on a known path with no route for it gets 204 with `Allow`; add
 *   an OPTIONS (or `"*"`) route first for CORS preflights.
 *
 * Patterns are compiled once, here: a pattern with no parameters is compared
 * as text, and one whose parameters are plain `:name` segments as a RegExp.
 *
 * @param routes `[method, pattern, handler]` tuples; see {@linkcode Route}.
 * @param options `notFound`.
 * @returns A Ring handler, to wrap in middleware such as
 * {@linkcode wrapParams} and {@linkcode wrapJson} (directly or with
 * {@linkcode compose}). Name the request map they give and, for object
 * bodies, the response type: `router<JsonRequest, JsonResponse>(routes)`.
 * @throws {TypeError} For a route that is not a `[method, pattern,
 * handler]` tuple, a bad method name, a pattern that does not compile or an
 * unknown option.
 *
 * @example Routes on a server
 * ```ts
 * import { router, runServer } from "@httpkit/httpkit";
 *
 * const users = new Map([["1", "ann"]]);
 * const app = router([
 *   ["GET", "/users/:id", (req) => {
 *     const name = users.get(req.pathParams.id);
 *     return name === undefined ? { status: 404 } : { body: name };
 *   }],
 *   ["POST", "/users", () => ({ status: 201 })],
 * ]);
 * const server = runServer(app, { ip: "127.0.0.1", port: 0 });
 * const base = `http://127.0.0.1:${server.port}`;
 * console.assert((await (await fetch(`${base}/users/1`)).text()) === "ann");
 * const res = await fetch(`${base}/users`, { method: "DELETE" });
 * console.assert(res.status === 405 && res.headers.get("allow") === "POST, OPTIONS");
 * await res.body?.cancel();
 * await server.stop();
 * ```
 *
 * @example With middleware
 * ```ts
 * import {
 *   compose,
 *   type JsonRequest,
 *   type JsonResponse,
 *   type ParamsRequest,
 *   router,
 *   toResponse,
 *   toRingRequest,
 *   wrapJson,
 *   wrapParams,
 * } from "@httpkit/httpkit";
 *
 * const search = compose(wrapParams)(router<ParamsRequest>([
 *   ["GET", "/search/:index", (req) => ({
 *     body: `${req.pathParams.index}: ${req.params.q}`,
 *   })],
 * ]));
 * const req = await toRingRequest(new Request("http://x/search/books?q=deno"));
 * console.assert((await toResponse(await search(req)).text()) === "books: deno");
 *
 * // Object bodies: wrapJson serialises what the routes return.
 * const api = wrapJson(router<JsonRequest, JsonResponse>([
 *   ["GET", "/items/:id", (req) => ({ body: { id: Number(req.pathParams.id) } })],
 * ]));
 * const item = toResponse(await api(await toRingRequest(new Request("http://x/items/7"))));
 * console.assert((await item.text()) === '{"id":7}');
 * ```
 */
export function router<
  R extends RingRequest = RingRequest,
  Res = HandlerResult,
>(
  routes: readonly Route<R, NoInfer<Res>>[],
  options?: RouterOptions<R, NoInfer<Res>>,
): (req: R) => Res | RingResponse {
  options ??= {};
  if (!Array.isArray(routes)) {
    throw new TypeError(
      `router: routes must be an array of [method, pattern, handler], got ${typeof routes}`,
    );
  }
  checkOptions("router", options, ["notFound"]);
  const table = routes.map((route, i) => compile<R, Res>(route, i));
  const notFound: (req: R) => Res | RingResponse = options.notFound ??
    notFoundResponse;
  return (req) => {
    const path = canonicalPath(req.uri);
    if (path === null) return notFound(req);
    const method = req.requestMethod;
    for (const route of table) {
      if (!accepts(route.method, method)) continue;
      const params = matchPath(route, path, req);
      if (params !== null) {
        const r = req as R & RouteRequest;
        r.pathParams = params;
        return route.handler(r);
      }
    }
    const allow = allowed(table, path, method, req);
    if (allow === "") return notFound(req);
    if (method === "options") return { status: 204, headers: { allow } };
    return {
      status: 405,
      headers: { "content-type": "text/plain; charset=utf-8", allow },
      body: "Method Not Allowed",
    };
  };
}

function notFoundResponse(): RingResponse {
  return {
    status: 404,
    headers: { "content-type": "text/plain; charset=utf-8" },
    body: "Not Found",
  };
}

// A route for GET serves HEAD too: same head, and the server drops the body.
function accepts(routeMethod: string, method: string): boolean {
  return routeMethod === method || routeMethod === "*" ||
    (routeMethod === "get" && method === "head");
}

/**
 * The Allow value for a path: methods of the routes it matches, or "". The
 * routes that accept `method` already failed to match it: only the others
 * are tried.
 */
function allowed<R extends RingRequest, Res>(
  table: Compiled<R, Res>[],
  path: string,
  method: string,
  req: RingRequest,
): string {
  const methods: string[] = [];
  for (const route of table) {
    if (accepts(route.method, method)) continue;
    if (matchPath(route, path, req) === null) continue;
    const m = route.method.toUpperCase();
    if (!methods.includes(m)) methods.push(m);
    if (m === "GET" && !methods.includes("HEAD")) methods.push("HEAD");
  }
  if (methods.length === 0) return "";
  if (!methods.includes("OPTIONS")) methods.push("OPTIONS");
  return methods.join(", ");
}

/** The path parameters when the route's pattern matches, else null. */
function matchPath<R extends RingRequest, Res>(
  route: Compiled<R, Res>,
  path: string,
  req: RingRequest,
): Record<string, string> | null {
  if (route.kind === LITERAL) return route.literal === path ? {} : null;
  if (route.kind === SIMPLE) {
    const m = route.regexp!.exec(path);
    if (m === null) return null;
    const params: Record<string, string> = {};
    for (let i = 0; i < route.names.length; i++) {
      params[route.names[i]] = decode(m[i + 1]);
    }
    return params;
  }
  const m = route.pattern!.exec({
    protocol: req.scheme,
    hostname: req.serverName,
    pathname: path,
    search: req.queryString ?? "",
  });
  if (m === null) return null;
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(m.pathname.groups)) {
    if (value !== undefined) params[name] = decode(value);
  }
  return params;
}

function decode(value: string): string {
  if (!value.includes("%")) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

// A canonical pathname pattern made of literal text and plain `:name`
// parameters only (no modifiers, groups, wildcards or escapes).
const SIMPLE_SYNTAX = /^(?:[^:*(){}?+\\]|:[A-Za-z_$][\w$]*(?![?*+(]))*$/;
const PARAM = /:([A-Za-z_$][\w$]*)/g;
// Components a URLPattern built from a pathname alone leaves as wildcards.
const OTHER_PARTS = [
  "protocol",
  "username",
  "password",
  "hostname",
  "port",
  "search",
  "hash",
] as const;

function compile<R extends RingRequest, Res>(
  route: Route<R, Res>,
  i: number,
): Compiled<R, Res> {
  if (!Array.isArray(route) || route.length !== 3) {
    throw new TypeError(
      `router: route ${i} must be [method, pattern, handler], got ${
        JSON.stringify(route)
      }`,
    );
  }
  const [method, source, handler] = route;
  if (typeof method !== "string" || (method !== "*" && !isToken(method))) {
    throw new TypeError(
      `router: route ${i} has a bad method ${JSON.stringify(method)}`,
    );
  }
  if (typeof handler !== "function") {
    throw new TypeError(`router: route ${i} has no handler function`);
  }
  const pattern = toPattern(source, i);
  const compiled: Compiled<R, Res> = {
    method: method === "*" ? "*" : method.toLowerCase(),
    kind: PATTERN,
    literal: "",
    regexp: null,
    names: [],
    pattern,
    handler,
  };
  if (OTHER_PARTS.some((part) => pattern[part] !== "*")) return compiled;
  // The pattern's own canonical text: literal parts are percent-encoded the
  // way requests are by canonicalPath, so both sides compare alike.
  const text = pattern.pathname;
  if (!SIMPLE_SYNTAX.test(text)) return compiled;
  const names = [...text.matchAll(PARAM)].map((m) => m[1]);
  if (names.length === 0) {
    compiled.kind = LITERAL;
    compiled.literal = text;
    return compiled;
  }
  compiled.kind = SIMPLE;
  compiled.names = names;
  // URLPattern's default for `:name` is `[^/]+?`, anchored at both ends.
  const parts = text.split(PARAM);
  let re = "^";
  for (let k = 0; k < parts.length; k++) {
    re += k % 2 === 0 ? escapeRegExp(parts[k]) : "([^/]+?)";
  }
  compiled.regexp = new RegExp(re + "$");
  return compiled;
}

function toPattern(source: string | URLPattern, i: number): URLPattern {
  if (source instanceof URLPattern) return source;
  if (typeof source !== "string" || !source.startsWith("/")) {
    throw new TypeError(
      `router: route ${i} pattern must be a URLPattern or a path starting with "/", got ${
        JSON.stringify(source)
      }`,
    );
  }
  try {
    return new URLPattern({ pathname: source });
  } catch (err) {
    throw new TypeError(
      `router: route ${i} pattern ${JSON.stringify(source)} does not compile: ${
        (err as Error).message
      }`,
    );
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

// Characters URLPattern would percent-encode (the URL path percent-encode
// set: controls, space, ", <, >, `, {, } and everything past ~).
function needsEncoding(c: number): boolean {
  return c <= 0x20 || c >= 0x7f || c === 0x22 || c === 0x3c || c === 0x3e ||
    c === 0x60 || c === 0x7b || c === 0x7d;
}

const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i;

/**
 * The request path as URLPattern would see it, or null when it has dot
 * segments. Bytes above 0x7f (the server decodes the target as latin1, one
 * char per byte) are percent-encoded as the bytes they are, so `%C3%A9` and
 * a raw UTF-8 `é` both decode to "é". Usually the path is already canonical
 * and comes back unchanged.
 */
function canonicalPath(uri: string): string | null {
  let i = 0;
  while (i < uri.length && !needsEncoding(uri.charCodeAt(i))) i++;
  let path = uri;
  if (i < uri.length) {
    path = uri.slice(0, i);
    for (const ch of uri.slice(i)) {
      const c = ch.codePointAt(0)!;
      if (!needsEncoding(c)) path += ch;
      else if (c <= 0xff) {
        path += "%" + (c < 16 ? "0" : "") + c.toString(16).toUpperCase();
      } else path += encodeURIComponent(ch);
    }
  }
  return DOT_SEGMENT.test(path) ? null : path;
}
