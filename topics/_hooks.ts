// The two hidden methods through which a topic hub (topics/topics.ts) talks
// to the channels it holds. Channels made here (WebSocket, HTTP, SSE) have
// them; a channel made elsewhere has neither and is served through its public
// `send`, `isOpen` and `bufferedAmount`.

import type { Channel } from "../channel.ts";
import type { Outgoing } from "./_outgoing.ts";

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

/** What a channel with the hooks looks like to a hub. */
export interface Deliverable extends Channel {
  [DELIVER]?(message: Outgoing, sse?: boolean): boolean;
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
