// Sans-IO parsing of HTTP/1.1 message heads (RFC 9112), for requests on the
// server side and responses on the client side. Strict on everything that
// enables request smuggling; no I/O, no timers, no Promises.

import {
  FIELD_VALUE,
  hasToken,
  latin1,
  TARGET,
  TOKEN,
  tokens,
} from "./_chars.ts";
import { ProtocolError } from "./errors.ts";

const CR = 0x0d, LF = 0x0a, SP = 0x20, HTAB = 0x09, COLON = 0x3a;

/** Size limits applied while parsing a head. */
export interface HeadLimits {
  /** Longest request/status line or header line, in bytes (-> 414). */
  maxLine: number;
  /** Largest whole head, in bytes (-> 431). */
  maxHeaderBytes: number;
}

/** Header fields keyed by lower-case name; repeats joined by "," (Cookie ";"). */
export type HeaderMap = Record<string, string>;

/** What both request and response heads tell about the message framing. */
interface Framing {
  headers: HeaderMap;
  /** Declared Content-Length, or -1 when absent. */
  contentLength: number;
  /** Transfer-Encoding ends with chunked. */
  chunked: boolean;
  /** Raw Transfer-Encoding value, or null. */
  transferEncoding: string | null;
  /** Connection header value, or null. */
  connection: string | null;
  /** Host header value, or null; `hostCount` counts Host lines. */
  host: string | null;
  hostCount: number;
  /** Offset just past the head's blank line. */
  headEnd: number;
}

/** A parsed request head with its body framing. */
export interface RequestHead extends Framing {
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
  /** `Expect: 100-continue` was sent. */
  expectContinue: boolean;
}

