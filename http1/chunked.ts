// Sans-IO chunked transfer coding (RFC 9112 section 7.1): an incremental
// decoder and the framing helpers of the encoder.

import { FIELD_VALUE, latin1, TOKEN } from "./_chars.ts";
import { ProtocolError } from "./errors.ts";

const CR = 0x0d, LF = 0x0a, SP = 0x20, HTAB = 0x09;

// Decoder states.
const S = {
  Size: 0,
  Ext: 1,
  SizeLf: 2,
  Data: 3,
  DataCr: 4,
  DataLf: 5,
  Trailer: 6,
  Done: 7,
  ExtBws: 8,
} as const;

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX[0x41 + i] = HEX[0x61 + i] = 10 + i;

/**
 * Incremental decoder of a chunked body. Feed it bytes with `decode`; it hands
 * out body slices (views into the input, valid until the caller reuses that
 * buffer) and reports how much it consumed, stopping right after the final
 * CRLF so that pipelined bytes stay with the caller.
 */
export class ChunkedDecoder {
  #state: number = S.Size;
  #digits = 0;
  #size = 0;
  #lineLen = 0;
  #trailerBytes = 0;
  #trailerLine: number[] = [];
  readonly #maxLine: number;
  readonly #maxTrailer: number;
  readonly #maxBody: number;
  // Sum of the chunk sizes declared so far.
  #declared = 0;
  /** Trailer fields, lower-case names, once `done`. */
  trailers: Record<string, string> = {};

  /**
   * @param maxLine Longest chunk-size line or trailer line.
   * @param maxTrailer Largest trailer section.
   * @param maxBody Largest body: a chunk size that would pass it is refused
   * with 413 at once, before any of its data is waited for.
   */
  constructor(maxLine = 8192, maxTrailer = 65536, maxBody = Infinity) {
    this.#maxLine = maxLine;
    this.#maxTrailer = maxTrailer;
    this.#maxBody = maxBody;
  }

  /** `true` once the last chunk and the trailer section are read. */
  get done(): boolean {
    return this.#state === S.Done;
  }

