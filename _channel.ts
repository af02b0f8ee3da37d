// The lifecycle every channel shares, HTTP (streaming, long-poll) and
// WebSocket, server and client side: a bounded send queue, open / closing /
// done, `onClose` exactly once, and user callbacks that can never throw into
// the library (a throw goes to the error logger).

import type {
  Channel,
  ChannelData,
  ChannelHandlers,
  CloseStatus,
} from "./channel.ts";
import { type WriteFn, WriteQueue } from "./_queue.ts";
import { callWatchers, WATCH_CLOSE } from "./_hooks.ts";

/** Where a channel reports a callback that threw. */
export type ErrorSink = (err: unknown) => void;

/** Most bytes a channel queues for a slow peer, unless told otherwise. */
const MAX_QUEUE = 16 * 1024 * 1024;

/** Channel states. */
export const Open = 0, Closing = 1, Done = 2;

// deno-lint-ignore no-explicit-any
type Callback = ((ch: Channel, a?: any, b?: any, c?: any) => void) | undefined;

/** What HTTP and WebSocket channels have in common. */
export abstract class ChannelBase implements Channel {
  abstract readonly isWebSocket: boolean;
  readonly remoteAddr: string;
  /** Open, then Closing (ours sent, waiting for the peer), then Done. */
  protected state: number = Open;
  protected readonly handlers: ChannelHandlers;
  protected readonly queue: WriteQueue;
  readonly #report: ErrorSink;
  #closeReported = false;
  // topics/: the hubs to tell once this channel closes.
  #watchers: ((ch: Channel) => void)[] | null = null;

  /**
   * @param remoteAddr The peer's address.
   * @param handlers The user's callbacks.
   * @param write Writes bytes to the socket, all of them.
   * @param maxQueue Most bytes queued for the peer (default 16 MiB).
   * @param report Gets errors thrown by callbacks.
   */
  constructor(
    remoteAddr: string,
    handlers: ChannelHandlers,
    write: WriteFn,
    maxQueue: number | undefined,
    report: ErrorSink,
  ) {
    this.remoteAddr = remoteAddr;
    this.handlers = handlers;
    this.#report = report;
    this.queue = new WriteQueue(
      write,
      maxQueue ?? MAX_QUEUE,
      (err) => this.writeFailed(err),
      () => this.fire(this.handlers.onDrain),
    );
  }

  get isOpen(): boolean {
    return this.state === Open;
  }

  get bufferedAmount(): number {
    return this.queue.bufferedAmount;
  }

  drained(): Promise<void> {
    return this.queue.drained();
  }

  ping(_data?: string | Uint8Array): boolean {
    return false;
  }

  abstract send(data: ChannelData, closeAfterSend?: boolean): boolean;
  abstract close(code?: number, reason?: string): boolean;

  /** Closes because the server stops. */
  abstract serverClose(): void;

  /** A write to the socket failed: the peer is gone. */
  protected abstract writeFailed(err: unknown): void;

  /**
   * Calls a user callback with this channel; a throw goes to the error
   * logger, never into the library. (Fixed arguments rather than a closure
   * or rest array: this runs for every message.)
   */
  protected fire(fn: Callback, a?: unknown, b?: unknown, c?: unknown): void {
    if (fn === undefined) return;
    try {
      fn.call(this.handlers, this, a, b, c);
    } catch (err) {
      this.reportError(err);
    }
  }

  /** Reports an error to the logger; a logger that throws is ignored. */
  protected reportError(err: unknown): void {
    try {
      this.#report(err);
    } catch {
      // the logger itself failed; nothing left to tell
    }
  }

  /**
   * topics/: calls `fn(this)` once when the channel closes, before `onClose`
   * (at once when it already has): a hub drops the channel from its topics.
   */
  [WATCH_CLOSE](fn: (ch: Channel) => void): void {
    if (this.#closeReported) fn(this);
    else (this.#watchers ??= []).push(fn);
  }

  /** Calls `onClose` the first time only. */
  protected reportClose(
    status: CloseStatus,
    code?: number,
    reason?: string,
  ): void {
    if (this.#closeReported) return;
    this.#closeReported = true;
    callWatchers(this, this.#watchers);
    this.#watchers = null;
    if (code === undefined) this.fire(this.handlers.onClose, status);
    else this.fire(this.handlers.onClose, status, code, reason);
  }
}
