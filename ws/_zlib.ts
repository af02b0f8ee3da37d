// The zlib engines under permessage-deflate: persistent raw deflate and
// inflate streams driven synchronously through the binding handle of Deno's
// node:zlib, the process-wide streams shared by connections without context
// takeover, and the probe that tells whether this runtime allows them.

import zlib from "node:zlib";
import { concat } from "../_bytes.ts";
import { WsProtocolError } from "./errors.ts";

/** Z_SYNC_FLUSH: every message ends on a byte boundary. */
export const SYNC = zlib.constants.Z_SYNC_FLUSH;

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

/** Output past the room left in a message. */
export class TooBig extends Error {}

/** A persistent raw deflate or inflate stream driven synchronously. */
const _sharedDeflaters = new Map<string, ZStream>();
let _sharedInflater: ZStream | null = null;

/** The one inflate stream of every connection without context takeover. */
export function sharedInflater(): ZStream {
  return _sharedInflater ??= new ZStream(true, 15, 6, 8);
}

export function sharedDeflater(
  bits: number,
  level: number,
  memLevel: number,
): ZStream {
  const key = `${bits}/${level}/${memLevel}`;
  let z = _sharedDeflaters.get(key);
  if (z === undefined) {
    z = new ZStream(false, bits, level, memLevel);
    _sharedDeflaters.set(key, z);
  }
  return z;
}

export class ZStream {
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
   * Throws `TooBig` when the output would exceed `limit`. For an inflater,
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
      this.#h.writeSync(SYNC, input, inOff, inLen, out, 0, size);
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
        if (total > limit) throw new TooBig();
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
      const d = new ZStream(false, 15, 6, 8);
      const i = new ZStream(true, 15, 6, 8);
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
