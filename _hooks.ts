// The hidden methods through which a publisher (topics/) reaches the
// channels made here, and the shape of a message prepared once for all of
// them. They live under the channels so that channels never import from the
// layer that uses them; a channel made elsewhere has no hooks and is served
// through its public `send`, `isOpen` and `bufferedAmount`.

import type { Channel } from "./channel.ts";

/**
 * `channel[DELIVER](message, sse?)`: queues a message prepared once for all
 * subscribers (the shared frame or chunk bytes; never mutated). Returns
 * `false` when the channel is closed or its queue refused the bytes (then it
 * closes, as `send` does). `sse` is set by an SSE stream for the HTTP channel
 * under it: the chunk is the message as an event.
 */
export const DELIVER: unique symbol = Symbol("httpkit.topics.deliver");

/**
 * `channel[WATCH_CLOSE](fn)`: calls `fn(channel)` once when the channel
 * closes, before its `onClose` (at once when it already has).
 */
export const WATCH_CLOSE: unique symbol = Symbol("httpkit.topics.watchClose");

/**
 * Set on globalThis by a server worker (server/_worker_main.ts) before it
 * loads the handler module: the name of its group of workers (the port they
 * share), so that hubs made there reach the other workers on their own. A
 * global rather than a module variable: the app may load this library from
 * another URL than the worker script does.
 */
export const WORKER_GROUP: unique symbol = Symbol.for("httpkit.workerGroup");

/** A compressor a prepared message can be compressed with, once per key. */
export interface Compressor {
  compress(data: Uint8Array): Uint8Array;
}

/**
 * One published message as channels take it, each shape built at most once
 * for all subscribers (topics/_outgoing.ts makes them).
 */
export interface Prepared {
  /** What was published. */
  readonly value: string | Uint8Array;
  /** `true` for text, `false` for bytes. */
  readonly text: boolean;
  /** The WebSocket opcode: text or binary. */
  readonly op: number;
  /** The payload as bytes (UTF-8 for text). */
  bytes(): Uint8Array;
  /** The payload as text (bytes read as UTF-8). */
  string(): string;
  /** The server's uncompressed WebSocket frame. */
  frame(): Uint8Array;
  /** The frame compressed by `d`, built once per `key`. */
  deflatedFrame(key: string, d: Compressor): Uint8Array;
  /** The payload as one HTTP chunk. */
  chunk(): Uint8Array;
  /** The payload as the data of one SSE event. */
  sseBytes(): Uint8Array;
  /** That event as one HTTP chunk. */
  sseChunk(): Uint8Array;
}

/** What a channel with the hooks looks like to a hub. */
export interface Deliverable extends Channel {
  [DELIVER]?(message: Prepared, sse?: boolean): boolean;
  [WATCH_CLOSE]?(fn: (ch: Channel) => void): void;
}

/** Listeners of a channel's close, called once each; a throw is dropped. */
export function callWatchers(
  ch: Channel,
  watchers: ((ch: Channel) => void)[] | null,
): void {
  if (watchers === null) return;
  for (const fn of watchers) {
    try {
      fn(ch);
    } catch {
      // a hub's bookkeeping never throws; nothing to tell
    }
  }
}
