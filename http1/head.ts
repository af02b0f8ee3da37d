// Sans-IO parsing of HTTP/1.1 message heads (RFC 9112), for requests on the
// server side and responses on the client side. Strict on everything that
// enables request smuggling; no I/O, no timers, no Promises.

import { FIELD_VALUE, latin1, TARGET, TOKEN } from "./_chars.ts";
import { ProtocolError } from "./errors.ts";
import {
  bad,
  chunkedCoding,
  type HeadFields,
  type HeadLimits,
  keepAlive,
  newHeadFields,
  parseFields,
  validHost,
} from "./_fields.ts";

export type { HeaderMap, HeadLimits } from "./_fields.ts";

const CR = 0x0d, LF = 0x0a, SP = 0x20;

/** A parsed request head with its body framing. */
export interface RequestHead extends HeadFields {
  /** Method as sent, e.g. `GET`. */
  method: string;
  /** The request-target as sent. */
  target: string;
  /** Path part of the target (the Ring `uri`). */
  path: string;
  /** Query part after `?`, or null when there is no `?`. */
  query: string | null;
  /** `true` for HTTP/1.0, `false` for HTTP/1.1. */
  http10: boolean;
  /** Authority: from an absolute-form target, else the Host header. */
  authority: string | null;
  /** The connection may be reused after this request. */
  keepAlive: boolean;
  /**
   * `Expect: 100-continue` was sent in an HTTP/1.1 request (a server ignores
   * it from HTTP/1.0, RFC 9110 §10.1.1).
   */
  expectContinue: boolean;
}

/** A parsed response head with its body framing. */
export interface ResponseHead extends HeadFields {
  status: number;
  reason: string;
  http10: boolean;
  /** The connection may be reused after this response. */
  keepAlive: boolean;
}

/** Methods the server accepts; anything else is refused with 400. */
export const METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
  "PROPFIND",
  "PROPPATCH",
  "MKCOL",
  "COPY",
  "MOVE",
  "LOCK",
  "UNLOCK",
  "REPORT",
  "SEARCH",
  "PURGE",
  "MKCALENDAR",
  "ACL",
]);

/**
 * Skips empty lines (CRLF) before a request line, as RFC 9112 section 2.2
 * allows.
 */
export function skipEmptyLines(
  b: Uint8Array,
  start: number,
  end: number,
): number {
  while (start + 1 < end && b[start] === CR && b[start + 1] === LF) start += 2;
  return start;
}

/**
 * Finds the end of a head: the offset just past the first empty line, or -1
 * when the head is not complete yet. `from` lets a caller resume a scan.
 * A bare-LF terminator is reported too, so the full parse can refuse it.
 */
export function findHeadEnd(b: Uint8Array, from: number, end: number): number {
  for (let i = from; i < end; i++) {
    if (b[i] !== LF) continue;
    const n = b[i + 1];
    if (i + 1 < end && n === LF) return i + 2;
    if (i + 2 < end && n === CR && b[i + 2] === LF) return i + 3;
  }
  return -1;
}

/**
 * Throws when an incomplete head already breaks a limit, so a peer cannot make
 * the server buffer without bound while it waits for the blank line.
 */
export function checkPartialHead(
  b: Uint8Array,
  start: number,
  end: number,
  limits: HeadLimits,
): void {
  if (end - start > limits.maxHeaderBytes) {
    throw new ProtocolError(431, "Request header fields too large");
  }
  let lineStart = start;
  for (let i = end - 1; i >= start; i--) {
    if (b[i] === LF) {
      lineStart = i + 1;
      break;
    }
  }
  // A trailing CR may be half of the line's CRLF.
  const len = end - lineStart - (b[end - 1] === CR ? 1 : 0);
  if (len > limits.maxLine) {
    throw new ProtocolError(
      414,
      lineStart === start ? "Request line too long" : "Header line too long",
    );
  }
}

const KNOWN_GET = "GET", KNOWN_POST = "POST", KNOWN_HEAD = "HEAD";

function readMethod(b: Uint8Array, s: number, e: number): string {
  const n = e - s;
  if (n === 3 && b[s] === 0x47 && b[s + 1] === 0x45 && b[s + 2] === 0x54) {
    return KNOWN_GET;
  }
  if (
    n === 4 && b[s + 1] === 0x4f && b[s] === 0x50 && b[s + 2] === 0x53 &&
    b[s + 3] === 0x54
  ) {
    return KNOWN_POST;
  }
  if (
    n === 4 && b[s] === 0x48 && b[s + 1] === 0x45 && b[s + 2] === 0x41 &&
    b[s + 3] === 0x44
  ) {
    return KNOWN_HEAD;
  }
  const m = latin1(b, s, e);
  if (!METHODS.has(m)) bad(`Unknown method: ${m.slice(0, 32)}`);
  return m;
}

/** Parses "HTTP/1.x" at `i`; returns true for 1.0, false for 1.1. */
function readVersion(b: Uint8Array, i: number): boolean {
  if (
    b[i] !== 0x48 || b[i + 1] !== 0x54 || b[i + 2] !== 0x54 ||
    b[i + 3] !== 0x50 ||
    b[i + 4] !== 0x2f || b[i + 5] !== 0x31 || b[i + 6] !== 0x2e
  ) {
    bad("Malformed HTTP version");
  }
  const minor = b[i + 7];
  if (minor === 0x31) return false;
  if (minor === 0x30) return true;
  return bad("Unsupported HTTP version");
}

