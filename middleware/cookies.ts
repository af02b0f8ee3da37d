/**
 * Cookies for Ring handlers: parsed from the request, set from a `cookies`
 * map on the response.
 *
 * @module
 */

import type { RingRequest, RingResponse } from "../server/types.ts";
import type { HandlerResult } from "./compose.ts";
import { headersOf } from "./_headers.ts";

/**
 * A cookie to set, with its attributes.
 *
 * @example A session cookie
 * ```ts
 * import { type Cookie, serializeCookie } from "@httpkit/httpkit";
 *
 * const session: Cookie = {
 *   value: "abc123",
 *   path: "/",
 *   maxAge: 3600,
 *   secure: true,
 *   httpOnly: true,
 *   sameSite: "Strict",
 * };
 * console.assert(
 *   serializeCookie("session", session) ===
 *     "session=abc123; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Strict",
 * );
 * ```
 */
export interface Cookie {
  /** The value; it is percent-encoded when it holds unsafe characters. */
  value: string;
  /** `Path` attribute. */
  path?: string;
  /** `Domain` attribute. */
  domain?: string;
  /** `Max-Age` in seconds (0 deletes the cookie). */
  maxAge?: number;
  /** `Expires` attribute. */
  expires?: Date;
  /** `Secure` flag. */
  secure?: boolean;
  /** `HttpOnly` flag. */
  httpOnly?: boolean;
  /** `SameSite` attribute. */
  sameSite?: "Strict" | "Lax" | "None";
  /** `Partitioned` flag (CHIPS). */
  partitioned?: boolean;
}

/**
 * A request map after {@linkcode wrapCookies}.
 *
 * @example Reading a preference
 * ```ts
 * import {
 *   type CookiesRequest,
 *   toResponse,
 *   toRingRequest,
 *   wrapCookies,
 * } from "@httpkit/httpkit";
 *
 * const theme = (req: CookiesRequest) => ({ body: req.cookies.theme ?? "light" });
 * const req = await toRingRequest(
 *   new Request("http://localhost/", { headers: { cookie: "theme=dark; lang=en" } }),
 * );
 * const res = toResponse(await wrapCookies(theme)(req));
 * console.assert((await res.text()) === "dark");
 * ```
 */
export interface CookiesRequest extends RingRequest {
  /** Cookies by name (percent-decoded); the first of a repeated name wins. */
  cookies: Record<string, string>;
}

/**
 * A response map that may set cookies.
 *
 * @example Logging out: deleting a cookie
 * ```ts
 * import {
 *   type CookiesResponse,
 *   toResponse,
 *   toRingRequest,
 *   wrapCookies,
 * } from "@httpkit/httpkit";
 *
 * const logout = (): CookiesResponse => ({
 *   status: 303,
 *   headers: { location: "/" },
 *   cookies: { session: { value: "", path: "/", maxAge: 0 } },
 * });
 * const req = await toRingRequest(new Request("http://localhost/logout"));
 * const res = toResponse(await wrapCookies(logout)(req));
 * console.assert(res.status === 303);
 * console.assert(res.headers.get("set-cookie") === "session=; Path=/; Max-Age=0");
 * ```
 */
export interface CookiesResponse extends RingResponse {
  /** Cookies to set: a value, or a value with attributes. */
  cookies?: Record<string, string | Cookie>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const SAFE_VALUE = /^[!#$%&'()*+\-./0-9:<=>?@A-Z[\]^_`a-z{|}~]*$/;

function hasControlOrSemicolon(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x3b) return true;
  }
  return false;
}

/**
 * Parses a Cookie header.
 *
 * @param header The Cookie header value.
 * @returns Cookies by name.
 *
 * @example
 * ```ts
 * import { parseCookies } from "@httpkit/httpkit";
 *
 * console.assert(parseCookies("a=1; b=x%20y").b === "x y");
 * ```
 */
