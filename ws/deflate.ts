/**
 * permessage-deflate (RFC 7692): negotiation of the `Sec-WebSocket-Extensions`
 * header and per-message compression with `node:zlib`.
 *
 * Context takeover is supported: each connection keeps one raw deflate and
 * one raw inflate stream and drives them synchronously with `ZSYNC_FLUSH`
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
 * import { negotiateDeflate, parseDeflateResponse } from "./extensions.ts";
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
import { concat } from "../_bytes.ts";
import { WsProtocolError } from "./errors.ts";
import type { DeflateOptions, DeflateParams } from "./extensions.ts";
import {
  sharedDeflater,
  sharedInflater,
  supportsContextTakeover,
  SYNC,
  TooBig,
  ZStream,
} from "./_zlib.ts";

const _TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
const _EMPTY: Uint8Array = new Uint8Array(0);

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
 * import { negotiateDeflate } from "./extensions.ts";
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
  #def: ZStream | null = null;
  #inf: ZStream | null = null;
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
   *
   * import { negotiateDeflate } from "./extensions.ts";
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
    // Asked once per subscriber per published message: made once.
    if (this.#shareKey === undefined) {
      this.#shareKey = this.#ownNoContext
        ? `${this.#ownBits}/${this.#level}/${this.#memLevel}/${
          this.#persistent ? "z" : "1"
        }`
        : null;
    }
    return this.#shareKey;
  }

  #shareKey: string | null | undefined = undefined;

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
   *
   * import { negotiateDeflate } from "./extensions.ts";
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
      const z = sharedDeflater(this.#ownBits, this.#level, this.#memLevel);
      try {
        out = z.run(data, Infinity, false);
      } finally {
        z.reset();
      }
    } else if (this.#persistent) {
      this.#def ??= new ZStream(
        false,
        this.#ownBits,
        this.#level,
        this.#memLevel,
      );
      out = this.#def.run(data, Infinity, false);
      if (this.#ownNoContext) this.#def.reset();
    } else {
      const b = zlib.deflateRawSync(data, {
        finishFlush: SYNC,
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
   *
   * import { negotiateDeflate } from "./extensions.ts";
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
        e instanceof TooBig ||
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
    this.#inf ??= new ZStream(true, 15, 6, 8);
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
    const z = sharedInflater();
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
      finishFlush: SYNC,
      windowBits: 15,
      maxOutputLength: Math.max(1, maxOut),
    });
    if (out.length > maxOut) throw new TooBig();
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }

  /**
   * Frees the zlib streams. Later calls create new ones, without context.
   *
   * @example
   * ```ts
   *
   * import { negotiateDeflate } from "./extensions.ts";
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