/**
 * Parses a complete request head in `b[start, headEnd)`, where `headEnd` came
 * from {@linkcode findHeadEnd}.
 *
 * @throws {ProtocolError} with the status to answer (400, 414, 431, 501).
 */
export function parseRequestHead(
  b: Uint8Array,
  start: number,
  headEnd: number,
  limits: HeadLimits,
): RequestHead {
  if (headEnd - start > limits.maxHeaderBytes) {
    throw new ProtocolError(431, "Request header fields too large");
  }
  let i = start;
  while (TOKEN[b[i]] === 1) i++;
  if (i === start || b[i] !== SP) bad("Malformed request line");
  const method = readMethod(b, start, i);
  const ts = ++i;
  while (TARGET[b[i]] === 1) i++;
  if (i === ts || b[i] !== SP) bad("Malformed request target");
  const te = i++;
  const http10 = readVersion(b, i);
  i += 8;
  if (b[i] !== CR || b[i + 1] !== LF) bad("Malformed request line");
  if (i - start > limits.maxLine) {
    throw new ProtocolError(414, "Request line too long");
  }
  const f = newHeadFields() as RequestHead;
  const text = parseFields(b, start, i + 2, headEnd, limits, f, true);
  f.method = method;
  const target = text.slice(ts - start, te - start);
  f.target = target;
  f.http10 = http10;
  splitTarget(f, target, method);
  checkRequestHeadFields(f);
  const conn = f.connection;
  f.keepAlive = keepAlive(http10, conn);
  const expect = f.headers["expect"];
  f.expectContinue = !http10 && expect !== undefined &&
    expect.toLowerCase() === "100-continue";
  return f;
}

function splitTarget(f: RequestHead, target: string, method: string): void {
  let path = target;
  const c0 = target.charCodeAt(0);
  if (c0 === 0x2f && method !== "CONNECT") {
    f.authority = f.host;
  } else if (target === "*" && method === "OPTIONS") {
    f.authority = f.host;
  } else if (method === "CONNECT") {
    // authority-form: host and port, nothing else (RFC 9112 section 3.2.3)
    if (
      !/^[^:/?#]+:[0-9]{1,5}$|^\[[^\]]+\]:[0-9]{1,5}$/.test(target) ||
      !validHost(target)
    ) {
      bad("Malformed CONNECT target");
    }
    f.authority = target;
  } else {
    const m = /^https?:\/\/([^/?#]*)(.*)$/i.exec(target);
    if (m === null) bad("Malformed request target");
    if (!validHost(m[1])) bad("Invalid authority in request target");
    f.authority = m[1];
    path = m[2] === "" ? "/" : m[2];
    if (path.charCodeAt(0) === 0x3f) path = "/" + path;
  }
  const q = path.indexOf("?");
  if (q === -1) {
    f.path = path;
    f.query = null;
  } else {
    f.path = path.slice(0, q);
    f.query = path.slice(q + 1);
  }
}

function checkRequestHeadFields(f: RequestHead): void {
  if (f.hostCount > 1) bad("Multiple Host headers");
  if (f.hostCount === 0) {
    if (!f.http10) bad("Missing Host header");
  } else if (f.host === "" || !validHost(f.host!)) {
    bad("Invalid Host header");
  }
  const te = f.transferEncoding;
  if (te === null) return;
  if (f.http10) bad("Transfer-Encoding in an HTTP/1.0 request");
  if (f.contentLength !== -1) bad("Both Transfer-Encoding and Content-Length");
  f.chunked = chunkedCoding(te, 501);
}

/**
 * Parses a complete response head in `b[start, headEnd)` (client side).
 *
 * @throws {ProtocolError} for a malformed status line or header.
 */
export function parseResponseHead(
  b: Uint8Array,
  start: number,
  headEnd: number,
  limits: HeadLimits,
): ResponseHead {
  if (headEnd - start > limits.maxHeaderBytes) {
    throw new ProtocolError(431, "Response header fields too large");
  }
  const http10 = readVersion(b, start);
  let i = start + 8;
  if (
    b[i] !== SP || !isDigit(b[i + 1]) || !isDigit(b[i + 2]) ||
    !isDigit(b[i + 3]) ||
    (b[i + 4] !== SP && b[i + 4] !== CR)
  ) {
    bad("Malformed status line");
  }
  const status = (b[i + 1] - 0x30) * 100 + (b[i + 2] - 0x30) * 10 +
    (b[i + 3] - 0x30);
  if (status < 100) bad("Malformed status line");
  i += 4;
  let rs = i;
  if (b[i] === SP) rs = ++i;
  let high = 0;
  let v: number;
  while ((v = FIELD_VALUE[b[i]]) !== 0) {
    high |= v;
    i++;
  }
  if (b[i] !== CR || b[i + 1] !== LF) bad("Malformed status line");
  if (i - start > limits.maxLine) {
    throw new ProtocolError(414, "Status line too long");
  }
  const f = newHeadFields() as ResponseHead;
  f.status = status;
  f.http10 = http10;
  const text = parseFields(b, start, i + 2, headEnd, limits, f, false, high);
  f.reason = text.slice(rs - start, i - start);
  if (f.transferEncoding !== null) {
    if (f.contentLength !== -1) {
      bad("Both Transfer-Encoding and Content-Length");
    }
    f.chunked = chunkedCoding(f.transferEncoding, 0);
  }
  f.keepAlive = keepAlive(http10, f.connection);
  return f;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
