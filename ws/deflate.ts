/**
 * permessage-deflate (RFC 7692): negotiation of the `Sec-WebSocket-Extensions`
 * header and per-message compression with `node:zlib`.
 *
 * Context takeover is supported: each connection keeps one raw deflate and
 * one raw inflate stream and drives them synchronously with `Z_SYNC_FLUSH`
 * through the zlib binding handle of Deno's `node:zlib` (`_handle.writeSync`,
 * the call Node's own sync path makes). That handle is not a public API, so
 * the module probes it once; without it, it falls back to one-shot
 * `deflateRawSync`/`inflateRawSync` per message and negotiates no context
 * takeover in both directions.
 *
 * Decompression is bounded: output stops one byte past the room left in the
 * message, which raises a {@linkcode WsProtocolError} with code 1009.
 *
 * Window bits: the inflater always works (a larger window than the peer's is
 * harmless). zlib refuses an 8-bit window for raw deflate, so a compressor
 * asked for 8 bits runs with 9; zlib never emits a distance above
 * 2^bits - 262 (250 for 9 bits), which stays inside the 256-byte window the
 * peer asked for.
 *
 * @example Negotiate, then compress on one side and decompress on the other
 * ```ts
 * import assert from "node:assert/strict";
 * const accepted = negotiateDeflate("permessage-deflate; client_max_window_bits");
 * assert.ok(accepted);
 * const server = new PerMessageDeflate("server", accepted.params);
 * const client = new PerMessageDeflate("client", parseDeflateResponse(accepted.response)!);
 * const wire = server.compress(new TextEncoder().encode("hello"));
 * const back = client.decompress(wire, true, 1024);
 * assert.equal(new TextDecoder().decode(back), "hello");
 * ```
 *
 * @module
 */

import zlib from "node:zlib";
import { WsProtocolError } from "./errors.ts";
import { concat } from "../_bytes.ts";

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

const _TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
const _EMPTY: Uint8Array = new Uint8Array(0);
const _SYNC = zlib.constants.Z_SYNC_FLUSH;

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
// zlib engines

interface _ZHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  reset(): void;
  close(): void;
  onerror: (message: string, errno: number) => void;
}

class _TooBig extends Error {}

/** A persistent raw deflate or inflate stream driven synchronously. */
const _sharedDeflaters = new Map<string, _ZStream>();
let _sharedInflater: _ZStream | null = null;

function _sharedDeflater(
  bits: number,
  level: number,
  memLevel: number,
): _ZStream {
  const key = `${bits}/${level}/${memLevel}`;
  let z = _sharedDeflaters.get(key);
  if (z === undefined) {
    z = new _ZStream(false, bits, level, memLevel);
    _sharedDeflaters.set(key, z);
  }
  return z;
}

class _ZStream {
  #h: _ZHandle;
  #state: Uint32Array;
  #err: string | null = null;
  #inflate: boolean;

  constructor(
    inflate: boolean,
    windowBits: number,
    level: number,
    memLevel: number,
  ) {
    this.#inflate = inflate;
    // deno-lint-ignore no-explicit-any
    const s: any = inflate
      ? zlib.createInflateRaw({ windowBits })
      : zlib.createDeflateRaw({ windowBits, level, memLevel });
    this.#h = s._handle;
    this.#state = s._writeState;
    this.#h.onerror = (message: string) => {
      this.#err = message;
    };
  }

  /**
   * Runs `input` through the stream with Z_SYNC_FLUSH and returns the output.
   * Throws `_TooBig` when the output would exceed `limit`. For an inflater,
   * a stream that ends (BFINAL) is reset; input after the end goes on into
   * the fresh stream unless `dropAfterEnd`.
   */
  run(input: Uint8Array, limit: number, dropAfterEnd: boolean): Uint8Array {
    const parts: Uint8Array[] = [];
    let total = 0;
    let inOff = 0;
    let inLen = input.length;
    const hint = this.#inflate
      ? Math.min(Math.max(inLen * 4, 1024), 65536)
      : inLen + 64;
    for (;;) {
      const size = Math.min(hint, limit - total + 1);
      const out = new Uint8Array(size);
      this.#h.writeSync(_SYNC, input, inOff, inLen, out, 0, size);
      if (this.#err !== null) {
        const msg = this.#err;
        this.#err = null;
        throw new WsProtocolError(1007, `Invalid compressed data: ${msg}`);
      }
      const availOut = this.#state[0];
      const availIn = this.#state[1];
      const have = size - availOut;
      if (have > 0) {
        parts.push(have === size ? out : out.subarray(0, have));
        total += have;
        if (total > limit) throw new _TooBig();
      }
      inOff += inLen - availIn;
      inLen = availIn;
      if (availOut === 0) continue;
      if (inLen > 0 && this.#inflate) {
        // The stream ended (a BFINAL block) before the input did.
        this.#h.reset();
        if (!dropAfterEnd) continue;
      }
      break;
    }
    return concat(parts, total);
  }

  reset(): void {
    this.#h.reset();
  }

  close(): void {
    this.#h.close();
  }
}

