// Sans-IO chunked transfer coding (RFC 9112 section 7.1): an incremental
// decoder and the framing helpers of the encoder.

import { FIELD_VALUE, latin1, TOKEN } from "./_chars.ts";
import { ProtocolError } from "./errors.ts";

const CR = 0x0d, LF = 0x0a, SP = 0x20, HTAB = 0x09;

// Decoder states. A chunk line without extensions is Size -> SizeLf; one with
// extensions goes through SizeBws and the Ext* states, one byte at a time
// (RFC 9112 section 7.1.1):
//
//   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//
//   state          stays on               moves on
//   Size           HEXDIG                 CR: SizeLf; ";" SP HTAB: SizeBws
//   SizeBws        BWS                    ";": ExtNameBws
//   ExtNameBws     BWS                    tchar: ExtName
//   ExtName        tchar                  CR: SizeLf; "=": ExtValueBws;
//                                         ";": ExtNameBws; BWS: ExtAfterName
//   ExtAfterName   BWS                    "=": ExtValueBws; ";": ExtNameBws
//   ExtValueBws    BWS                    tchar: ExtToken; DQUOTE: ExtQuoted
//   ExtToken       tchar                  CR: SizeLf; ";": ExtNameBws;
//                                         BWS: ExtAfterValue
//   ExtQuoted      qdtext                 "\": ExtQuotedPair; DQUOTE: ExtQuotedEnd
//   ExtQuotedPair                         HTAB SP VCHAR obs-text: ExtQuoted
//   ExtQuotedEnd                          CR: SizeLf; ";": ExtNameBws;
//                                         BWS: ExtAfterValue
//   ExtAfterValue  BWS                    ";": ExtNameBws
//
// Any other byte is a 400, and so is a line (size digits and extensions, not
// the CRLF) longer than maxLine.
const S = {
  Size: 0,
  SizeLf: 1,
  Data: 2,
  DataCr: 3,
  DataLf: 4,
  Trailer: 5,
  Done: 6,
  SizeBws: 7,
  ExtNameBws: 8,
  ExtName: 9,
  ExtAfterName: 10,
  ExtValueBws: 11,
  ExtToken: 12,
  ExtQuoted: 13,
  ExtQuotedPair: 14,
  ExtQuotedEnd: 15,
  ExtAfterValue: 16,
} as const;

const SEMI = 0x3b, EQ = 0x3d, DQUOTE = 0x22, BSLASH = 0x5c;

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX[0x41 + i] = HEX[0x61 + i] = 10 + i;

function invalid(message: string): ProtocolError {
  return new ProtocolError(400, message);
}

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
  // Bytes of a chunk line with extensions read before the current piece.
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
   * @param maxLine Longest chunk line (size and extensions, without the
   * CRLF) or trailer line.
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
   * @throws {ProtocolError} 400 for a malformed chunk or a line over
   * `maxLine`, 413 for a body over `maxBody`, 431 for large trailers.
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
            // Leading zeros are fine, as many as fit in the line; a size
            // past 2^52 is not.
            if (++this.#digits > this.#maxLine) {
              throw new ProtocolError(400, "Chunk size line too long");
            }
            this.#size = this.#size * 16 + h;
            if (this.#size > 0xfffffffffffff) {
              throw new ProtocolError(400, "Chunk size too large");
            }
            i++;
          } else if (this.#digits === 0) {
            throw new ProtocolError(400, "Invalid chunk size");
          } else if (c === CR) {
            this.#state = S.SizeLf;
            i++;
          } else if (c === SEMI || c === SP || c === HTAB) {
            // An extension: the byte is read again in SizeBws, and the line
            // length goes on from the size digits.
            this.#state = S.SizeBws;
            this.#lineLen = this.#digits;
          } else {
            throw new ProtocolError(400, "Invalid chunk size");
          }
          break;
        }
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
        default:
          // SizeBws and the Ext* states.
          i = this.#ext(b, i, end);
      }
    }
    return i;
  }

  // Chunk extensions are checked against the grammar and dropped, in the
  // Ext* states (see S). Stops after the CR that ends the line, in SizeLf.
  #ext(b: Uint8Array, i: number, end: number): number {
    let st: number = this.#state;
    // The line is `base + i` bytes long when it reaches `b[i]`; its length is
    // checked where it ends and where this piece of it ends.
    const base = this.#lineLen - i;
    for (; i < end; i++) {
      const c = b[i];
      const ws = c === SP || c === HTAB;
      switch (st) {
        case S.SizeBws:
          if (c === SEMI) st = S.ExtNameBws;
          else if (!ws) throw invalid("Whitespace after chunk size without ;");
          break;
        case S.ExtNameBws:
          if (TOKEN[c] === 1) st = S.ExtName;
          else if (!ws) throw invalid("Chunk extension without name");
          break;
        case S.ExtName:
          if (TOKEN[c] === 1) break;
          if (c === CR) return this.#lineEnd(base + i, i);
          if (c === EQ) st = S.ExtValueBws;
          else if (c === SEMI) st = S.ExtNameBws;
          else if (ws) st = S.ExtAfterName;
          else throw invalid("Invalid chunk extension name");
          break;
        case S.ExtAfterName:
          if (c === EQ) st = S.ExtValueBws;
          else if (c === SEMI) st = S.ExtNameBws;
          else if (!ws) throw invalid("Invalid chunk extension");
          break;
        case S.ExtValueBws:
          if (TOKEN[c] === 1) st = S.ExtToken;
          else if (c === DQUOTE) st = S.ExtQuoted;
          else if (!ws) throw invalid("Chunk extension without value");
          break;
        case S.ExtToken:
          if (TOKEN[c] === 1) break;
          if (c === CR) return this.#lineEnd(base + i, i);
          if (c === SEMI) st = S.ExtNameBws;
          else if (ws) st = S.ExtAfterValue;
          else throw invalid("Invalid chunk extension value");
          break;
        case S.ExtQuoted:
          // qdtext is a field-value byte other than DQUOTE and backslash.
          if (c === DQUOTE) st = S.ExtQuotedEnd;
          else if (c === BSLASH) st = S.ExtQuotedPair;
          else if (FIELD_VALUE[c] === 0) {
            throw invalid(
              c === CR
                ? "Unterminated quoted chunk extension value"
                : "Invalid quoted chunk extension value",
            );
          }
          break;
        case S.ExtQuotedPair:
          // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
          if (FIELD_VALUE[c] === 0) {
            throw invalid("Invalid quoted-pair in chunk extension");
          }
          st = S.ExtQuoted;
          break;
        case S.ExtQuotedEnd:
          if (c === CR) return this.#lineEnd(base + i, i);
          if (c === SEMI) st = S.ExtNameBws;
          else if (ws) st = S.ExtAfterValue;
          else throw invalid("Invalid chunk extension after quoted value");
          break;
        case S.ExtAfterValue:
          if (c === SEMI) st = S.ExtNameBws;
          else if (!ws) throw invalid("Invalid chunk extension");
          break;
      }
    }
    this.#checkLine(base + end);
    this.#state = st;
    this.#lineLen = base + end;
    return end;
  }

  // The CR at `i` ends a chunk line of `length` bytes with an extension.
  #lineEnd(length: number, i: number): number {
    this.#checkLine(length);
    this.#state = S.SizeLf;
    return i + 1;
  }

  #checkLine(length: number): void {
    if (length > this.#maxLine) throw invalid("Chunk size line too long");
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
