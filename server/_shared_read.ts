// The one read under way on a server connection, shared. The request loop,
// a streamed body, a request.signal watch and a channel each join the read
// already under way instead of starting a second one, whose bytes could land
// in a buffer nobody reads next; a WebSocket channel takes the bytes of a read
// a watch started first. Every read passes the server's read gate.

import type { GateEntry } from "./_gate.ts";
import { Output } from "./_output.ts";

/** A server connection's reads: one at a time, joined, through the gate. */
export class SharedRead extends Output implements GateEntry {
  gateAt = -1;
  gatePrev: GateEntry | null = null;
  gateNext: GateEntry | null = null;
  // A read under way, shared by the request loop and channels.
  #ahead: Promise<number | null> | null = null;

  /** The read under way that others joined (see readMore), or null. */
  get ahead(): Promise<number | null> | null {
    return this.#ahead;
  }

  /** One read, through the server's read gate. */
  override async read(dst: Uint8Array): Promise<number | null> {
    const gate = this.core.gate;
    const wait = gate.acquire(this);
    if (wait !== undefined) await wait;
    let n: number;
    try {
      n = await this.readRaw(dst);
    } finally {
      gate.release(this);
    }
    return n === 0 ? null : n;
  }

  /**
   * Reads more bytes into the buffer (joining a read already under way), so
   * a channel can notice a peer that leaves while the request loop waits.
   *
   * @returns The count read, or null at EOF.
   */
  readMore(): Promise<number | null> {
    if (this.#ahead !== null) return this.#ahead;
    this.#wakeWatches();
    return this.#ahead = this.fill().finally(() => (this.#ahead = null));
  }

  /**
   * Reads straight into `dst` (a whole body's own buffer), as the shared
   * read that a watch joins: a watch only needs to learn of EOF.
   */
  async readDirect(dst: Uint8Array): Promise<number | null> {
    if (this.#ahead !== null) await this.#ahead;
    if (this.start < this.end) return 0;
    this.#wakeWatches();
    const p = this.read(dst).then((n) => {
      if (n === null) this.eof = true;
      return n;
    });
    const ahead = p.finally(() => (this.#ahead = null));
    // A failed read is this caller's to report; joiners see it too.
    ahead.catch(() => {});
    this.#ahead = ahead;
    return await p;
  }

  // Watches waiting for the buffer to be consumed (see watchPeer).
  #readWaiters: (() => void)[] = [];

  // Someone reads again, so the buffer was taken: parked watches go on (and
  // join that read).
  #wakeWatches(): void {
    const waiters = this.#readWaiters;
    if (waiters.length === 0) return;
    this.#readWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * The next bytes for a WebSocket channel: a read a watch started (a
   * request signal, say) ends first, and its bytes come out first.
   */
  override readChunk(): Promise<Uint8Array | null> {
    // Not async itself: the common case (no read under way) costs no frame.
    return this.#ahead === null ? super.readChunk() : this.#afterAhead();
  }

  async #afterAhead(): Promise<Uint8Array | null> {
    if (await this.#ahead!.catch(() => null) === null) return null;
    return super.readChunk();
  }

  async watchPeer(active: () => boolean): Promise<boolean> {
    const limit = this.core.limits.maxHeaderBytes;
    try {
      while (active()) {
        // With that much buffered (a streamed body the handler has not
        // taken yet), watch on only once someone reads again.
        if (this.end - this.start >= limit) {
          await new Promise<void>((r) => this.#readWaiters.push(r));
          continue;
        }
        if ((await this.readMore()) === null) return active();
      }
      return false;
    } catch {
      return active();
    }
  }
}