/** A parsed response head with its body framing. */
export interface ResponseHead extends Framing {
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

function bad(message: string): never {
  throw new ProtocolError(400, message);
}

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

function newFraming(): Framing {
  return {
    headers: {},
    contentLength: -1,
    chunked: false,
    transferEncoding: null,
    connection: null,
    host: null,
    hostCount: 0,
    headEnd: 0,
  };
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
  const f = newFraming() as RequestHead;
  const text = parseFields(b, start, i + 2, headEnd, limits, f, true);
  f.method = method;
  const target = text.slice(ts - start, te - start);
  f.target = target;
  f.http10 = http10;
  splitTarget(f, target, method);
  checkRequestFraming(f);
  const conn = f.connection;
  f.keepAlive = keepAlive(http10, conn);
  const expect = f.headers["expect"];
  f.expectContinue = expect !== undefined &&
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

function checkRequestFraming(f: RequestHead): void {
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
 * Reads a Transfer-Encoding value: `true` when it is exactly `chunked`.
 * Codings we do not implement answer `unknownStatus`.
 */
function chunkedCoding(value: string, unknownStatus: number): boolean {
  const list = tokens(value);
  if (list.length === 0) bad("Empty Transfer-Encoding");
  const last = list[list.length - 1];
  for (let k = 0; k < list.length - 1; k++) {
    if (list[k] === "chunked") bad("chunked must be the final transfer-coding");
  }
  for (const t of list) {
    if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(t)) {
      bad("Malformed Transfer-Encoding");
    }
  }
  if (last !== "chunked" || list.length > 1) {
    // A response may stack codings; it is still chunk-framed when chunked is last.
    if (unknownStatus === 0) return last === "chunked";
    throw new ProtocolError(
      unknownStatus,
      `Unsupported transfer-coding: ${value.slice(0, 64)}`,
    );
  }
  return true;
}

// Clients send the same Host on every request: remember the last good one.
let lastHost = "";

/** Checks a Host value: reg-name, IPv4 or [IPv6], with an optional port. */
export function validHost(h: string): boolean {
  if (h === lastHost) return true;
  if (!checkHost(h)) return false;
  lastHost = h;
  return true;
}

function checkHost(h: string): boolean {
  if (h.length === 0 || h.length > 255) return false;
  let end = h.length;
  if (h.charCodeAt(0) === 0x5b) {
    const close = h.indexOf("]");
    if (close < 2 || !/^[0-9a-fA-F:.]+$/.test(h.slice(1, close))) return false;
    if (close === h.length - 1) return true;
    return h.charCodeAt(close + 1) === COLON &&
      /^[0-9]*$/.test(h.slice(close + 2));
  }
  const colon = h.indexOf(":");
  if (colon !== -1) {
    if (!/^[0-9]*$/.test(h.slice(colon + 1))) return false;
    end = colon;
  }
  if (end === 0) return false;
  for (let k = 0; k < end; k++) {
    const c = h.charCodeAt(k);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e || c === 0x25 ||
      c === 0x21 ||
      c === 0x24 || (c >= 0x26 && c <= 0x2c) || c === 0x3b || c === 0x3d;
    if (!ok) return false;
  }
  return true;
}

// Field spans of the head being parsed: name start/end, value start/end.
let spans = new Int32Array(256);
const utf8 = new TextDecoder();

/**
 * Parses header lines from `i` to the blank line ending at `headEnd`, filling
 * `f`. `request` selects request-only rules (Host). `lineStart` of the head
 * is `from`: the whole head is decoded to text once and fields are sliced
 * from it, which costs a tenth of decoding each field on its own.
 */
function parseFields(
  b: Uint8Array,
  from: number,
  i: number,
  headEnd: number,
  limits: HeadLimits,
  f: Framing,
  request: boolean,
  high = 0,
): string {
  const maxLine = limits.maxLine;
  let n = 0;
  for (;;) {
    const lineStart = i;
    const c = b[i];
    if (c === CR) {
      if (b[i + 1] !== LF) bad("Bare CR in head");
      f.headEnd = i + 2;
      if (f.headEnd !== headEnd) bad("Malformed head");
      break;
    }
    if (c === LF) bad("Bare LF in head");
    if (c === SP || c === HTAB) bad("Obsolete line folding");
    while (TOKEN[b[i]] === 1) i++;
    if (i === lineStart) bad("Invalid header name");
    if (b[i] !== COLON) {
      bad(
        b[i] === SP || b[i] === HTAB
          ? "Whitespace before colon"
          : "Invalid header name",
      );
    }
    const ne = i++;
    while (b[i] === SP || b[i] === HTAB) i++;
    const vs = i;
    let v: number;
    while ((v = FIELD_VALUE[b[i]]) !== 0) {
      high |= v;
      i++;
    }
    if (b[i] !== CR || b[i + 1] !== LF) {
      bad(b[i] === LF ? "Bare LF in head" : "Invalid header value");
    }
    let ve = i;
    while (ve > vs && (b[ve - 1] === SP || b[ve - 1] === HTAB)) ve--;
    if (i - lineStart > maxLine) {
      throw new ProtocolError(414, "Header line too long");
    }
    i += 2;
    if (n + 4 > spans.length) {
      const more = new Int32Array(spans.length * 2);
      more.set(spans);
      spans = more;
    }
    spans[n] = lineStart - from;
    spans[n + 1] = ne - from;
    spans[n + 2] = vs - from;
    spans[n + 3] = ve - from;
    n += 4;
  }
  // Field values may hold obs-text bytes: then decode as latin1, byte for
  // byte, so nothing is lost or replaced.
  const text = (high & 2) === 0
    ? utf8.decode(b.subarray(from, headEnd))
    : latin1(b, from, headEnd);
  const headers = f.headers;
  for (let k = 0; k < n; k += 4) {
    const name = text.slice(spans[k], spans[k + 1]).toLowerCase();
    const value = text.slice(spans[k + 2], spans[k + 3]);
    if (!addField(f, headers, name, value, request) && request) {
      bad("Invalid Host header");
    }
  }
  return text;
}

/** Records one field; returns false for a field that must be refused. */
function addField(
  f: Framing,
  headers: HeaderMap,
  name: string,
  value: string,
  request: boolean,
): boolean {
  switch (name.length) {
    case 4:
      if (name === "host") {
        f.hostCount++;
        f.host = value;
        if (request && f.hostCount > 1) return false;
      }
      break;
    case 10:
      if (name === "connection") {
        f.connection = f.connection === null
          ? value
          : f.connection + "," + value;
      }
      break;
    case 14:
      if (name === "content-length") {
        if (f.contentLength !== -1) bad("Duplicate Content-Length");
        f.contentLength = parseLength(value);
      }
      break;
    case 17:
      if (name === "transfer-encoding") {
        f.transferEncoding = f.transferEncoding === null
          ? value
          : f.transferEncoding + "," + value;
      }
      break;
  }
  // Own fields only: `constructor` must not find Object.prototype's.
  const prev = Object.hasOwn(headers, name) ? headers[name] : undefined;
  if (prev === undefined) {
    if (name === "__proto__") {
      Object.defineProperty(headers, name, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      headers[name] = value;
    }
  } else {
    headers[name] = prev + (name === "cookie" ? ";" : ",") + value;
  }
  return true;
}

function parseLength(value: string): number {
  const n = value.length;
  if (n === 0 || n > 15) bad("Invalid Content-Length");
  let v = 0;
  for (let k = 0; k < n; k++) {
    const c = value.charCodeAt(k) - 0x30;
    if (c < 0 || c > 9) bad("Invalid Content-Length");
    v = v * 10 + c;
  }
  return v;
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
  const f = newFraming() as ResponseHead;
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

/**
 * Persistence by RFC 9112 section 9.3: `close` always wins; HTTP/1.0 needs
 * `keep-alive`.
 */
function keepAlive(http10: boolean, conn: string | null): boolean {
  if (conn === null) return !http10;
  if (hasToken(conn, "close")) return false;
  return !http10 || hasToken(conn, "keep-alive");
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
