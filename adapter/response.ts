/**
 * The response side of the Fetch adapter: Ring response maps as `Response`s
 * and back, the stand-in `Response` of a connection takeover (`asChannel`,
 * `upgradeWebSocket`), and `settle`, which reads a handler's `Response` into
 * a response map (complete bodies without their stream, others streamed).
 *
 * @module
 */

import { TAKEOVER } from "../server/_link.ts";
import type {
  ResponseBody,
  RingRequest,
  RingResponse,
} from "../server/types.ts";
import { toHeaders } from "../http1/serialize.ts";
import { quickParts } from "./_response.ts";
import { concat } from "../_bytes.ts";

const encoder = new TextEncoder();

// Response -> the takeover response map it stands for (asChannel, WebSocket).
const TAKEOVERS = new WeakMap<Response, RingResponse>();
// Request map -> a takeover registered by upgradeWebSocket, found again by
// the marker header when a framework re-creates the Response object.
const PENDING = new WeakMap<object, RingResponse>();

/**
 * Header that marks a `Response` standing for a connection takeover. It
 * survives `new Response(res.body, res)`, which some frameworks do to make
 * headers mutable; it is never written to the wire.
 */
export const TAKEOVER_HEADER = "x-httpkit-takeover";

/**
 * Makes a `Response` from a Ring response map. Header arrays become repeated
 * fields; strings, bytes, blobs, streams, iterables and files become the
 * body; a null-body status (204, 205, 304) drops the body; `null` or
 * `undefined` gives 404 like the server does. A takeover map (what
 * `asChannel` returns) becomes a stand-in `Response` that
 * {@linkcode fromResponse} turns back into the map.
 *
 * @param res A Ring response map.
 * @returns The `Response`.
 *
 * @example
 * ```ts
 * import { toResponse } from "@httpkit/httpkit";
 *
 * const res = toResponse({
 *   status: 201,
 *   headers: { "set-cookie": ["a=1", "b=2"] },
 *   body: "made",
 * });
 * console.assert(res.status === 201 && res.headers.getSetCookie().length === 2);
 * console.assert((await res.text()) === "made");
 * ```
 */
export function toResponse(
  res: RingResponse | null | undefined | void,
): Response {
  if (res === null || res === undefined) {
    return new Response("Not Found", { status: 404 });
  }
  if (isTakeover(res)) return takeoverResponse(res);
  const status = res.status ?? 200;
  const headers = toHeaders(res.headers);
  const nullBody = status === 204 || status === 205 || status === 304;
  return new Response(nullBody ? null : toBodyInit(res.body), {
    status,
    headers,
  });
}

function isTakeover(res: RingResponse): boolean {
  return TAKEOVER in res;
}

/**
 * A stand-in `Response` for a takeover response map (status 200, since the
 * Fetch API refuses 101; the server writes what the takeover writes).
 */
export function takeoverResponse(
  res: RingResponse,
  pendingFor?: RingRequest<unknown>,
): Response {
  const response = new Response(null, {
    status: 200,
    headers: { [TAKEOVER_HEADER]: "1" },
  });
  TAKEOVERS.set(response, res);
  if (pendingFor !== undefined) PENDING.set(pendingFor, res);
  return response;
}

/** The takeover map a Response stands for, by identity or marker header. */
export function takeoverOf(
  response: Response,
  req?: RingRequest<unknown>,
): RingResponse | undefined {
  const t = TAKEOVERS.get(response);
  if (t !== undefined || req === undefined) return t;
  if (response.headers.has(TAKEOVER_HEADER)) return PENDING.get(req);
  return undefined;
}

const ENCODE_STRINGS = (): TransformStream<Uint8Array | string, Uint8Array> =>
  new TransformStream({
    transform(chunk, ctl) {
      ctl.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
    },
  });

function toBodyInit(body: ResponseBody): BodyInit | null {
  if (body === null || body === undefined) return null;
  if (typeof body === "string" || body instanceof Blob) return body;
  if (body instanceof Uint8Array) return body as Uint8Array<ArrayBuffer>;
  if (body instanceof ArrayBuffer) return body;
  if (body instanceof ReadableStream) {
    return body.pipeThrough(ENCODE_STRINGS());
  }
  if (body instanceof Deno.FsFile) return body.readable;
  if (Symbol.asyncIterator in body || Symbol.iterator in body) {
    return ReadableStream.from(
      body as AsyncIterable<Uint8Array | string>,
    ).pipeThrough(ENCODE_STRINGS());
  }
  throw new TypeError(`Unsupported response body: ${typeof body}`);
}

