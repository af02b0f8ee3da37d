// One request/response exchange on a connection: the request head
// serialised (its body framing asked of http1/framing.ts), written with its
// body, then the response read up to its final head. The one place the
// client writes a request and the one place it reads a response head: HTTP
// requests, CONNECT tunnels and WebSocket handshakes all come here.

import { encodeChunk, LAST_CHUNK } from "../http1/chunked.ts";
import { ProtocolError } from "../http1/errors.ts";
import { Framing, requestFraming } from "../http1/framing.ts";
import {
  type HeadLimits,
  parseResponseHead,
  type ResponseHead,
} from "../http1/head.ts";
import {
  latin1Bytes,
  newFlags,
  type OutHeaders,
  userHeaders,
} from "../http1/serialize.ts";
import { type Connection, MIN_READ } from "./_conn.ts";
import { NONE } from "./_encode.ts";
import type { Hop, Settings } from "./_settings.ts";
import { asClientError, ClientError } from "./errors.ts";
import type { PlainRequest, WireRequest } from "./_wire.ts";

const encoder = new TextEncoder();
/** A byte body up to this size goes out in the same write as its head. */
const MERGE_LIMIT = 65536;

/** Which defaults the user's headers override, by lower-case name. */
interface Given {
  host: boolean;
  userAgent: boolean;
  acceptEncoding: boolean;
  authorization: boolean;
}

function given(headers: OutHeaders | undefined): Given {
  const g = {
    host: false,
    userAgent: false,
    acceptEncoding: false,
    authorization: false,
  };
  if (headers === undefined || headers === null) return g;
  for (const name in headers) {
    if (headers[name] == null) continue;
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === "host") g.host = true;
        break;
      case 10:
        if (name.toLowerCase() === "user-agent") g.userAgent = true;
        break;
      case 13:
        if (name.toLowerCase() === "authorization") g.authorization = true;
        break;
      case 15:
        if (name.toLowerCase() === "accept-encoding") g.acceptEncoding = true;
        break;
    }
  }
  return g;
}

/**
 * The request of a hop, ready to write: from the target's cache when the
 * hop is plain (no headers, body, credentials, proxy or unix socket).
 */
export function outgoing(hop: Hop, s: Settings): WireRequest {
  if (
    hop.body.kind !== "none" || hop.auth !== null ||
    (hop.headers !== undefined && hop.headers !== null) || s.proxy !== null ||
    s.unixSocket !== undefined
  ) {
    return serialise(hop, s);
  }
  const t = hop.target;
  const p = t.plain;
  if (
    p !== null && p.method === hop.method && p.userAgent === s.userAgent &&
    p.autoCompression === s.autoCompression &&
    p.out.close === (s.keepalive < 0)
  ) {
    return p.out;
  }
  const out = serialise(hop, s);
  t.plain = {
    method: hop.method,
    userAgent: s.userAgent,
    autoCompression: s.autoCompression,
    out,
  } satisfies PlainRequest;
  return out;
}

/** Serialises the request head of a hop, with its body framing fields. */
function serialise(h: Hop, s: Settings): WireRequest {
  const t = h.target;
  const absolute = s.proxy !== null && !t.https;
  let head = h.method + " " +
    (absolute ? t.href.split("#")[0] : t.path) + " HTTP/1.1\r\n";
  const g = given(h.headers);
  if (!g.host) head += "Host: " + t.host + "\r\n";
  const flags = newFlags();
  try {
    head += userHeaders(h.headers, flags);
  } catch (e) {
    if (e instanceof ProtocolError) {
      throw new ClientError("bad-option", e.message, e);
    }
    throw e;
  }
  if (!g.userAgent && s.userAgent !== "") {
    head += "User-Agent: " + s.userAgent + "\r\n";
  }
  if (s.autoCompression && !g.acceptEncoding) {
    head += "Accept-Encoding: gzip, deflate\r\n";
  }
  if (h.auth !== null && !g.authorization) {
    head += "Authorization: " + h.auth + "\r\n";
  }
  if (absolute && s.proxy!.auth !== null) {
    head += "Proxy-Authorization: " + s.proxy!.auth + "\r\n";
  }
  const b = h.body;
  if (b.kind !== "none" && b.contentType !== undefined && !flags.contentType) {
    head += "Content-Type: " + b.contentType + "\r\n";
  }
  const length = b.kind === "none"
    ? null
    : b.kind === "bytes"
    ? b.bytes.length
    : b.length;
  const f = requestFraming(h.method, length, flags.contentLength);
  head += f.fields;
  const close = flags.close || s.keepalive < 0;
  if (close) head += "Connection: close\r\n";
  head += "\r\n";
  if (b.kind === "bytes" && b.bytes.length <= MERGE_LIMIT) {
    const bytes = latin1Bytes(head, b.bytes.length);
    bytes.set(b.bytes, head.length);
    return { bytes, body: NONE, framing: f.framing, close };
  }
  return { bytes: latin1Bytes(head), body: b, framing: f.framing, close };
}

