/**
 * The WebSocket opening handshake (RFC 6455 section 4), both sides, as pure
 * functions of the request or response head: validation, the
 * `Sec-WebSocket-Accept` key (synchronous SHA-1), subprotocol selection and
 * permessage-deflate negotiation.
 *
 * @example Server side
 * ```ts
 * import assert from "node:assert/strict";
 * const r = checkUpgrade("GET", "HTTP/1.1", {
 *   upgrade: "websocket",
 *   connection: "keep-alive, Upgrade",
 *   "sec-websocket-version": "13",
 *   "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
 * });
 * assert.ok(r.ok);
 * assert.equal(r.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
 * ```
 *
 * @module
 */

import { PerMessageDeflate } from "./deflate.ts";
import {
  deflateOffer,
  type DeflateOptions,
  negotiateDeflate,
  parseDeflateResponse,
} from "./extensions.ts";

const _GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** SHA-1 (FIPS 180-4) of `bytes`. */
function _sha1(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  const blocks = ((n + 8) >>> 6) + 1;
  const buf = new Uint8Array(blocks * 64);
  buf.set(bytes);
  buf[n] = 0x80;
  const bits = n * 8;
  const view = new DataView(buf.buffer);
  view.setUint32(buf.length - 8, Math.floor(bits / 0x100000000));
  view.setUint32(buf.length - 4, bits >>> 0);
  let h0 = 0x67452301,
    h1 = 0xefcdab89,
    h2 = 0x98badcfe,
    h3 = 0x10325476,
    h4 = 0xc3d2e1f0;
  const w = new Uint32Array(80);
  for (let b = 0; b < blocks; b++) {
    for (let t = 0; t < 16; t++) w[t] = view.getUint32(b * 64 + t * 4);
    for (let t = 16; t < 80; t++) {
      const x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
      w[t] = (x << 1) | (x >>> 31);
    }
    let a = h0, bb = h1, c = h2, d = h3, e = h4;
    for (let t = 0; t < 80; t++) {
      let f: number, k: number;
      if (t < 20) {
        f = (bb & c) | (~bb & d);
        k = 0x5a827999;
      } else if (t < 40) {
        f = bb ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (t < 60) {
        f = (bb & c) | (bb & d) | (c & d);
        k = 0x8f1bbcdc;
      } else {
        f = bb ^ c ^ d;
        k = 0xca62c1d6;
      }
      const tmp = (((a << 5) | (a >>> 27)) + f + e + k + w[t]) | 0;
      e = d;
      d = c;
      c = (bb << 30) | (bb >>> 2);
      bb = a;
      a = tmp;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + bb) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  const out = new Uint8Array(20);
  const ov = new DataView(out.buffer);
  ov.setUint32(0, h0);
  ov.setUint32(4, h1);
  ov.setUint32(8, h2);
  ov.setUint32(12, h3);
  ov.setUint32(16, h4);
  return out;
}

function _base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

/**
 * Computes `Sec-WebSocket-Accept` for a key:
 * `base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))`.
 *
 * @param key The `Sec-WebSocket-Key` value.
 * @returns The accept value.
 *
 * @example The RFC 6455 example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.ok(acceptKey("dGhlIHNhbXBsZSBub25jZQ==") === "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
 * ```
 */
export function acceptKey(key: string): string {
  return _base64(_sha1(new TextEncoder().encode(key + _GUID)));
}

/**
 * A random `Sec-WebSocket-Key` for a client: base64 of 16 random bytes.
 *
 * @returns 24 characters of base64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.ok(/^[A-Za-z0-9+/]{22}==$/.test(generateKey()));
 * ```
 */
export function generateKey(): string {
  return _base64(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * The outcome of {@linkcode checkUpgrade}: what to answer with `101 Switching
 * Protocols`, or the error response to send instead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const r: HandshakeResult = checkUpgrade("POST", "HTTP/1.1", {});
 * assert.ok(!r.ok && r.status === 400);
 * ```
 */
export type HandshakeResult =
  | {
    ok: true;
    /** The client's `Sec-WebSocket-Key`. */
    key: string;
    /** The `Sec-WebSocket-Accept` value to send. */
    accept: string;
    /** The `Sec-WebSocket-Protocol` value to send, if any. */
    protocol: string | null;
    /** The `Sec-WebSocket-Extensions` value to send, if any. */
    extensions: string | null;
    /** The connection's compression state when permessage-deflate was agreed. */
    deflate: PerMessageDeflate | null;
  }
  | {
    ok: false;
    /** HTTP status of the error response (400 or 426). */
    status: number;
    /** A short reason for the response body. */
    reason: string;
    /** Headers to add to the error response. */
    headers?: Record<string, string>;
  };

/** Comma-separated list elements, trimmed, empty ones dropped. */
function _list(value: string | undefined): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const part of value.split(",")) {
    const t = part.trim();
    if (t !== "") out.push(t);
  }
  return out;
}

function _hasToken(value: string | undefined, token: string): boolean {
  return _list(value).some((t) => t.toLowerCase() === token);
}

const _KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

function _fail(
  status: number,
  reason: string,
  headers?: Record<string, string>,
): HandshakeResult {
  return headers === undefined
    ? { ok: false, status, reason }
    : { ok: false, status, reason, headers };
}

/**
 * Server side: validates an upgrade request and negotiates subprotocol and
 * permessage-deflate.
 *
 * The request must be a `GET` over HTTP/1.1, with `Upgrade: websocket`,
 * `Connection: upgrade` (as tokens of comma lists, any case),
 * `Sec-WebSocket-Version: 13` (otherwise 426 with `Sec-WebSocket-Version: 13`)
 * and a `Sec-WebSocket-Key` that is canonical base64 of 16 bytes; any other
 * failure gives 400.
 *
 * The subprotocol is the client's first offered protocol that is in
 * `opts.protocols`; none matching, the handshake still succeeds without one
 * (the client decides). permessage-deflate is on unless `opts.deflate` is
 * `false`; the first acceptable offer wins.
 *
 * @param method The request method.
 * @param httpVersion The request's HTTP version.
 * @param headers Request headers with lower-case names, repeated values
 * joined with ",".
 * @param opts Supported subprotocols and deflate settings.
 * @returns The handshake result.
 *
 * @example Subprotocol and compression
 * ```ts
 * import assert from "node:assert/strict";
 * const r = checkUpgrade("GET", "HTTP/1.1", {
 *   upgrade: "websocket",
 *   connection: "Upgrade",
 *   "sec-websocket-version": "13",
 *   "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
 *   "sec-websocket-protocol": "v2.chat, v1.chat",
 *   "sec-websocket-extensions": "permessage-deflate",
 * }, { protocols: ["v1.chat", "v2.chat"] });
 * assert.ok(r.ok);
 * assert.equal(r.protocol, "v2.chat");
 * assert.equal(r.extensions, "permessage-deflate");
 * ```
 */
export function checkUpgrade(
  method: string,
  httpVersion: "HTTP/1.1" | "HTTP/1.0",
  headers: Record<string, string>,
  opts: { protocols?: string[]; deflate?: boolean | DeflateOptions } = {},
): HandshakeResult {
  if (method !== "GET") {
    return _fail(400, `WebSocket upgrade needs GET, not ${method}`);
  }
  if (httpVersion !== "HTTP/1.1") {
    return _fail(400, `WebSocket upgrade needs HTTP/1.1, not ${httpVersion}`);
  }
  if (!_hasToken(headers["upgrade"], "websocket")) {
    return _fail(400, "Missing Upgrade: websocket");
  }
  if (!_hasToken(headers["connection"], "upgrade")) {
    return _fail(400, "Missing Connection: upgrade");
  }
  if (headers["sec-websocket-version"]?.trim() !== "13") {
    return _fail(426, "Unsupported Sec-WebSocket-Version", {
      "sec-websocket-version": "13",
    });
  }
  const key = headers["sec-websocket-key"]?.trim() ?? "";
  if (!_KEY.test(key)) return _fail(400, "Invalid Sec-WebSocket-Key");

  let protocol: string | null = null;
  const supported = opts.protocols ?? [];
  if (supported.length > 0) {
    protocol = _list(headers["sec-websocket-protocol"]).find((p) =>
      supported.includes(p)
    ) ?? null;
  }

  let extensions: string | null = null;
  let deflate: PerMessageDeflate | null = null;
  const offer = headers["sec-websocket-extensions"];
  if (opts.deflate !== false && offer !== undefined) {
    const dopts = typeof opts.deflate === "object" ? opts.deflate : {};
    const agreed = negotiateDeflate(offer, dopts);
    if (agreed !== null) {
      extensions = agreed.response;
      deflate = new PerMessageDeflate("server", agreed.params, dopts);
    }
  }
  return {
    ok: true,
    key,
    accept: acceptKey(key),
    protocol,
    extensions,
    deflate,
  };
}

/**
 * Client side: the `Sec-WebSocket-Extensions` value to offer.
 *
 * @param deflate Whether to offer permessage-deflate.
 * @returns The offer, or `""` (send no header) when `deflate` is false.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.ok(clientOffer(true).startsWith("permessage-deflate"));
 * assert.ok(clientOffer(false) === "");
 * ```
 */
export function clientOffer(deflate: boolean): string {
  return deflate ? deflateOffer() : "";
}

/**
 * Client side: validates the server's answer to an upgrade request.
 *
 * @param status The response status.
 * @param headers Response headers with lower-case names.
 * @param key The `Sec-WebSocket-Key` that was sent.
 * @param offeredProtocols The subprotocols that were offered.
 * @param offeredDeflate Whether {@linkcode clientOffer}`(true)` was sent.
 * @returns The agreed subprotocol and deflate state, or why the connection
 * must fail.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const key = generateKey();
 * const r = checkServerHandshake(101, {
 *   upgrade: "websocket",
 *   connection: "Upgrade",
 *   "sec-websocket-accept": acceptKey(key),
 * }, key, [], false);
 * assert.deepEqual(r, { ok: true, protocol: null, deflate: null });
 * ```
 */
export function checkServerHandshake(
  status: number,
  headers: Record<string, string>,
  key: string,
  offeredProtocols: string[],
  offeredDeflate: boolean,
): { ok: true; protocol: string | null; deflate: PerMessageDeflate | null } | {
  ok: false;
  reason: string;
} {
  if (status !== 101) {
    return { ok: false, reason: `Expected status 101, got ${status}` };
  }
  if (!_hasToken(headers["upgrade"], "websocket")) {
    return { ok: false, reason: "Missing Upgrade: websocket" };
  }
  if (!_hasToken(headers["connection"], "upgrade")) {
    return { ok: false, reason: "Missing Connection: upgrade" };
  }
  if (headers["sec-websocket-accept"]?.trim() !== acceptKey(key)) {
    return { ok: false, reason: "Wrong Sec-WebSocket-Accept" };
  }
  let protocol: string | null = null;
  const p = headers["sec-websocket-protocol"];
  if (p !== undefined) {
    protocol = p.trim();
    if (!offeredProtocols.includes(protocol)) {
      return {
        ok: false,
        reason: `Server chose a subprotocol that was not offered: ${protocol}`,
      };
    }
  }
  let deflate: PerMessageDeflate | null = null;
  const ext = headers["sec-websocket-extensions"];
  if (ext !== undefined && ext.trim() !== "") {
    const params = offeredDeflate ? parseDeflateResponse(ext) : null;
    if (params === null) {
      return {
        ok: false,
        reason: `Unexpected Sec-WebSocket-Extensions: ${ext}`,
      };
    }
    deflate = new PerMessageDeflate("client", params);
  }
  return { ok: true, protocol, deflate };
}
