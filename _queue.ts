import { concat } from "./_bytes.ts";

// The send queue behind every channel: `send` stays synchronous, writes go
// out in order one at a time, and a producer can see how much is waiting
// (bufferedAmount) and wait for it to drain instead of growing memory.

/** Writes bytes to a socket; resolves once all are written. */
export type WriteFn = (b: Uint8Array) => Promise<void>;

/** An ordered, bounded queue of writes. */
export class WriteQueue {
  #items: Uint8Array[] = [];
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
   * Queues bytes; `false` when the queue is over its limit or broken, so
   * nothing is dropped silently. `force` skips the limit (a close frame must
   * still go out behind what is queued, never in the middle of it).
   */
  push(b: Uint8Array, force = false): boolean {
    if (this.#failed) return false;
    if (!force && this.#bytes + b.length > this.#limit && this.#bytes > 0) {
      return false;
    }
    this.#items.push(b);
    this.#bytes += b.length;
    if (this.#bytes * 2 > this.#limit) this.#high = true;
    if (!this.#writing) this.#pump();
    return true;
  }

  /** Resolves when everything queued so far is written (or writing failed). */
  drained(): Promise<void> {
    if (this.#bytes === 0 || this.#failed) return Promise.resolve();
    return new Promise((r) => this.#waiters.push(r));
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#items.length > 0) {
        const items = this.#items;
        this.#items = [];
        // Small items queued meanwhile go out in one write; large ones one by
        // one, since copying them costs more than the extra write.
        if (items.length === 1 || this.#bytes > JOIN_MAX) {
          for (const b of items) {
            await this.#write(b);
            this.#bytes -= b.length;
          }
        } else {
          const b = concat(items, this.#bytes);
          await this.#write(b);
          this.#bytes -= b.length;
        }
      }
    } catch (err) {
      this.#failed = true;
      this.#items = [];
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

const JOIN_MAX = 64 * 1024;
