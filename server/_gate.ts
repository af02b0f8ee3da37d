import { unrefInterval } from "../_timers.ts";

// A FIFO gate on pending socket reads.
//
// All async ops of an isolate are polled by one tokio task whose coop budget
// is 128 I/O operations per poll; ready reads past that are pushed back with
// deferred wakers and lose to connections that were just served, so with more
// than ~128 reads pending some connections starve (p99 of hundreds of ms). The
// gate keeps pending reads under the budget and hands a freed slot to the
// oldest waiter. A read that stays pending (an idle keep-alive peer) gives its
// slot up after a while without being cancelled. (Measured with wrk at 256
// connections: without the gate, p99 of hundreds of ms.)

/** A party that holds a read slot: connections link themselves in. */
export interface GateEntry {
  /** The gate's tick when the slot was taken, or -1 when not held. */
  gateAt: number;
  gatePrev: GateEntry | null;
  gateNext: GateEntry | null;
}

/** Fair admission of reads; `acquire` is synchronous while slots are free. */
export class ReadGate {
  #used = 0;
  readonly #max: number;
  readonly #idleMs: number;
  // Holders in the order they took their slot: the oldest first.
  #head: GateEntry | null = null;
  #tail: GateEntry | null = null;
  #waiters: (() => void)[] = [];
  #first = 0;
  #timer = 0;
  // Advanced by the sweep, which runs only while someone waits: cheaper than
  // reading a clock on every read.
  #tick = 0;

  // 112 keeps ready reads under tokio's budget of 128 with room for other
  // I/O; measured here, 96 held 100 busy WebSockets back (0.8x of 112's
  // echo rate) for no gain in HTTP p99 at 256 connections.
  constructor(max = 112, idleMs = 20) {
    this.#max = max;
    this.#idleMs = idleMs;
  }

  /** Slots in use; for tests and stats. */
  get used(): number {
    return this.#used;
  }

  /** Takes a slot now (returns undefined) or a Promise that resolves with one. */
  acquire(e: GateEntry): Promise<void> | undefined {
    if (this.#used < this.#max) {
      this.#used++;
      this.#hold(e);
      return undefined;
    }
    return new Promise<void>((resolve) => {
      this.#waiters.push(() => {
        this.#hold(e);
        resolve();
      });
      if (this.#timer === 0) this.#startSweep();
    });
  }

  /** Gives the slot back (a no-op when it was already taken back as idle). */
  release(e: GateEntry): void {
    if (e.gateAt < 0) return;
    this.#unlink(e);
    this.#handOn();
  }

  #hold(e: GateEntry): void {
    e.gateAt = this.#tick;
    e.gatePrev = this.#tail;
    e.gateNext = null;
    if (this.#tail === null) this.#head = e;
    else this.#tail.gateNext = e;
    this.#tail = e;
  }

  #unlink(e: GateEntry): void {
    e.gateAt = -1;
    if (e.gatePrev === null) this.#head = e.gateNext;
    else e.gatePrev.gateNext = e.gateNext;
    if (e.gateNext === null) this.#tail = e.gatePrev;
    else e.gateNext.gatePrev = e.gatePrev;
    e.gatePrev = e.gateNext = null;
  }

  // A freed slot goes straight to the oldest waiter, else back to the pool.
  #handOn(): void {
    if (this.#first < this.#waiters.length) {
      const next = this.#waiters[this.#first];
      this.#waiters[this.#first++] = noop;
      if (this.#first > 1024 && this.#first * 2 > this.#waiters.length) {
        this.#waiters = this.#waiters.slice(this.#first);
        this.#first = 0;
      }
      next();
    } else {
      this.#used--;
    }
  }

  #startSweep(): void {
    this.#timer = unrefInterval(
      () => this.#sweep(),
      Math.max(1, this.#idleMs / 2),
    );
  }

  // Reads pending longer than idleMs belong to quiet peers: their slots go to
  // the waiters. Runs only while someone waits.
  #sweep(): void {
    if (this.#first >= this.#waiters.length) {
      clearInterval(this.#timer);
      this.#timer = 0;
      this.#waiters = [];
      this.#first = 0;
      return;
    }
    // Two ticks of idleMs/2: held for at least idleMs/2, at most idleMs.
    const limit = ++this.#tick - 2;
    while (
      this.#head !== null && this.#head.gateAt <= limit &&
      this.#first < this.#waiters.length
    ) {
      this.#unlink(this.#head);
      this.#handOn();
    }
  }

  /** Stops the sweep timer (the server is closing). */
  dispose(): void {
    if (this.#timer !== 0) clearInterval(this.#timer);
    this.#timer = 0;
  }
}

function noop(): void {}