let _persistent: boolean | null = null;

/**
 * Whether this runtime lets a connection keep its zlib streams between
 * messages (context takeover). Probed once.
 *
 * @returns True when persistent synchronous zlib streams work.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.ok(typeof supportsContextTakeover() === "boolean");
 * ```
 */
export function supportsContextTakeover(): boolean {
  if (_persistent === null) {
    try {
      const d = new _ZStream(false, 15, 6, 8);
      const i = new _ZStream(true, 15, 6, 8);
      const msg = new TextEncoder().encode("context takeover probe");
      let ok = true;
      for (let k = 0; k < 2; k++) {
        const c = d.run(msg, Infinity, false);
        const back = i.run(c, 1024, false);
        ok &&= back.length === msg.length && back.every((b, j) => b === msg[j]);
      }
      d.close();
      i.close();
      _persistent = ok;
    } catch {
      _persistent = false;
    }
  }
  return _persistent;
}

/**
 * For tests: forces the one-shot fallback (`false`), or probes again (`null`).
 *
 * @param value `false` to disable context takeover, `null` to re-probe.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * _setContextTakeover(false);
 * assert.ok(!supportsContextTakeover());
 * _setContextTakeover(null);
 * ```
 */
export function _setContextTakeover(value: false | null): void {
  _persistent = value;
}

/**
 * The compression state of one connection: the compressor for the messages
 * it sends and the decompressor for those it receives.
 *
 * Call {@linkcode PerMessageDeflate.close} when the connection ends to free
 * the zlib memory at once (about 300 KiB with the defaults) rather than at
 * garbage collection.
 *
 * @example Round trip with context takeover
 * ```ts
 * import assert from "node:assert/strict";
 * const params = negotiateDeflate("permessage-deflate")!.params;
 * const server = new PerMessageDeflate("server", params);
 * const client = new PerMessageDeflate("client", params);
 * const data = new TextEncoder().encode("abcabcabc");
 * for (let i = 0; i < 3; i++) {
 *   assert.deepEqual(client.decompress(server.compress(data), true, 100), data);
 * }
 * server.close();
 * client.close();
 * ```
 */
export class PerMessageDeflate {
  /** Which side this state belongs to. */
  readonly role: "server" | "client";
  /** The negotiated parameters. */
  readonly params: Readonly<DeflateParams>;
  #level: number;
  #memLevel: number;
  #threshold: number;
  #persistent: boolean;
  #def: _ZStream | null = null;
  #inf: _ZStream | null = null;
  #inWire = 0;
  #inParts: Uint8Array[] = [];

  /**
   * Creates the state of one connection; zlib streams are made on first use.
   *
   * @param role Which side this connection is.
   * @param params The negotiated parameters.
   * @param opts `level`, `memLevel` and `threshold` (see {@linkcode DeflateOptions}).
   */
  constructor(
    role: "server" | "client",
    params: DeflateParams,
    opts: Pick<DeflateOptions, "level" | "memLevel" | "threshold"> = {},
  ) {
    this.role = role;
    this.params = { ...params };
    this.#level = opts.level ?? 6;
    this.#memLevel = opts.memLevel ?? 8;
    this.#threshold = opts.threshold ?? 0;
    this.#persistent = supportsContextTakeover();
  }

