// Byte helpers shared by the server, the client, the channels and the codecs.

/**
 * Joins byte arrays into one (the array itself when there is only one).
 * `total` may be passed when the caller already knows the summed length.
 */
export function concat(parts: readonly Uint8Array[], total = -1): Uint8Array {
  if (parts.length === 1) return parts[0];
  if (total < 0) {
    total = 0;
    for (const p of parts) total += p.length;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Bytes appended into one buffer that doubles as it fills: no copy per
 * piece and no join at the end (a chunked body read whole).
 */
export class Growing {
  #buf: Uint8Array;
  #length = 0;
  readonly #max: number;

  /** Starts with `initial` bytes of room; never grows past `max`. */
  constructor(initial: number, max = Infinity) {
    this.#max = max;
    this.#buf = new Uint8Array(Math.min(initial, max));
  }

  /** Appends a copy of `d`. */
  push(d: Uint8Array): void {
    const need = this.#length + d.length;
    if (need > this.#buf.length) {
      let size = Math.max(this.#buf.length * 2, 1);
      while (size < need) size *= 2;
      const bigger = new Uint8Array(Math.max(Math.min(size, this.#max), need));
      bigger.set(this.#buf.subarray(0, this.#length));
      this.#buf = bigger;
    }
    this.#buf.set(d, this.#length);
    this.#length = need;
  }

  /** What was appended (a view of the buffer). */
  get bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#length);
  }
}
