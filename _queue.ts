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
        // A small segment for a small item, unless a burst is under way.
        const pool = n <= SMALL_ITEM && this.#items.length === 0
          ? SMALL
          : LARGE;
        tail = this.#tail = pool.take();
      }
      tail.set(head, this.#tailLength);
      // (A set costs even when empty: push, and a shared frame, has no body.)
      if (body.length > 0) tail.set(body, this.#tailLength + head.length);
      this.#tailLength += n;
    } else {
      this.#seal();
      this.#items.push(body.length === 0 ? head : concat([head, body], n));
    }
    this.#bytes += n;
    if (this.#bytes * 2 > this.#limit) this.#high = true;
    if (!this.#writing) {
      // The pump starts in a microtask, not now: everything queued in this
      // turn of the event loop (a broadcast's frames, the echoes of one
      // read) goes out in the first write.
      this.#writing = true;
      queueMicrotask(this.#start);
    }
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
    } else OWNER.get(tail.buffer)!.give(tail);
    this.#tailLength = 0;
  }

  #start = (): void => {
    this.#pump();
  };

  async #pump(): Promise<void> {
    try {
      for (;;) {
        this.#seal();
        if (this.#items.length === 0) break;
        const items = this.#items;
        this.#items = [];
        for (const b of items) {
          await this.#write(b);
          this.#bytes -= b.length;
          // A segment goes back to its pool once written.
          OWNER.get(b.buffer)?.give(new Uint8Array(b.buffer));
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

// Small items are copied into segments from process-wide pools: one write
// for many of them, and no allocation per item. A queue holds segments only
// while it has bytes to write: 4 KiB ones while items are small and few, 64
// KiB ones for large items and bursts (fewer, larger writes). A pool grows to
// what busy connections use and gives back, once a second, what stayed unused
// for that long.
const COPY_MAX = 16 * 1024 + 14;
const SMALL_ITEM = 1024;
const POOL_MAX = 1024;
const TRIM_MS = 1000;
const _EMPTY = new Uint8Array(0);

class SegmentPool {
  #free: Uint8Array[] = [];
  // Fewest segments the pool held since the last trim: those were not needed.
  #spare = 0;
  #trimmer = 0;
  readonly #size: number;

  constructor(size: number) {
    this.#size = size;
  }

  take(): Uint8Array {
    const s = this.#free.pop();
    if (s === undefined) {
      const fresh = new Uint8Array(this.#size);
      OWNER.set(fresh.buffer, this);
      return fresh;
    }
    if (this.#free.length < this.#spare) this.#spare = this.#free.length;
    return s;
  }

  give(s: Uint8Array): void {
    if (this.#free.length >= POOL_MAX) return;
    this.#free.push(s);
    if (this.#trimmer === 0) {
      this.#spare = this.#free.length;
      this.#trimmer = unrefInterval(() => this.#trim(), TRIM_MS);
    }
  }

  #trim(): void {
    this.#free.length -= this.#spare;
    this.#spare = this.#free.length;
    if (this.#free.length === 0) {
      clearInterval(this.#trimmer);
      this.#trimmer = 0;
    }
  }
}

const OWNER = new WeakMap<ArrayBufferLike, SegmentPool>();
const SMALL = new SegmentPool(4 * 1024);
const LARGE = new SegmentPool(64 * 1024);