/** A CONNECT request for a tunnel to `authority` (`host:port`). */
export function connectRequest(
  authority: string,
  auth: string | null,
): WireRequest {
  let head = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  if (auth !== null) head += `Proxy-Authorization: ${auth}\r\n`;
  return {
    bytes: latin1Bytes(head + "\r\n"),
    body: NONE,
    framing: Framing.None,
    close: false,
  };
}

/**
 * Writes a request and reads the response up to its final head (interim
 * 1xx heads are skipped).
 *
 * @param upgrade A 101 is the answer (a WebSocket handshake), not an error.
 * @returns The head; the connection's buffer starts at the body.
 */
export async function exchange(
  c: Connection,
  out: WireRequest,
  limits: HeadLimits,
  upgrade = false,
): Promise<ResponseHead> {
  // The socket is awaited right here, not through c.write() and c.fill():
  // each async frame between a request and its socket costs CPU on every
  // request (measured: a few percent of a keep-alive GET).
  const bytes = out.bytes;
  c.begin();
  let n: number | null;
  try {
    n = await c.conn.write(bytes);
  } catch (e) {
    throw c.ioError(e);
  }
  c.settle();
  if (n < bytes.length) await c.write(bytes.subarray(n));
  const b = out.body;
  if (b.kind === "bytes") await c.write(b.bytes);
  else if (b.kind === "stream") {
    await sendStream(c, b.chunks, out.framing === Framing.Chunked);
  }
  // Only a connection that may carry another response keeps its heads: the
  // first copy costs a buffer, wasted on a one-shot connection.
  const keep = !out.close && !upgrade && c.key !== "";
  for (;;) {
    const head = takeHead(c, limits, keep);
    if (head === null) {
      const dst = c.room(MIN_READ);
      c.begin();
      try {
        n = await c.readRaw(dst);
      } catch (e) {
        throw c.ioError(e);
      }
      c.settle();
      if (n === 0) throw closedBeforeHead(c);
      c.end += n;
      continue;
    }
    c.start = head.headEnd;
    if (head.status >= 200 || (upgrade && head.status === 101)) return head;
    if (head.status === 101) {
      throw new ClientError("protocol", "unexpected 101 Switching Protocols");
    }
  }
}

/** Uploads a body stream, chunked or as it comes (a declared length). */
async function sendStream(
  c: Connection,
  chunks: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  chunked: boolean,
): Promise<void> {
  try {
    for await (const piece of chunks) {
      const data = typeof piece === "string" ? encoder.encode(piece) : piece;
      if (!(data instanceof Uint8Array)) {
        throw new ClientError(
          "unsupported-body",
          "Body streams must yield Uint8Array or string chunks",
        );
      }
      if (data.length === 0) continue;
      await c.write(chunked ? encodeChunk(data) : data);
    }
  } catch (e) {
    // Our own failures are ClientErrors; anything else came from the source.
    throw asClientError(e, "request-body", "The request body stream failed");
  }
  if (chunked) await c.write(latin1Bytes(LAST_CHUNK));
}

/**
 * A complete head at the buffer's start, parsed; null when incomplete.
 *
 * @param keep Remember a parsed head (unless it closes the connection).
 */
function takeHead(
  c: Connection,
  limits: HeadLimits,
  keep: boolean,
): ResponseHead | null {
  const repeat = c.repeatedHead();
  if (repeat !== null) {
    c.resetScan();
    return repeat;
  }
  const he = c.headEnd();
  if (he < 0) {
    if (c.end - c.start > limits.maxHeaderBytes) {
      throw new ClientError(
        "protocol",
        `invalid response: head larger than ${limits.maxHeaderBytes} bytes`,
      );
    }
    return null;
  }
  let head: ResponseHead;
  try {
    head = parseResponseHead(c.buf, c.start, he, limits);
  } catch (e) {
    if (e instanceof ProtocolError) {
      throw new ClientError("protocol", `invalid response: ${e.message}`, e);
    }
    throw e;
  }
  if (keep && head.keepAlive) c.rememberHead(he, head);
  return head;
}

function closedBeforeHead(c: Connection): ClientError {
  return new ClientError(
    "connection-closed",
    c.start === c.end
      ? `connection closed by ${c.where} before a response`
      : `connection closed by ${c.where} in the middle of the response head`,
  );
}