  /**
   * Whether a data message of `length` bytes should be compressed.
   *
   * @param length The uncompressed size.
   * @returns True when `length` reaches the threshold.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * const params = negotiateDeflate("permessage-deflate")!.params;
   * const d = new PerMessageDeflate("server", params, { threshold: 16 });
   * assert.ok(!d.shouldCompress(15) && d.shouldCompress(16));
   * ```
   */
  shouldCompress(length: number): boolean {
    return length >= this.#threshold;
  }

  /**
   * topics/: names what {@linkcode PerMessageDeflate.compress} does when
   * each message stands alone (no context takeover on this side), so a
   * message published to many channels is compressed once per key; `null`
   * with context takeover, where each connection's stream differs.
   */
  get shareKey(): string | null {
    if (!this.#ownNoContext) return null;
    return `${this.#ownBits}/${this.#level}/${this.#memLevel}/${
      this.#persistent ? "z" : "1"
    }`;
  }

  get #ownNoContext(): boolean {
    return this.role === "server"
      ? this.params.serverNoContextTakeover
      : this.params.clientNoContextTakeover;
  }

  get #peerNoContext(): boolean {
    return this.role === "server"
      ? this.params.clientNoContextTakeover
      : this.params.serverNoContextTakeover;
  }

  get #ownBits(): number {
    const bits = this.role === "server"
      ? this.params.serverMaxWindowBits
      : this.params.clientMaxWindowBits;
    return Math.max(bits, 9); // see the module doc: 9 bits stays within an 8-bit window
  }

  /**
   * Compresses one whole message to send with RSV1 set.
   *
   * @param data The message payload.
   * @returns The compressed payload, without the trailing `00 00 ff ff`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * const params = negotiateDeflate("permessage-deflate")!.params;
   * const d = new PerMessageDeflate("server", params);
   * assert.ok(d.compress(new Uint8Array(1000)).length < 20);
   * ```
   */
  compress(data: Uint8Array): Uint8Array {
    let out: Uint8Array;
    if (this.#persistent && this.#ownNoContext) {
      // Each message stands alone: one process-wide stream serves every
      // connection (compress is synchronous), so an idle one holds no zlib
      // state at all.
      const z = _sharedDeflater(this.#ownBits, this.#level, this.#memLevel);
      try {
        out = z.run(data, Infinity, false);
      } finally {
        z.reset();
      }
    } else if (this.#persistent) {
      this.#def ??= new _ZStream(
        false,
        this.#ownBits,
        this.#level,
        this.#memLevel,
      );
      out = this.#def.run(data, Infinity, false);
      if (this.#ownNoContext) this.#def.reset();
    } else {
      const b = zlib.deflateRawSync(data, {
        finishFlush: _SYNC,
        windowBits: this.#ownBits,
        level: this.#level,
        memLevel: this.#memLevel,
      });
      out = new Uint8Array(b.buffer, b.byteOffset, b.length);
    }
    const n = out.length;
    if (
      n >= 4 && out[n - 4] === 0 && out[n - 3] === 0 && out[n - 2] === 0xff &&
      out[n - 1] === 0xff
    ) {
      return out.subarray(0, n - 4);
    }
    return out;
  }

  /**
   * Decompresses the next piece of a received compressed message.
   *
   * Feed the message's payload in order, in pieces of any size, then call
   * once more (or on the last piece) with `fin` true.
   *
   * @param chunk The next compressed bytes (may be empty).
   * @param fin Whether this ends the message.
   * @param maxOut Room left in the message, in bytes.
   * @returns The decompressed bytes this piece yields.
   * @throws {WsProtocolError} 1009 when the output would exceed `maxOut`,
   * 1007 on invalid compressed data.
   *
   * @example A deflate bomb stops at the limit
   * ```ts
   * import assert from "node:assert/strict";
   * const params = negotiateDeflate("permessage-deflate")!.params;
   * const bomb = new PerMessageDeflate("server", params).compress(new Uint8Array(1 << 24));
   * const client = new PerMessageDeflate("client", params);
   * assert.throws(
   *   () => client.decompress(bomb, true, 1 << 20),
   *   (e) => (e as { code?: number }).code === 1009,
   * );
   * ```
   */
  decompress(chunk: Uint8Array, fin: boolean, maxOut: number): Uint8Array {
    try {
      if (!this.#persistent) return this.#inflateOnce(chunk, fin, maxOut);
      return this.#peerNoContext
        ? this.#inflateShared(chunk, fin, maxOut)
        : this.#inflateStream(chunk, fin, maxOut);
    } catch (e) {
      this.#inWire = 0;
      this.#inParts = [];
      if (
        e instanceof _TooBig ||
        (e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE"
      ) {
        throw new WsProtocolError(
          1009,
          `Decompressed message over ${maxOut} bytes`,
        );
      }
      if (e instanceof WsProtocolError) throw e;
      throw new WsProtocolError(
        1007,
        `Invalid compressed data: ${(e as Error).message}`,
      );
    }
  }

  #inflateStream(chunk: Uint8Array, fin: boolean, maxOut: number): Uint8Array {
    this.#inf ??= new _ZStream(true, 15, 6, 8);
    let out = _EMPTY;
    if (chunk.length > 0) {
      this.#inWire += chunk.length;
      out = this.#inf.run(chunk, maxOut, false);
    }
    if (!fin) return out;
    if (this.#inWire > 0) {
      const tail = this.#inf.run(_TAIL, maxOut - out.length, true);
      if (tail.length > 0) {
        const both = new Uint8Array(out.length + tail.length);
        both.set(out);
        both.set(tail, out.length);
        out = both;
      }
    }
    this.#inWire = 0;
    if (this.#peerNoContext) this.#inf.reset();
    return out;
  }

  // Collects a message's compressed frames (the decoder hands over pieces
  // it owns: no copy); at the last one returns them whole with the deflate
  // tail, or null while the message goes on or when it was empty.
  #collect(chunk: Uint8Array, fin: boolean): Uint8Array | null {
    if (chunk.length > 0) {
      this.#inParts.push(chunk);
      this.#inWire += chunk.length;
    }
    if (!fin) return null;
    const wire = this.#inWire;
    const parts = this.#inParts;
    this.#inWire = 0;
    this.#inParts = [];
    if (wire === 0) return null;
    parts.push(_TAIL);
    return concat(parts, wire + _TAIL.length);
  }

  // Without context takeover a message is inflated whole, at its last frame,
  // by one process-wide stream: no connection keeps a 32 KiB window.
  #inflateShared(chunk: Uint8Array, fin: boolean, maxOut: number): Uint8Array {
    const input = this.#collect(chunk, fin);
    if (input === null) return _EMPTY;
    const z = _sharedInflater ??= new _ZStream(true, 15, 6, 8);
    try {
      return z.run(input, maxOut, true);
    } finally {
      z.reset();
    }
  }

  #inflateOnce(chunk: Uint8Array, fin: boolean, maxOut: number): Uint8Array {
    const input = this.#collect(chunk, fin);
    if (input === null) return _EMPTY;
    const out = zlib.inflateRawSync(input, {
      finishFlush: _SYNC,
      windowBits: 15,
      maxOutputLength: Math.max(1, maxOut),
    });
    if (out.length > maxOut) throw new _TooBig();
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }

  /**
   * Frees the zlib streams. Later calls create new ones, without context.
   *
   * @example
   * ```ts
   * const params = negotiateDeflate("permessage-deflate")!.params;
   * const d = new PerMessageDeflate("client", params);
   * d.compress(new Uint8Array(10));
   * d.close();
   * ```
   */
  close(): void {
    this.#def?.close();
    this.#inf?.close();
    this.#def = null;
    this.#inf = null;
  }
}