  /**
   * Decodes bytes `b[start, end)`, passing each piece of body data to `sink`.
   *
   * @returns The offset where decoding stopped (`end`, or just past the body).
   * @throws {ProtocolError} 400 for a malformed chunk, 431 for large trailers.
   */
  decode(
    b: Uint8Array,
    start: number,
    end: number,
    sink: (data: Uint8Array) => void,
  ): number {
    let i = start;
    while (i < end) {
      switch (this.#state) {
        case S.Size: {
          const c = b[i];
          const h = HEX[c];
          if (h >= 0) {
            this.#digits++;
            this.#size = this.#size * 16 + h;
            // Leading zeros are fine; a size past 2^52 is not.
            if (this.#size > 0xfffffffffffff) {
              throw new ProtocolError(400, "Chunk size too large");
            }
            i++;
          } else if (this.#digits === 0) {
            throw new ProtocolError(400, "Invalid chunk size");
          } else if (c === CR) {
            this.#state = S.SizeLf;
            i++;
          } else if (c === 0x3b) {
            this.#state = S.Ext;
            this.#lineLen = 0;
          } else if (c === SP || c === HTAB) {
            // Whitespace after the size may only come before a `;`.
            this.#state = S.ExtBws;
            this.#lineLen = 0;
          } else {
            throw new ProtocolError(400, "Invalid chunk size");
          }
          break;
        }
        case S.ExtBws: {
          const c = b[i];
          if (c === 0x3b) this.#state = S.Ext;
          else if (c === CR) this.#state = S.SizeLf;
          else if (c !== SP && c !== HTAB) {
            throw new ProtocolError(400, "Invalid chunk size");
          }
          if (++this.#lineLen > this.#maxLine) {
            throw new ProtocolError(400, "Chunk size line too long");
          }
          i++;
          break;
        }
        case S.Ext:
          i = this.#ext(b, i, end);
          break;
        case S.SizeLf:
          if (b[i++] !== LF) {
            throw new ProtocolError(400, "Bare CR in chunk size line");
          }
          this.#digits = 0;
          this.#declared += this.#size;
          if (this.#declared > this.#maxBody) {
            throw new ProtocolError(413, "Request body too large");
          }
          if (this.#size === 0) {
            this.#state = S.Trailer;
            this.#trailerLine = [];
          } else {
            this.#state = S.Data;
          }
          break;
        case S.Data: {
          const n = Math.min(this.#size, end - i);
          sink(b.subarray(i, i + n));
          i += n;
          this.#size -= n;
          if (this.#size === 0) this.#state = S.DataCr;
          break;
        }
        case S.DataCr:
          if (b[i++] !== CR) {
            throw new ProtocolError(400, "Missing CRLF after chunk data");
          }
          this.#state = S.DataLf;
          break;
        case S.DataLf:
          if (b[i++] !== LF) {
            throw new ProtocolError(400, "Missing CRLF after chunk data");
          }
          this.#state = S.Size;
          break;
        case S.Trailer:
          i = this.#trailer(b, i, end);
          if (this.done) return i;
          break;
        case S.Done:
          return i;
      }
    }
    return i;
  }

  // Chunk extensions are read and dropped: whitespace, `;`, tokens, `=` and
  // quoted strings, but never control bytes or a bare LF.
  #ext(b: Uint8Array, i: number, end: number): number {
    while (i < end) {
      const c = b[i];
      if (c === CR) {
        this.#state = S.SizeLf;
        return i + 1;
      }
      if (
        c !== 0x3b && c !== 0x3d && c !== 0x22 && c !== 0x5c &&
        TOKEN[c] !== 1 && c !== SP && c !== HTAB
      ) {
        if (FIELD_VALUE[c] === 0) {
          throw new ProtocolError(400, "Invalid chunk extension");
        }
      }
      if (++this.#lineLen > this.#maxLine) {
        throw new ProtocolError(400, "Chunk extension too long");
      }
      i++;
    }
    return i;
  }

  // Trailer lines are collected whole, then checked like header lines.
  #trailer(b: Uint8Array, i: number, end: number): number {
    const line = this.#trailerLine;
    while (i < end) {
      const c = b[i++];
      if (++this.#trailerBytes > this.#maxTrailer) {
        throw new ProtocolError(431, "Trailer section too large");
      }
      if (c === LF) {
        if (line.length === 0 || line[line.length - 1] !== CR) {
          throw new ProtocolError(400, "Bare LF in trailer");
        }
        line.pop();
        if (line.length === 0) {
          this.#state = S.Done;
          return i;
        }
        this.#field(Uint8Array.from(line));
        line.length = 0;
      } else {
        if (line.length > this.#maxLine) {
          throw new ProtocolError(400, "Trailer line too long");
        }
        line.push(c);
      }
    }
    return i;
  }

  #field(l: Uint8Array): void {
    let k = 0;
    while (TOKEN[l[k]] === 1) k++;
    if (k === 0 || l[k] !== 0x3a) {
      throw new ProtocolError(400, "Invalid trailer field");
    }
    const name = latin1(l, 0, k).toLowerCase();
    let vs = k + 1;
    while (l[vs] === SP || l[vs] === HTAB) vs++;
    let ve = l.length;
    while (ve > vs && (l[ve - 1] === SP || l[ve - 1] === HTAB)) ve--;
    for (let j = vs; j < ve; j++) {
      if (FIELD_VALUE[l[j]] === 0) {
        throw new ProtocolError(400, "Invalid trailer value");
      }
    }
    const value = latin1(l, vs, ve);
    const prev = Object.hasOwn(this.trailers, name)
      ? this.trailers[name]
      : undefined;
    this.trailers[name] = prev === undefined ? value : prev + "," + value;
  }
}

/** The line that opens a chunk of `size` bytes: hex size and CRLF. */
export function chunkHeader(size: number): string {
  return size.toString(16) + "\r\n";
}

/** The last chunk with an empty trailer section. */
export const LAST_CHUNK = "0\r\n\r\n";

/**
 * Frames `data` as one chunk (a copy: header, data, CRLF), followed by the
 * last chunk when `last`. Empty data makes no chunk of its own (it would end
 * the body), so it yields just the last chunk, or nothing.
 */
export function encodeChunk(data: Uint8Array, last = false): Uint8Array {
  const head = data.length > 0 ? chunkHeader(data.length) : "";
  const tail = (data.length > 0 ? "\r\n" : "") + (last ? LAST_CHUNK : "");
  const out = new Uint8Array(head.length + data.length + tail.length);
  for (let k = 0; k < head.length; k++) out[k] = head.charCodeAt(k);
  out.set(data, head.length);
  const at = head.length + data.length;
  for (let k = 0; k < tail.length; k++) out[at + k] = tail.charCodeAt(k);
  return out;
}
