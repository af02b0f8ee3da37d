/**
 * JSON for Ring handlers: a JSON request body parsed into `req.json`, and
 * plain objects and arrays in response bodies sent as JSON.
 *
 * @module
 */

import type {
  Handler,
  ResponseBody,
  RingRequest,
  RingResponse,
} from "../server/types.ts";
import { headersOf } from "./_headers.ts";

/**
 * A request map after {@linkcode wrapJson}.
 *
 * @example Reading a JSON body
 * ```ts
 * import {
 *   type JsonRequest,
 *   toResponse,
 *   toRingRequest,
 *   wrapJson,
 * } from "@httpkit/httpkit";
 *
 * const add = (req: JsonRequest) => {
 *   const { a, b } = req.json as { a: number; b: number };
 *   return { body: String(a + b) };
 * };
 * const req = await toRingRequest(
 *   new Request("http://localhost/add", {
 *     method: "POST",
 *     headers: { "content-type": "application/json" },
 *     body: JSON.stringify({ a: 1, b: 2 }),
 *   }),
 * );
 * const res = toResponse(await wrapJson(add)(req));
 * console.assert((await res.text()) === "3");
 * ```
 */
export interface JsonRequest extends RingRequest {
  /** The parsed JSON body, or `undefined` when the body is not JSON. */
  json?: unknown;
}

/**
 * A response map whose body may be a value to send as JSON.
 *
 * @example Answering with an object
 * ```ts
 * import {
 *   type JsonResponse,
 *   toResponse,
 *   toRingRequest,
 *   wrapJson,
 * } from "@httpkit/httpkit";
 *
 * const created = (): JsonResponse => ({ status: 201, body: { id: 7, tags: [] } });
 * const req = await toRingRequest(new Request("http://localhost/", { method: "POST" }));
 * const res = toResponse(await wrapJson(created)(req));
 * console.assert(res.status === 201);
 * console.assert(res.headers.get("content-type") === "application/json; charset=utf-8");
 * console.assert((await res.text()) === '{"id":7,"tags":[]}');
 * ```
 */
export interface JsonResponse extends Omit<RingResponse, "body"> {
  /** A usual body, or an object, array, number, boolean to serialise. */
  body?: ResponseBody | Record<string, unknown> | unknown[] | number | boolean;
}

/**
 * Options of {@linkcode wrapJson}.
 *
 * @example Dates in, indented JSON out
 * ```ts
 * import {
 *   type JsonOptions,
 *   type JsonRequest,
 *   toResponse,
 *   toRingRequest,
 *   wrapJson,
 * } from "@httpkit/httpkit";
 *
 * const jsonOptions: JsonOptions = {
 *   reviver: (key, value) => key === "at" ? new Date(value as string) : value,
 *   space: 2,
 * };
 * const year = (req: JsonRequest) => ({
 *   body: { year: (req.json as { at: Date }).at.getUTCFullYear() },
 * });
 * const req = await toRingRequest(
 *   new Request("http://localhost/", {
 *     method: "POST",
 *     headers: { "content-type": "application/json" },
 *     body: '{"at":"2024-05-01T00:00:00Z"}',
 *   }),
 * );
 * const res = toResponse(await wrapJson(year, jsonOptions)(req));
 * console.assert((await res.text()) === '{\n  "year": 2024\n}');
 * ```
 */
export interface JsonOptions {
  /** Reviver passed to `JSON.parse`. */
  reviver?: (key: string, value: unknown) => unknown;
  /** Indentation for responses (`JSON.stringify`'s third argument). */
  space?: number;
}

function isJsonType(ct: string | null): boolean {
  return ct !== null &&
    (ct === "application/json" ||
      (ct.startsWith("application/") && ct.endsWith("+json")));
}

function isPlainBody(body: unknown): boolean {
  if (body === null || body === undefined) return false;
  if (typeof body === "number" || typeof body === "boolean") return true;
  if (typeof body !== "object") return false;
  if (Array.isArray(body)) return true;
  const proto = Object.getPrototypeOf(body);
  return proto === Object.prototype || proto === null;
}

/**
 * Middleware for JSON both ways. A request with an `application/json` (or
 * `+json`) body gets it parsed into `req.json`; a body that does not parse
 * gets 400 without calling the handler. A response whose body is a plain
 * object, array, number or boolean is serialised, with
 * `content-type: application/json; charset=utf-8` unless one is set.
 *
 * @param handler The handler to wrap; it gets a {@linkcode JsonRequest} and
 * may return a {@linkcode JsonResponse}.
 * @param options Reviver and indentation.
 * @returns The wrapped handler.
 *
 * @example
 * ```ts
 * import { runServer, wrapJson } from "@httpkit/httpkit";
 *
 * const server = runServer(
 *   wrapJson((req) => ({ body: { got: req.json } })),
 *   { ip: "127.0.0.1", port: 0 },
 * );
 * const res = await fetch(`http://127.0.0.1:${server.port}/`, {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify([1, 2]),
 * });
 * console.assert((await res.text()) === '{"got":[1,2]}');
 * await server.stop();
 * ```
 */
export function wrapJson(
  handler: (
    req: JsonRequest,
  ) =>
    | JsonResponse
    | null
    | undefined
    | void
    | Promise<JsonResponse | null | undefined | void>,
  options?: JsonOptions,
): Handler {
  options ??= {};
  return async (req) => {
    const r = req as JsonRequest;
    if (isJsonType(req.contentType) && req.body !== null) {
      try {
        r.json = JSON.parse(
          new TextDecoder().decode(req.body),
          options.reviver,
        );
      } catch {
        return {
          status: 400,
          headers: { "content-type": "text/plain; charset=utf-8" },
          body: "Malformed JSON in request body",
        };
      }
    }
    const res = await handler(r);
    if (res === null || res === undefined || !isPlainBody(res.body)) {
      return res as RingResponse | null | undefined;
    }
    const headers = headersOf(res as RingResponse);
    if (!headers.has("content-type")) {
      headers.set("content-type", "application/json; charset=utf-8");
    }
    return {
      ...res,
      headers,
      body: JSON.stringify(res.body, null, options.space),
    };
  };
}
