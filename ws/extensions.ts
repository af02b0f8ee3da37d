// permessage-deflate negotiation (RFC 7692 section 5 and 7): the
// Sec-WebSocket-Extensions grammar, the server's answer to an offer, the
// client's offer and its reading of the answer. The compression itself is
// deflate.ts.

import { supportsContextTakeover } from "./_zlib.ts";

/**
 * Server-side permessage-deflate settings.
 *
 * @example Ask clients not to keep a compression context
 * ```ts
 * import assert from "node:assert/strict";
 * const opts: DeflateOptions = { clientNoContextTakeover: true, level: 1 };
 * assert.ok(negotiateDeflate("permessage-deflate", opts)?.params.clientNoContextTakeover);
 * ```
 */
export interface DeflateOptions {
  /** Reset the server's compressor after every message. Defaults to false. */
  serverNoContextTakeover?: boolean;
  /** Ask the client to reset its compressor after every message. Defaults to false. */
  clientNoContextTakeover?: boolean;
  /** Largest window (8..15) the server compresses with. Defaults to 15. */
  serverMaxWindowBits?: number;
  /**
   * Window (8..15) to ask the client for, when its offer allows it
   * (`client_max_window_bits`). Defaults to not asking.
   */
  clientMaxWindowBits?: number;
  /** zlib compression level, 0..9. Defaults to 6. */
  level?: number;
  /** zlib memLevel, 1..9: memory against speed. Defaults to 8. */
  memLevel?: number;
  /** Data messages shorter than this many bytes are sent uncompressed. Defaults to 0. */
  threshold?: number;
}

/**
 * The parameters agreed for one connection.
 *
 * @example Defaults of a bare `permessage-deflate`
 * ```ts
 * import assert from "node:assert/strict";
 * const p: DeflateParams = parseDeflateResponse("permessage-deflate")!;
 * assert.deepEqual(p, {
 *   serverNoContextTakeover: false,
 *   clientNoContextTakeover: false,
 *   serverMaxWindowBits: 15,
 *   clientMaxWindowBits: 15,
 * });
 * ```
 */
export interface DeflateParams {
  /** The server resets its compressor after every message. */
  serverNoContextTakeover: boolean;
  /** The client resets its compressor after every message. */
  clientNoContextTakeover: boolean;
  /** Window bits (8..15) of the server's compressor. */
  serverMaxWindowBits: number;
  /** Window bits (8..15) of the client's compressor. */
  clientMaxWindowBits: number;
}

/**
 * One extension from a `Sec-WebSocket-Extensions` header: its name and its
 * parameters in order, `true` for a parameter without a value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const [ext]: Extension[] = parseExtensions("foo; a=1; b")!;
 * assert.ok(ext.name === "foo" && ext.params[1][1] === true);
 * ```
 */
export interface Extension {
  /** The extension token, as sent. */
  name: string;
  /** Parameters in order; quoted values are unquoted. */
  params: [string, string | true][];
}

function _isTokenChar(c: number): boolean {
  // RFC 7230 tchar
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c));
}

/**
 * Parses a `Sec-WebSocket-Extensions` value (`1#(token *(";" param))`, where
 * a param is `token ["=" (token / quoted-string)]`).
 *
 * @param value The header value; repeated headers joined with ",".
 * @returns The extensions in order, or `null` when the value is malformed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseExtensions('a; x="1", b'), [
 *   { name: "a", params: [["x", "1"]] },
 *   { name: "b", params: [] },
 * ]);
 * assert.equal(parseExtensions("a;;"), null);
 * ```
 */
export function parseExtensions(value: string): Extension[] | null {
  const out: Extension[] = [];
  const n = value.length;
  let i = 0;
  const ws = (): void => {
    while (i < n && (value[i] === " " || value[i] === "\t")) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && _isTokenChar(value.charCodeAt(i))) i++;
    return value.slice(start, i);
  };
  for (;;) {
    ws();
    if (i < n && value[i] === ",") { // empty list element
      i++;
      continue;
    }
    if (i >= n) break;
    const name = token();
    if (name === "") return null;
    const ext: Extension = { name, params: [] };
    ws();
    while (i < n && value[i] === ";") {
      i++;
      ws();
      const key = token();
      if (key === "") return null;
      ws();
      let val: string | true = true;
      if (i < n && value[i] === "=") {
        i++;
        ws();
        if (value[i] === '"') {
          i++;
          let s = "";
          for (;;) {
            if (i >= n) return null;
            const c = value[i++];
            if (c === '"') break;
            if (c === "\\") {
              if (i >= n) return null;
              s += value[i++];
            } else s += c;
          }
          val = s;
        } else {
          val = token();
          if (val === "") return null;
        }
        ws();
      }
      ext.params.push([key, val]);
    }
    out.push(ext);
    if (i >= n) break;
    if (value[i] !== ",") return null;
    i++;
  }
  return out;
}

function _bits(v: string | true): number | null {
  if (v === true || !/^(8|9|1[0-5])$/.test(v)) return null;
  return Number(v);
}

