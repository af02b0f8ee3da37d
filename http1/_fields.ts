// Header fields of a message head: the field lines parsed into a map, and
// what they tell about framing and persistence (Content-Length,
// Transfer-Encoding, Connection, Host). Shared by request and response heads
// (head.ts); strict on everything that enables request smuggling.

import { FIELD_VALUE, hasToken, latin1, TOKEN, tokens } from "./_chars.ts";
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
export interface HeadFields {
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

export function bad(message: string): never {
  throw new ProtocolError(400, message);
}

export function newHeadFields(): HeadFields {
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
 * Reads a Transfer-Encoding value: `true` when it is exactly `chunked`.
 * Codings we do not implement answer `unknownStatus`.
 */
export function chunkedCoding(value: string, unknownStatus: number): boolean {
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
export function parseFields(
  b: Uint8Array,
  from: number,
  i: number,
  headEnd: number,
  limits: HeadLimits,
  f: HeadFields,
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
  f: HeadFields,
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
 * Persistence by RFC 9112 section 9.3: `close` always wins; HTTP/1.0 needs
 * `keep-alive`.
 */
export function keepAlive(http10: boolean, conn: string | null): boolean {
  if (conn === null) return !http10;
  if (hasToken(conn, "close")) return false;
  return !http10 || hasToken(conn, "keep-alive");
}