/**
 * Makes a Ring response map from a `Response`: status, the `Headers` as they
 * are, and the body stream (written as it comes, chunked). A stand-in for a
 * takeover (from `upgradeWebSocket`, or {@linkcode toResponse} of an
 * `asChannel` map) turns back into that map. `Response.error()` becomes 500.
 *
 * @param response The `Response`.
 * @returns The Ring response map.
 *
 * @example
 * ```ts
 * import { fromResponse } from "@httpkit/httpkit";
 *
 * const res = fromResponse(Response.json({ ok: true }, { status: 202 }));
 * console.assert(res.status === 202);
 * console.assert(res.body instanceof ReadableStream);
 * await (res.body as ReadableStream).cancel();
 * ```
 */
export function fromResponse(response: Response): RingResponse {
  const t = TAKEOVERS.get(response);
  if (t !== undefined) return t;
  if (response.type === "error" || response.status === 0) {
    return { status: 500, body: "Internal Server Error" };
  }
  return {
    status: response.status,
    headers: response.headers,
    body: response.body,
  };
}

// How many microtasks a body read may take and still count as "ready now":
// bodies made from strings, bytes and blobs take 2 to 5 in Deno 2.
const PROBE_TICKS = 12;
// Ready bodies up to this size go out with Content-Length in one write.
const PROBE_MAX = 64 * 1024;

/** Hooks for the end of a streamed body. */
export interface BodyHooks {
  /** The body went out whole. */
  done(): void;
  /** The body was cut short (client gone, stream error). */
  failed(err: unknown): void;
}

/**
 * The response map for a `Response`, with a body that is complete at once
 * read into bytes (so it goes out with Content-Length in one write) and a
 * body still arriving streamed as it comes.
 */
export function settle(
  response: Response,
  req?: RingRequest<unknown>,
  hooks?: BodyHooks,
): RingResponse | Promise<RingResponse> {
  // A takeover stand-in (by identity, or by its marker header when a
  // framework made a new Response from it) is read from its parts when it
  // can be: asking the Headers for the marker costs more than the rest.
  let t = TAKEOVERS.get(response);
  const quick = t === undefined ? quickParts(response) : null;
  if (quick !== null && req !== undefined && hasMarker(quick.headers)) {
    t = PENDING.get(req);
  } else if (t === undefined && quick === null) t = takeoverOf(response, req);
  if (t === undefined && quick === null) return settleStream(response, hooks);
  hooks?.done();
  return t ?? quick!;
}

function hasMarker(pairs: readonly (readonly [string, string])[]): boolean {
  for (let i = 0; i < pairs.length; i++) {
    const name = pairs[i][0];
    if (
      name.length === TAKEOVER_HEADER.length &&
      name.toLowerCase() === TAKEOVER_HEADER
    ) return true;
  }
  return false;
}

// A body read through its stream: what is ready at once goes out with
// Content-Length, what is still arriving streams as it comes.
async function settleStream(
  response: Response,
  hooks?: BodyHooks,
): Promise<RingResponse> {
  const res = fromResponse(response);
  const stream = res.body;
  if (!(stream instanceof ReadableStream)) {
    hooks?.done();
    return res;
  }
  const reader = (stream as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let result: ReadableStreamReadResult<Uint8Array> | undefined;
    let error: { err: unknown } | undefined;
    const pending = reader.read();
    pending.then((r) => (result = r), (err) => (error = { err }));
    for (let i = 0; i < PROBE_TICKS; i++) {
      if (result !== undefined || error !== undefined) break;
      await null;
    }
    if (error !== undefined) {
      hooks?.failed(error.err);
      throw error.err;
    }
    if (result === undefined) {
      res.body = rest(chunks, pending, reader, hooks);
      return res;
    }
    if (result.done) {
      hooks?.done();
      res.body = chunks.length === 1 ? chunks[0] : concat(chunks, size);
      return res;
    }
    chunks.push(result.value);
    size += result.value.length;
    if (size > PROBE_MAX) {
      res.body = rest(chunks, null, reader, hooks);
      return res;
    }
  }
}

async function* rest(
  head: Uint8Array[],
  pending: Promise<ReadableStreamReadResult<Uint8Array>> | null,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  hooks: BodyHooks | undefined,
): AsyncGenerator<Uint8Array, void, undefined> {
  let finished = false;
  try {
    yield* head;
    for (;;) {
      const r = await (pending ?? reader.read());
      pending = null;
      if (r.done) break;
      yield r.value;
    }
    finished = true;
    hooks?.done();
  } catch (err) {
    finished = true;
    hooks?.failed(err);
    throw err;
  } finally {
    if (!finished) {
      hooks?.failed(
        new DOMException("The response body was cut short", "AbortError"),
      );
      reader.cancel().catch(() => {});
    }
  }
}
