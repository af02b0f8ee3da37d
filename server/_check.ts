// What a handler may return, checked where it is returned: a wrong shape
// gets a 500 and a line in the error log that says what came back, instead
// of an empty reply or a TypeError from deep inside the server.

import { describe } from "../_describe.ts";

/**
 * Why `res` is not a response map (or null/undefined), or null when it is
 * one. Cheap for the common shapes: an object with a string body.
 */
export function badResponse(res: unknown): string | null {
  if (res === null || res === undefined) return null;
  if (typeof res !== "object" || !mapLike(res)) {
    return `The handler must return a response map such as { status, headers, body } (or null for 404): received ${
      describe(res)
    } ${preview(res)}`;
  }
  const headers = (res as { headers?: unknown }).headers;
  if (
    headers !== undefined && headers !== null && typeof headers !== "object"
  ) {
    return `Invalid response headers: ${describe(headers)} ${
      preview(headers)
    } (headers are a map of names to values, a Headers or [name, value] pairs)`;
  }
  const body = (res as { body?: unknown }).body;
  if (
    body === null || body === undefined || typeof body === "string" ||
    body instanceof Uint8Array
  ) return null;
  if (!isBody(body)) {
    return `Invalid response body: ${describe(body)} ${preview(body)}` +
      " (a body is a string, bytes, a stream, an iterable, a Blob or a file;" +
      " for JSON use JSON.stringify or wrapJson)";
  }
  return null;
}

// Objects that are plainly not response maps (they would pass as maps with
// no status, headers or body: an empty 200). An object literal is checked
// first: it is what handlers return, and the check runs per request.
const NOT_MAPS = [Array, Map, Set, Date, Error, RegExp];

function mapLike(res: object): boolean {
  const proto = Object.getPrototypeOf(res);
  if (proto === Object.prototype || proto === null) return true;
  for (let i = 0; i < NOT_MAPS.length; i++) {
    if (res instanceof NOT_MAPS[i]) return false;
  }
  return true;
}

function isBody(body: unknown): boolean {
  if (
    body instanceof ArrayBuffer || body instanceof ReadableStream ||
    body instanceof Blob || body instanceof Deno.FsFile
  ) return true;
  return typeof body === "object" && body !== null &&
    (Symbol.asyncIterator in body || Symbol.iterator in body);
}

function preview(v: unknown): string {
  let s: string;
  try {
    s = typeof v === "string" ? JSON.stringify(v) : String(
      typeof v === "object" ? JSON.stringify(v) : v,
    );
  } catch {
    s = String(v);
  }
  return s.length > 80 ? s.slice(0, 77) + "..." : s;
}
