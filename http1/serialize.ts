// Serialising message heads. Heads are built as latin1 strings (every char
// one byte) so a whole batch of responses can be encoded with one call.

import { fieldValueKind, isToken } from "./_chars.ts";
import { ProtocolError } from "./errors.ts";
import { STATUS_TEXT } from "./status.ts";

const statusLines: string[] = [];

/** `HTTP/1.1 <status> <reason>\r\n`, cached per status. */
export function statusLine(status: number): string {
  let line = statusLines[status];
  if (line === undefined) {
    if (!Number.isInteger(status) || status < 100 || status > 999) {
      throw new ProtocolError(500, `Invalid response status: ${status}`);
    }
    line = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Unknown"}\r\n`;
    if (status < 600) statusLines[status] = line;
  }
  return line;
}

let dateLine = "";
let dateUntil = 0;

/** `Date: <IMF-fixdate>\r\n`, made at most once a second. */
export function dateHeader(): string {
  const now = Date.now();
  if (now >= dateUntil) {
    dateLine = `Date: ${new Date(now).toUTCString()}\r\n`;
    dateUntil = now - (now % 1000) + 1000;
  }
  return dateLine;
}

/**
 * Header values a response or request map may carry.
 *
 * @example Numbers, booleans and repeated fields
 * ```ts
 * import { type HeaderValue, toResponse } from "@httpkit/httpkit";
 *
 * const values: Record<string, HeaderValue> = {
 *   "x-count": 3,
 *   "x-debug": true,
 *   vary: ["accept", "origin"],
 * };
 * const res = toResponse({ headers: values });
 * console.assert(res.headers.get("x-count") === "3");
 * console.assert(res.headers.get("x-debug") === "true");
 * console.assert(res.headers.get("vary") === "accept, origin");
 * ```
 */
export type HeaderValue =
  | string
  | number
  | boolean
  | readonly (string | number)[];

/**
 * A header map as users write it: any case, arrays for repeated fields.
 *
 * @example A header map for a response
 * ```ts
 * import { type OutHeaders, toResponse } from "@httpkit/httpkit";
 *
 * const headers: OutHeaders = {
 *   "Content-Type": "text/plain",
 *   "Set-Cookie": ["a=1", "b=2"], // two Set-Cookie lines
 *   "X-Left-Out": null, // null and undefined are skipped
 * };
 * const res = toResponse({ headers, body: "hi" });
 * console.assert(res.headers.get("content-type") === "text/plain");
 * console.assert(res.headers.getSetCookie().length === 2);
 * console.assert(!res.headers.has("x-left-out"));
 * ```
 */
export type OutHeaders = Record<string, HeaderValue | null | undefined>;

/**
 * Header fields as name/value pairs in order, as `Headers` iterate (and as
 * a fetch Response holds them); a repeated name is a repeated line.
 *
 * @example Pairs in a response map
 * ```ts
 * import { type HeaderPairs, toResponse } from "@httpkit/httpkit";
 *
 * const headers: HeaderPairs = [["set-cookie", "a=1"], ["set-cookie", "b=2"]];
 * const res = toResponse({ headers, body: "hi" });
 * console.assert(res.headers.getSetCookie().length === 2);
 * ```
 */
export type HeaderPairs = readonly (readonly [string, string])[];

/** Whether a header collection is name/value pairs. */
export function isPairs(h: unknown): h is HeaderPairs {
  return Array.isArray(h);
}

/** Which framing headers a user's header map set, by lower-case name. */
export interface HeaderFlags {
  date: boolean;
  server: boolean;
  contentType: boolean;
  /** The user's Content-Length value, or -1. */
  contentLength: number;
  /** A `Connection: close` was given. */
  close: boolean;
  /** A value has chars above 0x7f: the head must be encoded as latin1. */
  latin1: boolean;
}

/**
 * Serialises user headers, dropping the framing fields the server owns
 * (Content-Length, Transfer-Encoding, Connection) and noting them in `flags`.
 *
 * @throws {ProtocolError} 500 when a name is not a token or a value holds CR,
 * LF or another control byte: such a header is never written.
 */
