// Keep-alive pool: idle connections per key, a cap on open connections per
// key with a FIFO queue, and one unref'd timer that closes expired idle
// connections.

import type { Connection } from "./_conn.ts";
import { unrefTimeout } from "../_timers.ts";

/** A queued request: gets a pooled connection, or `null` = open your own. */
type Waiter = (c: Connection | null) => void;

interface Host {
  idle: Connection[];
  /** Open connections, idle or busy, plus those being opened. */
  open: number;
  waiters: Waiter[];
}

/** Connections grouped by key, at most `max` open per key. */
export class Pool {
  readonly #hosts = new Map<string, Host>();
  readonly #max: number;
  #timer = 0;
  #timerAt = 0;

  constructor(max: number) {
    this.#max = max;
  }

  #host(key: string): Host {
    let h = this.#hosts.get(key);
    if (h === undefined) {
      h = { idle: [], open: 0, waiters: [] };
      this.#hosts.set(key, h);
    }
    return h;
  }

  /** Takes the most recently used live idle connection, if any. */
  takeIdle(key: string): Connection | null {
    const h = this.#hosts.get(key);
    if (h === undefined) return null;
    const now = Date.now();
    while (h.idle.length > 0) {
      const c = h.idle.pop()!;
      if (!c.closed && c.expires > now) return c;
      c.close();
      h.open--;
    }
    return null;
  }

  /**
   * Reserves the right to open a connection for `key`. Resolves at once
   * when under the cap; otherwise queues and resolves with a released
   * connection, or `null` once a slot frees up. `cancel` removes the waiter.
   */
  reserve(
    key: string,
  ): { ready: Promise<Connection | null> | null; cancel(): void } {
    const h = this.#host(key);
    if (h.open < this.#max) {
      h.open++;
      return { ready: null, cancel: () => {} };
    }
    let waiter: Waiter;
    const ready = new Promise<Connection | null>((resolve) => {
      waiter = resolve;
    });
    h.waiters.push(waiter!);
    return {
      ready,
      cancel: () => {
        const i = h.waiters.indexOf(waiter);
        if (i !== -1) h.waiters.splice(i, 1);
      },
    };
  }

  /** Gives back a slot reserved with {@linkcode reserve} but never used. */
  unreserve(key: string): void {
    const h = this.#host(key);
    const w = h.waiters.shift();
    if (w !== undefined) w(null);
    else h.open--;
  }

  /**
   * Returns a connection after a response. A reusable one goes to the next
   * waiter or into the idle list for `keepalive` ms; any other is closed and
   * its slot handed on.
   */
  release(c: Connection, reusable: boolean, keepalive: number): void {
    c.unwatch();
    const h = this.#host(c.key);
    if (!reusable || c.closed || keepalive <= 0) {
      c.close();
      this.unreserve(c.key);
      return;
    }
    c.uses++;
    const w = h.waiters.shift();
    if (w !== undefined) {
      w(c);
      return;
    }
    c.shrink();
    c.expires = Date.now() + keepalive;
    h.idle.push(c);
    if (this.#timer === 0 || c.expires < this.#timerAt) {
      this.#schedule(c.expires);
    }
  }

  #schedule(at: number): void {
    if (this.#timer !== 0) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = unrefTimeout(
      () => this.#sweep(),
      Math.max(1, at - Date.now()),
    );
  }

  #sweep(): void {
    this.#timer = 0;
    const now = Date.now();
    let next = Infinity;
    for (const [key, h] of this.#hosts) {
      const keep: Connection[] = [];
      for (const c of h.idle) {
        if (c.closed || c.expires <= now) {
          c.close();
          h.open--;
        } else {
          keep.push(c);
          if (c.expires < next) next = c.expires;
        }
      }
      h.idle = keep;
      if (h.open === 0 && h.waiters.length === 0) this.#hosts.delete(key);
    }
    if (next !== Infinity) this.#schedule(next);
  }

  /** Closes every idle connection and stops the expiry timer. */
  closeIdle(): void {
    for (const h of this.#hosts.values()) {
      for (const c of h.idle) {
        c.close();
        h.open--;
      }
      h.idle = [];
    }
    if (this.#timer !== 0) {
      clearTimeout(this.#timer);
      this.#timer = 0;
    }
  }

  /** Idle connections held for `key` (for tests and metrics). */
  idleCount(key?: string): number {
    if (key !== undefined) return this.#hosts.get(key)?.idle.length ?? 0;
    let n = 0;
    for (const h of this.#hosts.values()) n += h.idle.length;
    return n;
  }
}
