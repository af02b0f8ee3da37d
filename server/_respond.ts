// Response maps to bytes: the head (status line, the user's headers, Date,
// Server), the framing http1/framing.ts decides, and the body queued on the
// connection's output or streamed after it. Small text responses come from
// the server's reply cache when they repeat the last one.

import { Framing, responseFraming } from "../http1/framing.ts";
import type { RequestHead } from "../http1/head.ts";
import { newFlags, statusLine, userHeaders } from "../http1/serialize.ts";
import { isDisconnect } from "../_byteconn.ts";
import type { Core } from "./_core.ts";
import { MERGE_LIMIT, type Output, utf8Length } from "./_output.ts";
import { MAX_REPLY, type ReplyCache, Variant } from "./_reply_cache.ts";
import { openBody, pump, type StreamingBody } from "./_response_body.ts";
import type { RingResponse } from "./types.ts";

const encoder = new TextEncoder();

/** The start of a response head, before its framing fields. */
export interface HeadStart {
  /** Status line, the user's headers, Date and Server. */
  text: string;
  /** The connection may stay open (the request asked, nothing said no). */
  keepAlive: boolean;
  /** A Content-Length the user's headers gave, or -1. */
  declared: number;
  /** A header value has latin1 chars: the head must go out as bytes. */
  latin1: boolean;
}

/**
 * Starts a response head: status line, user headers, Date and Server.
 *
 * @throws {ProtocolError} 500 for an invalid status or header.
 */
export function responseHead(
  core: Core,
  head: RequestHead,
  status: number,
  headers: RingResponse["headers"],
): HeadStart {
  const flags = newFlags();
  let text = statusLine(status) + userHeaders(headers, flags);
  if (!flags.date) text += core.date;
  if (!flags.server) text += core.serverLine;
  return {
    text,
    keepAlive: head.keepAlive && !flags.close && !core.stopping,
    declared: flags.contentLength,
    latin1: flags.latin1,
  };
}

/**
 * Queues the response to `head` on `c` (or streams it). Returns whether the
 * connection stays open for more requests.
 *
 * @throws {ProtocolError} 500 for an invalid status or header (nothing is
 * queued then).
 */
export function queueResponse(
  c: Output,
  head: RequestHead,
  res: RingResponse,
): boolean | Promise<boolean> {
  const body = res.body;
  if (body === null || body === undefined) {
    return queueText(c, head, res, "", false);
  }
  if (typeof body === "string") {
    if (body.length <= MAX_REPLY / 2) {
      return queueText(c, head, res, body, true);
    }
    if (body.length <= MERGE_LIMIT / 4) {
      return queueFixed(c, head, res, body, utf8Length(body));
    }
    const bytes = encoder.encode(body);
    return queueFixed(c, head, res, bytes, bytes.length);
  }
  if (body instanceof Uint8Array) {
    return queueFixed(c, head, res, body, body.length);
  }
  if (body instanceof ArrayBuffer) {
    const bytes = new Uint8Array(body);
    return queueFixed(c, head, res, bytes, bytes.length);
  }
  return stream(c, head, res, body);
}

// A response with a short text body (or none: `given` false), from the
// server's reply cache when it repeats the last one.
function queueText(
  c: Output,
  head: RequestHead,
  res: RingResponse,
  body: string,
  given: boolean,
): boolean | Promise<boolean> {
  const core = c.core;
  const cache = core.replies;
  const variant = variantOf(core, head);
  const seen = cache.matches(res, body, variant, core.date);
  if (seen && cache.bytes !== null) {
    c.queueBytes(cache.bytes);
    return queued(c, cache.keepAlive);
  }
  const status = res.status ?? 200;
  const start = responseHead(core, head, status, res.headers);
  const length = given ? utf8Length(body) : null;
  const f = responseFraming(
    head,
    status,
    length,
    start.declared,
    start.keepAlive,
  );
  const headText = start.text + f.fields + "\r\n";
  const text = f.framing === Framing.None ? "" : body;
  if (start.latin1) {
    c.queueHead(headText, true);
    c.queueText(text);
  } else if (seen) {
    remember(c, cache, headText + text, f.keepAlive);
  } else {
    c.queueText(headText + text);
    cache.remember(res, body, variant, core.date);
  }
  return queued(c, f.keepAlive);
}

function variantOf(core: Core, head: RequestHead): number {
  return (head.method === "HEAD" ? Variant.Head : 0) |
    (head.keepAlive && !core.stopping ? Variant.KeepAlive : 0) |
    (head.http10 ? Variant.Http10 : 0);
}

// Seen twice in a row: keep it encoded, and send those very bytes.
function remember(
  c: Output,
  cache: ReplyCache,
  text: string,
  keepAlive: boolean,
): void {
  if (text.length > MAX_REPLY) {
    c.queueText(text);
    return;
  }
  cache.bytes = encoder.encode(text);
  cache.keepAlive = keepAlive;
  c.queueBytes(cache.bytes);
}

// A response whose body is all at hand: head and body queued together.
function queueFixed(
  c: Output,
  head: RequestHead,
  res: RingResponse,
  body: string | Uint8Array,
  length: number,
): boolean | Promise<boolean> {
  const status = res.status ?? 200;
  const start = responseHead(c.core, head, status, res.headers);
  const f = responseFraming(
    head,
    status,
    length,
    start.declared,
    start.keepAlive,
  );
  c.queueHead(start.text + f.fields + "\r\n", start.latin1);
  if (f.framing !== Framing.None && length > 0) {
    if (typeof body === "string") c.queueText(body);
    else c.queueBytes(body);
  }
  return queued(c, f.keepAlive);
}

// Whether the connection goes on after a queued response; large queues and
// the last response go out now.
function queued(c: Output, keepAlive: boolean): boolean | Promise<boolean> {
  if (!keepAlive) return c.flush().then(() => false);
  if (c.queued > MERGE_LIMIT) return c.flush().then(() => true);
  return true;
}

// A body whose bytes are not all at hand: the head goes out first, then the
// body as it comes (chunked when its length is unknown).
async function stream(
  c: Output,
  head: RequestHead,
  res: RingResponse,
  body: StreamingBody,
): Promise<boolean> {
  const status = res.status ?? 200;
  const start = responseHead(c.core, head, status, res.headers);
  const src = await openBody(body);
  const f = responseFraming(
    head,
    status,
    src.length,
    start.declared,
    start.keepAlive,
  );
  c.queueHead(start.text + f.fields + "\r\n", start.latin1);
  if (f.framing === Framing.None) {
    await src.cancel();
    await c.flush();
    return f.keepAlive;
  }
  const length = f.framing !== Framing.Length
    ? -1
    : src.length >= 0
    ? src.length
    : start.declared;
  try {
    await c.flush();
    await pump(src, c, f.framing === Framing.Chunked, length);
  } catch (err) {
    // The head is out, so no error response can follow: cut the connection
    // and let the peer see a truncated body. The source is let go of even
    // when the head itself could not be written (a file stays not open).
    await src.cancel();
    if (!isDisconnect(err)) c.core.error(err, null);
    return false;
  }
  return f.keepAlive;
}
