// Peers send the same head again and again: a client its request head
// (health checks, polling, load balancers, benchmarks), a server its
// response head until the Date ticks. Parsing such a head once more costs
// more than the rest of a small message together, so the last one is kept
// and reused for identical bytes only.

import type { HeaderMap } from "./head.ts";

/** Heads longer than this are parsed every time. */
const MAX_HEAD = 1024;

/** What a reusable head carries: fields by name and where it ends. */
export interface MemoHead {
  headers: HeaderMap;
  headEnd: number;
}

/** The last head parsed, reused for a byte-identical head. */
export class HeadMemo<H extends MemoHead> {
  #bytes: Uint8Array | null = null;
  #length = -1;
  #head: H | null = null;

  /**
   * A fresh copy of the kept head when the bytes from `start` (up to `end`,
   * what has arrived) begin with the same head. Its `headEnd` tells where it
   * ends: the kept bytes end at their blank line, so no search for the end
   * of the head is needed. The copy has its own header map, since whoever
   * gets it may change it.
   */
  get(b: Uint8Array, start: number, end: number): H | null {
    const head = this.#head;
    const length = this.#length;
    if (head === null || end - start < length) return null;
    const k = this.#bytes!;
    // Back to front: two heads of the same length most often differ late
    // (a header value) or in the path, which the front loop would reach last.
    for (let i = length - 1; i >= 0; i--) {
      if (k[i] !== b[start + i]) return null;
    }
    return { ...head, headers: { ...head.headers }, headEnd: start + length };
  }

  /** Keeps `head`, parsed from `b[start, headEnd)`. */
  set(b: Uint8Array, start: number, headEnd: number, head: H): void {
    const n = headEnd - start;
    if (n > MAX_HEAD) return;
    this.#bytes ??= new Uint8Array(MAX_HEAD);
    this.#bytes.set(b.subarray(start, headEnd));
    this.#length = n;
    this.#head = { ...head, headers: { ...head.headers } };
  }
}
