// Header helpers shared by the middleware: response maps may carry headers
// as a plain record (any case, arrays for repeats) or as `Headers`.

import type { RingResponse } from "../server/types.ts";

/** The response's headers as a fresh, mutable `Headers`. */
export function headersOf(res: RingResponse): Headers {
  const out = new Headers();
  const h = res.headers;
  if (h === undefined || h === null) return out;
  if (h instanceof Headers) {
    for (const [name, value] of h) out.append(name, value);
    return out;
  }
  for (const name in h) {
    const v = h[name];
    if (v === null || v === undefined) continue;
    if (typeof v === "object") {
      for (const item of v) out.append(name, String(item));
    } else out.append(name, String(v));
  }
  return out;
}

/** First value of a response header (any case), or null. */
export function responseHeader(res: RingResponse, name: string): string | null {
  const h = res.headers;
  if (h === undefined || h === null) return null;
  if (h instanceof Headers) return h.get(name);
  const want = name.toLowerCase();
  for (const k in h) {
    if (k.toLowerCase() !== want) continue;
    const v = h[k];
    if (v === null || v === undefined) return null;
    return typeof v === "object" ? String(v[0] ?? "") : String(v);
  }
  return null;
}
