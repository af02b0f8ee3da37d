// Header helpers shared by the middleware: response maps may carry headers
// as a plain record (any case, arrays for repeats), as `Headers` or as
// name/value pairs.

import type { RingResponse } from "../server/types.ts";
import { isPairs, toHeaders } from "../http1/serialize.ts";

/** The response's headers as a fresh, mutable `Headers`. */
export function headersOf(res: RingResponse): Headers {
  return toHeaders(res.headers);
}

/** First value of a response header (any case), or null. */
export function responseHeader(res: RingResponse, name: string): string | null {
  const h = res.headers;
  if (h === undefined || h === null) return null;
  if (h instanceof Headers) return h.get(name);
  const want = name.toLowerCase();
  if (isPairs(h)) {
    for (const [k, v] of h) if (k.toLowerCase() === want) return v;
    return null;
  }
  for (const k in h) {
    if (k.toLowerCase() !== want) continue;
    const v = h[k];
    if (v === null || v === undefined) return null;
    return typeof v === "object" ? String(v[0] ?? "") : String(v);
  }
  return null;
}
