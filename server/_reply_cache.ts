// Servers send the same response many times in a row (health checks,
// polling, fixed JSON, load balancers, benchmarks). Serialising and encoding
// such a response again costs more than the rest of a small request together,
// so each server keeps the last one. The cache is exact: a response is reused
// only for equal status, headers, body, Date and connection handling. (The
// request side's twin is http1/memo.ts.)

import { isPairs } from "../http1/serialize.ts";
import type { RingResponse } from "./types.ts";

/** Responses longer than this (as text) are built every time. */
export const MAX_REPLY = 4096;

/** What, besides the response map, shapes the bytes of a response. */
export const Variant = { Head: 1, KeepAlive: 2, Http10: 4 } as const;

/**
 * The last small response with a text body, and its bytes once it was seen
 * twice in a row (encoding every response once more to keep it would cost
 * what the cache saves when responses differ).
 */
export class ReplyCache {
  #status = 0;
  #body = "";
  #names: string[] = [];
  #values: string[] = [];
  #date = "";
  #variant = -1;
  /** The encoded response, or null until the response repeats. */
  bytes: Uint8Array | null = null;
  /** Whether the connection stays open after it. */
  keepAlive = false;

  /** Whether `res` (with `variant` and `date`) is the cached response. */
  matches(
    res: RingResponse,
    body: string,
    variant: number,
    date: string,
  ): boolean {
    if (
      body !== this.#body || (res.status ?? 200) !== this.#status ||
      variant !== this.#variant || date !== this.#date
    ) return false;
    const names = this.#names;
    const values = this.#values;
    if (isPairs(res.headers)) {
      const pairs = res.headers;
      if (pairs.length !== names.length) return false;
      for (let i = 0; i < pairs.length; i++) {
        if (pairs[i][0] !== names[i] || pairs[i][1] !== values[i]) return false;
      }
      return true;
    }
    const headers = res.headers as Record<string, unknown> | null | undefined;
    if (!plainMap(headers)) return false;
    let i = 0;
    // The map may be the same object, changed since: compare every field.
    for (const name in headers) {
      if (name !== names[i] || headers[name] !== values[i]) return false;
      i++;
    }
    return i === names.length;
  }

  /**
   * Remembers `res` as the last response (bytes to follow when it repeats).
   * A response whose headers are not a plain map of strings cannot be
   * cached: the entry then stays as it was.
   */
  remember(
    res: RingResponse,
    body: string,
    variant: number,
    date: string,
  ): void {
    const names: string[] = [];
    const values: string[] = [];
    if (isPairs(res.headers)) {
      for (const [name, value] of res.headers) {
        names.push(name);
        values.push(value);
      }
    } else {
      const headers = res.headers as Record<string, unknown> | null | undefined;
      if (!plainMap(headers)) return;
      for (const name in headers) {
        const v = headers[name];
        if (typeof v !== "string") return;
        names.push(name);
        values.push(v);
      }
    }
    this.#status = res.status ?? 200;
    this.#body = body;
    this.#names = names;
    this.#values = values;
    this.#date = date;
    this.#variant = variant;
    this.bytes = null;
  }
}

// No headers, or an object literal: what both the cache and userHeaders read
// field by field (a Headers object or a class instance is built every time;
// name/value pairs are compared pair by pair).
function plainMap(h: unknown): boolean {
  return h === null || h === undefined ||
    Object.getPrototypeOf(h) === Object.prototype;
}