export function userHeaders(
  headers: OutHeaders | Headers | HeaderPairs | null | undefined,
  flags: HeaderFlags,
): string {
  if (headers === null || headers === undefined) return "";
  let out = "";
  if (isPairs(headers)) {
    for (let i = 0; i < headers.length; i++) {
      const pair = headers[i];
      out += headerLine(pair[0], String(pair[1]), flags);
    }
    return out;
  }
  if (headers instanceof Headers) {
    for (const [name, value] of headers) out += headerLine(name, value, flags);
    return out;
  }
  for (const name in headers) {
    const v = headers[name];
    if (v === null || v === undefined) continue;
    if (typeof v === "object") {
      for (const item of v) out += headerLine(name, String(item), flags);
    } else {
      out += headerLine(name, typeof v === "string" ? v : String(v), flags);
    }
  }
  return out;
}

// One checked `name: value` line, or "" for a framing field the server owns.
function headerLine(name: string, value: string, flags: HeaderFlags): string {
  if (!isToken(name)) {
    throw new ProtocolError(
      500,
      `Invalid header name: ${JSON.stringify(name)}`,
    );
  }
  const kind = fieldValueKind(value);
  if (kind === 2) flags.latin1 = true;
  else if (kind === 0) {
    throw new ProtocolError(
      500,
      `Invalid value for header ${name}: ${JSON.stringify(value.slice(0, 80))}`,
    );
  }
  if (skipFraming(name, value, flags)) return "";
  return name + ": " + value + "\r\n";
}

// Framing fields are computed by the server; note the ones that change what
// it does, and let Date/Server through while recording that they were set.
function skipFraming(name: string, value: string, flags: HeaderFlags): boolean {
  switch (name.length) {
    case 4:
      if (name.toLowerCase() === "date") flags.date = true;
      return false;
    case 6:
      if (name.toLowerCase() === "server") flags.server = true;
      return false;
    case 10:
      if (name.toLowerCase() !== "connection") return false;
      if (/(^|,)\s*close\s*(,|$)/i.test(value)) flags.close = true;
      return true;
    case 12:
      if (name.toLowerCase() === "content-type") flags.contentType = true;
      return false;
    case 14:
      if (name.toLowerCase() !== "content-length") return false;
      if (/^[0-9]{1,15}$/.test(value)) flags.contentLength = Number(value);
      return true;
    case 17:
      return name.toLowerCase() === "transfer-encoding";
  }
  return false;
}

/**
 * A fresh, mutable `Headers` with the fields of a Ring header map (any case,
 * arrays for repeated fields) or a copy of a `Headers`.
 */
export function toHeaders(
  headers: OutHeaders | Headers | HeaderPairs | null | undefined,
): Headers {
  if (headers === undefined || headers === null) return new Headers();
  if (headers instanceof Headers) return new Headers(headers);
  if (isPairs(headers)) return new Headers(headers as [string, string][]);
  const out = new Headers();
  for (const name in headers) {
    const v = headers[name];
    if (v === null || v === undefined) continue;
    if (typeof v === "object") {
      for (const item of v) out.append(name, String(item));
    } else out.append(name, String(v));
  }
  return out;
}

/** Fresh flags for {@linkcode userHeaders}. */
export function newFlags(): HeaderFlags {
  return {
    date: false,
    server: false,
    contentType: false,
    contentLength: -1,
    close: false,
    latin1: false,
  };
}

/**
 * Bytes of a latin1 string (one byte per char), with `extra` spare bytes
 * after it for a body to follow in the same write.
 */
export function latin1Bytes(s: string, extra = 0): Uint8Array {
  const out = new Uint8Array(s.length + extra);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

const asciiEncoder = new TextEncoder();

/** Bytes of a head string: latin1, so obs-text bytes go out unchanged. */
export function encodeHead(s: string): Uint8Array {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) return latin1Bytes(s);
  }
  return asciiEncoder.encode(s);
}