/** Parameters of one permessage-deflate element, `null` if any is invalid or repeated. */
function _readParams(params: [string, string | true][]): {
  snct: boolean;
  cnct: boolean;
  smwb: number | null;
  cmwb: number | true | null;
} | null {
  const seen = new Set<string>();
  const r = {
    snct: false,
    cnct: false,
    smwb: null as number | null,
    cmwb: null as number | true | null,
  };
  for (const [key, val] of params) {
    const k = key.toLowerCase();
    if (seen.has(k)) return null;
    seen.add(k);
    if (
      k === "server_no_context_takeover" || k === "client_no_context_takeover"
    ) {
      if (val !== true) return null;
      if (k[0] === "s") r.snct = true;
      else r.cnct = true;
    } else if (k === "server_max_window_bits") {
      const b = _bits(val);
      if (b === null) return null;
      r.smwb = b;
    } else if (k === "client_max_window_bits") {
      if (val === true) r.cmwb = true;
      else {
        const b = _bits(val);
        if (b === null) return null;
        r.cmwb = b;
      }
    } else return null;
  }
  return r;
}

/**
 * Server side: picks the first acceptable permessage-deflate offer of a
 * client's `Sec-WebSocket-Extensions` value.
 *
 * An offer is declined when it has an unknown, repeated or invalid parameter.
 * `server_max_window_bits` is honoured (answered with the smaller of it and
 * `opts.serverMaxWindowBits`); `client_max_window_bits` is answered only when
 * `opts.clientMaxWindowBits` is set; `client_no_context_takeover` is echoed.
 *
 * @param header The client's `Sec-WebSocket-Extensions` value.
 * @param opts Server settings.
 * @returns The response header value and the agreed parameters, or `null`
 * when no offer is acceptable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const r = negotiateDeflate("x-foo, permessage-deflate; server_max_window_bits=10");
 * assert.equal(r?.response, "permessage-deflate; server_max_window_bits=10");
 * assert.equal(negotiateDeflate("permessage-deflate; foo=1"), null);
 * ```
 */
export function negotiateDeflate(
  header: string,
  opts: DeflateOptions = {},
): { response: string; params: DeflateParams } | null {
  const exts = parseExtensions(header);
  if (exts === null) return null;
  const persistent = supportsContextTakeover();
  for (const ext of exts) {
    if (ext.name.toLowerCase() !== "permessage-deflate") continue;
    const o = _readParams(ext.params);
    if (o === null) continue;
    const params: DeflateParams = {
      serverNoContextTakeover: o.snct || !!opts.serverNoContextTakeover ||
        !persistent,
      clientNoContextTakeover: o.cnct || !!opts.clientNoContextTakeover ||
        !persistent,
      serverMaxWindowBits: Math.min(
        o.smwb ?? 15,
        opts.serverMaxWindowBits ?? 15,
      ),
      clientMaxWindowBits: 15,
    };
    let response = "permessage-deflate";
    if (params.serverNoContextTakeover) {
      response += "; server_no_context_takeover";
    }
    if (params.clientNoContextTakeover) {
      response += "; client_no_context_takeover";
    }
    if (o.smwb !== null) {
      response += `; server_max_window_bits=${params.serverMaxWindowBits}`;
    }
    if (o.cmwb !== null && opts.clientMaxWindowBits !== undefined) {
      params.clientMaxWindowBits = Math.min(
        opts.clientMaxWindowBits,
        o.cmwb === true ? 15 : o.cmwb,
      );
      response += `; client_max_window_bits=${params.clientMaxWindowBits}`;
    }
    return { response, params };
  }
  return null;
}

/**
 * Client side: the `Sec-WebSocket-Extensions` offer to send.
 *
 * @returns `permessage-deflate; client_max_window_bits`, plus both
 * no-context-takeover parameters when context takeover is unavailable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.ok(deflateOffer().startsWith("permessage-deflate"));
 * ```
 */
export function deflateOffer(): string {
  return supportsContextTakeover()
    ? "permessage-deflate; client_max_window_bits"
    : "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits";
}

/**
 * Client side: checks a server's `Sec-WebSocket-Extensions` answer to
 * {@linkcode deflateOffer}.
 *
 * @param value The response header value.
 * @returns The agreed parameters, or `null` if the answer is not exactly one
 * valid permessage-deflate element that fits the offer (the client must then
 * fail the connection).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const p = parseDeflateResponse("permessage-deflate; client_max_window_bits=10");
 * assert.equal(p?.clientMaxWindowBits, 10);
 * assert.equal(parseDeflateResponse("permessage-deflate; client_max_window_bits"), null);
 * ```
 */
export function parseDeflateResponse(value: string): DeflateParams | null {
  const exts = parseExtensions(value);
  if (exts === null || exts.length !== 1) return null;
  const [ext] = exts;
  if (ext.name.toLowerCase() !== "permessage-deflate") return null;
  const o = _readParams(ext.params);
  // RFC 7692 section 7.1.2.1: a server may limit its own window even when
  // the offer did not ask; our inflater's 15-bit window reads any smaller one.
  if (o === null || o.cmwb === true) return null;
  if (!supportsContextTakeover() && !o.snct) return null;
  return {
    serverNoContextTakeover: o.snct,
    clientNoContextTakeover: o.cnct || !supportsContextTakeover(),
    serverMaxWindowBits: o.smwb ?? 15,
    clientMaxWindowBits: o.cmwb ?? 15,
  };
}

// ---------------------------------------------------------------------------