export function parseCookies(
  header: string | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (header === undefined) return out;
  for (const part of header.split(/;\s*/)) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (name in out) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length > 1 && value[0] === '"' && value.at(-1) === '"') {
      value = value.slice(1, -1);
    }
    try {
      out[name] = decodeURIComponent(value);
    } catch {
      out[name] = value;
    }
  }
  return out;
}

/**
 * Serialises one Set-Cookie value.
 *
 * @param name The cookie name (an HTTP token).
 * @param cookie The value, or value and attributes.
 * @returns The Set-Cookie field value.
 * @throws {TypeError} For a name that is not a token or a bad attribute.
 *
 * @example
 * ```ts
 * import { serializeCookie } from "@httpkit/httpkit";
 *
 * const v = serializeCookie("id", { value: "42", path: "/", sameSite: "Lax" });
 * console.assert(v === "id=42; Path=/; SameSite=Lax");
 * ```
 */
export function serializeCookie(name: string, cookie: string | Cookie): string {
  if (!TOKEN.test(name)) {
    throw new TypeError(`Invalid cookie name: ${JSON.stringify(name)}`);
  }
  const c = typeof cookie === "string" ? { value: cookie } : cookie;
  const value = SAFE_VALUE.test(c.value)
    ? c.value
    : encodeURIComponent(c.value);
  let s = `${name}=${value}`;
  for (const [attr, v] of [["Path", c.path], ["Domain", c.domain]] as const) {
    if (v === undefined) continue;
    if (hasControlOrSemicolon(v)) {
      throw new TypeError(`Invalid cookie ${attr}: ${JSON.stringify(v)}`);
    }
    s += `; ${attr}=${v}`;
  }
  if (c.maxAge !== undefined) {
    if (!Number.isInteger(c.maxAge)) {
      throw new TypeError(`Invalid cookie maxAge: ${c.maxAge}`);
    }
    s += `; Max-Age=${c.maxAge}`;
  }
  if (c.expires !== undefined) s += `; Expires=${c.expires.toUTCString()}`;
  if (c.secure) s += "; Secure";
  if (c.httpOnly) s += "; HttpOnly";
  if (c.sameSite !== undefined) s += `; SameSite=${c.sameSite}`;
  if (c.partitioned) s += "; Partitioned";
  return s;
}

/**
 * Middleware that parses the Cookie header into `req.cookies` and turns a
 * `cookies` map on the response into Set-Cookie fields.
 *
 * @param handler The handler to wrap; it gets a {@linkcode CookiesRequest}
 * and may return a {@linkcode CookiesResponse}.
 * @returns The wrapped handler.
 *
 * @example A visit counter
 * ```ts
 * import { runServer, wrapCookies } from "@httpkit/httpkit";
 *
 * const server = runServer(
 *   wrapCookies((req) => {
 *     const n = Number(req.cookies.visits ?? 0) + 1;
 *     return { body: `visit ${n}`, cookies: { visits: { value: String(n), httpOnly: true } } };
 *   }),
 *   { ip: "127.0.0.1", port: 0 },
 * );
 * const res = await fetch(`http://127.0.0.1:${server.port}/`, {
 *   headers: { cookie: "visits=2" },
 * });
 * console.assert((await res.text()) === "visit 3");
 * console.assert(res.headers.get("set-cookie") === "visits=3; HttpOnly");
 * await server.stop();
 * ```
 */
export function wrapCookies(
  handler: (
    req: CookiesRequest,
  ) =>
    | CookiesResponse
    | null
    | undefined
    | void
    | Promise<CookiesResponse | null | undefined | void>,
): (req: RingRequest) => HandlerResult {
  return async (req) => {
    const r = req as CookiesRequest;
    r.cookies = parseCookies(req.headers["cookie"]);
    const res = await handler(r);
    if (res === null || res === undefined || res.cookies === undefined) {
      return res;
    }
    const { cookies, ...rest } = res;
    const headers = headersOf(rest);
    for (const name in cookies) {
      headers.append("set-cookie", serializeCookie(name, cookies[name]));
    }
    return { ...rest, headers };
  };
}
