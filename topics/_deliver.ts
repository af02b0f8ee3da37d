// Delivery to one topic's local subscribers, and what a slow one gets. The
// message is prepared once (topics/_outgoing.ts) and handed to every
// subscriber; one whose queue holds more than `maxBuffered` bytes is skipped
// for it (counted) or closed with 1008, as the hub's `onSlow` says, so a slow
// subscriber never grows the server's memory nor holds the others back.

import type { Channel } from "../channel.ts";
import { DELIVER, type Deliverable } from "../_hooks.ts";
import { Outgoing } from "./_outgoing.ts";
import type { PublishResult, TopicMessage, TopicsOptions } from "./types.ts";

/** Default most bytes queued for a subscriber that still gets messages. */
const MAX_BUFFERED = 1024 * 1024;

/** A hub's policy for slow subscribers, from its options. */
export interface SlowPolicy {
  /** Most bytes queued for a subscriber that still gets messages. */
  maxBuffered: number;
  /** Close a subscriber over the limit (else skip it). */
  closeSlow: boolean;
}

/**
 * The policy `options` ask for.
 *
 * @throws {RangeError} For a negative or non-number `maxBuffered`.
 * @throws {TypeError} For an `onSlow` other than "skip" or "close".
 */
export function slowPolicy(options: TopicsOptions): SlowPolicy {
  const max = options.maxBuffered ?? MAX_BUFFERED;
  if (typeof max !== "number" || !(max >= 0)) {
    throw new RangeError(
      `Topics: maxBuffered must be a number of bytes, at least 0: received ${
        String(max)
      }`,
    );
  }
  const onSlow = options.onSlow ?? "skip";
  if (onSlow !== "skip" && onSlow !== "close") {
    throw new TypeError(
      `Topics: onSlow must be "skip" or "close": received ${
        JSON.stringify(onSlow)
      }`,
    );
  }
  return { maxBuffered: max, closeSlow: onSlow === "close" };
}

/**
 * Delivers `message` to `subscribers` under `policy`. `leave` takes a
 * channel out of the hub: one closed for being slow, a long-poll that has
 * answered, a channel that refused or failed.
 */
export function deliverTo(
  subscribers: Iterable<Deliverable>,
  message: TopicMessage,
  policy: SlowPolicy,
  leave: (ch: Channel) => void,
): PublishResult {
  let delivered = 0, skipped = 0, closed = 0;
  const m = new Outgoing(message);
  const max = policy.maxBuffered;
  for (const ch of subscribers) {
    if (ch.bufferedAmount > max) {
      if (policy.closeSlow) {
        leave(ch);
        closeSlow(ch);
        closed++;
      } else skipped++;
      continue;
    }
    let ok = false;
    try {
      ok = ch[DELIVER] !== undefined
        ? ch[DELIVER](m)
        : ch.isOpen && ch.send(m.value);
    } catch (err) {
      console.error(err);
    }
    if (ok) delivered++;
    // A long-poll answers once; a refused or failed channel is gone.
    if (!ch.isOpen) leave(ch);
  }
  return { delivered, skipped, closed };
}

// The "close" policy: 1008 (policy violation) on a WebSocket; an HTTP
// channel just closes.
function closeSlow(ch: Channel): void {
  try {
    ch.close(1008, "Too slow for its topics");
  } catch (err) {
    console.error(err);
  }
}
