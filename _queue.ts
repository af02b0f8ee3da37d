import { concat } from "./_bytes.ts";
import { unrefInterval } from "./_timers.ts";

// The send queue behind every channel: `send` stays synchronous, writes go
// out in order one at a time, and a producer can see how much is waiting
// (bufferedAmount) and wait for it to drain instead of growing memory.

/** Writes bytes to a socket; resolves once all are written. */
export type WriteFn = (b: Uint8Array) => Promise<void>;

/** An ordered, bounded queue of writes. */
export class WriteQueue {
  // Ready to write, in order. Pooled segments among them go back to the pool
  // once written.
  #items: Uint8Array[] = [];
  // The segment that copied items go into, and how much of it is used.
  #tail: Uint8Array | null = null;
  #tailLength = 0;
  #bytes = 0;
  #writing = false;
  #failed = false;
  #high = false;
  #waiters: (() => void)[] = [];
  readonly #write: WriteFn;
  readonly #limit: number;
  readonly #onError: (err: unknown) => void;
  readonly #onDrain: () => void;

  /**
   * @param write Writes to the socket.
   * @param limit Most bytes that may wait; `push` refuses past it.
   * @param onError Called once when a write fails.
   * @param onDrain Called when the queue empties after being over half full.
   */
  constructor(
    write: WriteFn,
    limit: number,
    onError: (err: unknown) => void,
    onDrain: () => void = () => {},
  ) {
    this.#write = write;
    this.#limit = limit;
    this.#onError = onError;
    this.#onDrain = onDrain;
  }

  /** Bytes queued and not yet written. */
  get bufferedAmount(): number {
    return this.#bytes;
  }

  /** `true` once a write failed (the peer is gone). */
  get failed(): boolean {
    return this.#failed;
  }

  /**
   * Queues bytes the caller gives up (they are written as they are, or
   * copied next to other small items); `false` when the queue is over its
   * limit or broken, so nothing is dropped silently. `force` skips the limit
   * (a close frame must still go out behind what is queued, never in the
   * middle of it).
   */
  push(b: Uint8Array, force = false): boolean {
    return this.pushCopy(b, _EMPTY, force);
  }

  /**
   * Queues `head` followed by `body` as one item (a frame: its header and
   * payload). Unless large, both are copied into a pooled segment shared with
   * the items around them, so the caller may reuse them at once; a large
   * item is queued as it is when it comes whole, or copied into one buffer.
   */
  pushCopy(head: Uint8Array, body: Uint8Array, force = false): boolean {
    if (this.#failed) return false;
    const n = head.length + body.length;
    if (!force && this.#bytes + n > this.#limit && this.#bytes > 0) {
      return false;
    }
    if (n <= COPY_MAX) {
      let tail = this.#tail;
      if (tail === null || this.#tailLength + n > tail.length) {
        this.#seal();
        tail = this.#tail = takeSegment();
      }
      tail.set(head, this.#tailLength);
      tail.set(body, this.#tailLength + head.length);
      this.#tailLength += n;
    } else {
      this.#seal();
      this.#items.push(body.length === 0 ? head : concat([head, body], n));
    }
    this.#bytes += n;
    if (this.#bytes * 2 > this.#limit) this.#high = true;
    if (!this.#writing) this.#pump();
    return true;
  }

  /** Resolves when everything queued so far is written (or writing failed). */
  drained(): Promise<void> {
    if (this.#bytes === 0 || this.#failed) return Promise.resolve();
    return new Promise((r) => this.#waiters.push(r));
  }

  // Ends the tail segment: what was copied into it becomes the next item.
  #seal(): void {
    const tail = this.#tail;
    if (tail === null) return;
    this.#tail = null;
    if (this.#tailLength > 0) {
      this.#items.push(tail.subarray(0, this.#tailLength));
    } else giveBack(tail);
    this.#tailLength = 0;
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    try {
      for (;;) {
        this.#seal();
        if (this.#items.length === 0) break;
        const items = this.#items;
        this.#items = [];
        for (const b of items) {
          await this.#write(b);
          this.#bytes -= b.length;
          if (
            b.buffer.byteLength === SEGMENT && SEGMENT_BUFFERS.has(b.buffer)
          ) {
            giveBack(new Uint8Array(b.buffer));
          }
        }
      }
    } catch (err) {
      this.#failed = true;
      this.#items = [];
      this.#tail = null;
      this.#tailLength = 0;
      this.#bytes = 0;
      this.#onError(err);
    } finally {
      this.#writing = false;
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
      if (this.#high && !this.#failed) {
        this.#high = false;
        this.#onDrain();
      }
    }
  }
}

// Small items are copied into 64 KiB segments from a process-wide pool: one
// write for many of them, and no allocation per item. A queue holds segments
// only while it has bytes to write. The pool grows to what busy connections
// use (about two segments each) and gives back, once a second, what stayed
// unused for that long.
const SEGMENT = 64 * 1024;
const COPY_MAX = 16 * 1024 + 14;
const POOL_MAX = 1024;
const TRIM_MS = 1000;
const _EMPTY = new Uint8Array(0);
const segments: Uint8Array[] = [];
const SEGMENT_BUFFERS = new WeakSet<ArrayBufferLike>();
// Fewest segments the pool held since the last trim: those were not needed.
let spare = 0;
let trimmer = 0;

function newSegment(): Uint8Array {
  const s = new Uint8Array(SEGMENT);
  SEGMENT_BUFFERS.add(s.buffer);
  return s;
}

function takeSegment(): Uint8Array {
  const s = segments.pop();
  if (s === undefined) return newSegment();
  if (segments.length < spare) spare = segments.length;
  return s;
}

function giveBack(s: Uint8Array): void {
  if (segments.length >= POOL_MAX) return;
  segments.push(s);
  if (trimmer === 0) {
    spare = segments.length;
    trimmer = unrefInterval(trim, TRIM_MS);
  }
}

function trim(): void {
  segments.length -= spare;
  spare = segments.length;
  if (segments.length === 0) {
    clearInterval(trimmer);
    trimmer = 0;
  }
}
