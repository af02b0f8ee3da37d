// Body framing (RFC 9112 section 6): the one place that decides how a message
// body is delimited, for both roles and both directions. The server asks it
// how a request body ends and how to frame a response; the client asks it how
// to frame a request and how a response body ends. Everything else follows
// what it says.

import type { RequestHead, ResponseHead } from "./head.ts";

/** How a body is delimited on the wire. */
export const Framing = {
  /** No body at all. */
  None: 0,
  /** Content-Length bytes. */
  Length: 1,
  /** Chunked transfer coding. */
  Chunked: 2,
  /** The body ends when the connection closes (responses only). */
  Close: 3,
} as const;
/** One of the {@linkcode Framing} values. */
export type Framing = typeof Framing[keyof typeof Framing];

/**
 * Whether a response to `method` with `status` has no body whatever its
 * header fields say (RFC 9112 section 6.3, rules 1 and 2): responses to HEAD,
 * 1xx, 204 and 304.
 */
export function bodiless(method: string, status: number): boolean {
  return method === "HEAD" || status < 200 || status === 204 || status === 304;
}

/** How the body of a parsed request ends (server side, reading). */
export function requestBodyFraming(head: RequestHead): Framing {
  if (head.chunked) return Framing.Chunked;
  return head.contentLength > 0 ? Framing.Length : Framing.None;
}

/**
 * How the body of a parsed response to `method` ends (client side,
 * reading). A response without Content-Length or chunked coding is read to
 * the end of the connection.
 */
export function responseBodyFraming(
  method: string,
  head: ResponseHead,
): Framing {
  if (bodiless(method, head.status)) return Framing.None;
  if (head.chunked) return Framing.Chunked;
  return head.contentLength >= 0 ? Framing.Length : Framing.Close;
}

/** Framing of an outgoing message: the header lines it needs and the rest. */
export interface OutFraming {
  /**
   * Lines to add to the head: Content-Length or Transfer-Encoding, then (for
   * responses) the Connection field.
   */
  fields: string;
  /** How the body bytes go out. */
  framing: Framing;
  /** The connection stays open after the message. */
  keepAlive: boolean;
}

/** The request a response answers, as far as framing cares. */
export interface FramingRequest {
  method: string;
  http10: boolean;
}

/**
 * Frames a response (server side, writing).
 *
 * @param req The request it answers.
 * @param status The response status.
 * @param length The body's length when known; -1 for a body of unknown
 * length (a stream); `null` when the response map has no body.
 * @param declared A Content-Length the handler gave, or -1. It is kept only
 * where no body says otherwise: HEAD and 304 responses, and streams of
 * unknown length (which are then held to it).
 * @param keepAlive Whether the connection may stay open: the request asked
 * for it and nothing (a `Connection: close`, a stopping server) says no.
 * HTTP/1.0 has no chunked coding, so a body of unknown length there ends
 * with the connection.
 */
export function responseFraming(
  req: FramingRequest,
  status: number,
  length: number | null,
  declared: number,
  keepAlive: boolean,
): OutFraming {
  let fields = "";
  let framing: Framing = Framing.None;
  if (status < 200 || status === 204) {
    // no Content-Length at all (RFC 9110 section 8.6)
  } else if (status === 304) {
    if (declared >= 0) fields = contentLength(declared);
  } else if (status === 205) {
    fields = "Content-Length: 0\r\n";
  } else if (req.method === "HEAD") {
    // What a GET would say: the body's length, else the declared one.
    const n = length !== null && length >= 0
      ? length
      : declared >= 0
      ? declared
      : length === null
      ? 0
      : -1;
    if (n >= 0) fields = contentLength(n);
  } else if (length === null || length >= 0) {
    framing = Framing.Length;
    fields = contentLength(length ?? 0);
  } else if (declared >= 0) {
    framing = Framing.Length;
    fields = contentLength(declared);
  } else if (req.http10) {
    framing = Framing.Close;
    keepAlive = false;
  } else {
    framing = Framing.Chunked;
    fields = "Transfer-Encoding: chunked\r\n";
  }
  if (!keepAlive) fields += "Connection: close\r\n";
  else if (req.http10) fields += "Connection: keep-alive\r\n";
  return { fields, framing, keepAlive };
}

/**
 * Frames a request body (client side, writing).
 *
 * @param method The request method, upper-case.
 * @param length The body's length when known; -1 for a stream of unknown
 * length; `null` for no body.
 * @param declared A Content-Length the caller gave, or -1.
 */
export function requestFraming(
  method: string,
  length: number | null,
  declared: number,
): OutFraming {
  if (length === null) {
    // Servers may refuse a POST without a length (411): say it is empty.
    const empty = method === "POST" || method === "PUT" || method === "PATCH";
    return {
      fields: empty ? "Content-Length: 0\r\n" : "",
      framing: Framing.None,
      keepAlive: true,
    };
  }
  const n = length >= 0 ? length : declared;
  if (n >= 0) {
    return {
      fields: contentLength(n),
      framing: Framing.Length,
      keepAlive: true,
    };
  }
  return {
    fields: "Transfer-Encoding: chunked\r\n",
    framing: Framing.Chunked,
    keepAlive: true,
  };
}

function contentLength(n: number): string {
  return "Content-Length: " + n + "\r\n";
}
