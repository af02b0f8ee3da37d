// The default hub behind the module-level subscribe, unsubscribe and
// publish: embedded (one process, nothing to run) until replaced.

import { describe } from "../_describe.ts";
import type { Channel } from "../channel.ts";
import { Topics } from "./topics.ts";
import type { PublishResult, TopicMessage } from "./types.ts";

let defaultHub: Topics | null = null;

/**
 * The hub behind the module-level {@linkcode subscribe},
 * {@linkcode unsubscribe} and {@linkcode publish}; given a hub, makes it
 * that hub (e.g. one with a Redis transport) and returns it.
 *
 * The first default hub is made on first use with no options: embedded, or
 * joined to the other workers inside a server's `workers`.
 *
 * @param hub A hub to use from now on.
 * @returns The default hub.
 *
 * @example Counting the default hub's topics
 * ```ts
 * import { defaultTopics } from "@httpkit/httpkit";
 *
 * console.assert(Array.isArray(defaultTopics().topics()));
 * ```
 */
export function defaultTopics(hub?: Topics): Topics {
  if (hub !== undefined) {
    if (!(hub instanceof Topics)) {
      throw new TypeError(
        `defaultTopics takes a Topics hub: received ${describe(hub)}`,
      );
    }
    defaultHub = hub;
  }
  return defaultHub ??= new Topics({ name: "default" });
}

/**
 * Subscribes a channel to a topic of the default hub; see
 * {@linkcode Topics.subscribe}.
 *
 * @param channel An open channel.
 * @param topic The topic's name.
 * @returns `true` when newly subscribed.
 *
 * @example An SSE stream on a topic
 * ```ts
 * import { publish, runServer, sse, subscribe } from "@httpkit/httpkit";
 *
 * const server = runServer((req) =>
 *   sse(req, {
 *     onOpen(ch) {
 *       subscribe(ch, "prices");
 *       setTimeout(() => {
 *         publish("prices", '{"eur":1.08}');
 *         ch.close();
 *       }, 10);
 *     },
 *   }), { ip: "127.0.0.1", port: 0 });
 * const res = await fetch(`http://127.0.0.1:${server.port}/`);
 * console.assert((await res.text()) === 'data: {"eur":1.08}\n\n');
 * await server.stop();
 * ```
 */
export function subscribe(channel: Channel, topic: string): boolean {
  return defaultTopics().subscribe(channel, topic);
}

/**
 * Unsubscribes a channel from a topic of the default hub, or from all its
 * topics; see {@linkcode Topics.unsubscribe}.
 *
 * @param channel The channel.
 * @param topic The topic; omitted, every topic.
 * @returns `true` when the channel was subscribed.
 *
 * @example Muting a WebSocket
 * ```ts
 * import { asChannel, publish, runServer, subscribe, unsubscribe, websocket } from "@httpkit/httpkit";
 *
 * const server = runServer((req) =>
 *   asChannel(req, {
 *     onOpen: (ch) => subscribe(ch, "chatter"),
 *     onReceive(ch, message) {
 *       if (message === "mute") unsubscribe(ch, "chatter");
 *       ch.send(`subscribed: ${publish("chatter", "...").delivered}`);
 *     },
 *   }), { ip: "127.0.0.1", port: 0 });
 * const replies: (string | Uint8Array)[] = [];
 * const done = Promise.withResolvers<void>();
 * const ch = await websocket(`ws://127.0.0.1:${server.port}/`, {
 *   onReceive(_ch, message) {
 *     replies.push(message);
 *     if (message === "subscribed: 0") done.resolve();
 *   },
 * });
 * ch.send("mute");
 * await done.promise;
 * ch.close();
 * await ch.closed;
 * await server.stop();
 * ```
 */
export function unsubscribe(channel: Channel, topic?: string): boolean {
  return defaultTopics().unsubscribe(channel, topic);
}

/**
 * Publishes a message to a topic of the default hub; see
 * {@linkcode Topics.publish}.
 *
 * @param topic The topic's name.
 * @param message Text or bytes.
 * @returns How many local channels got it, were skipped or were closed.
 *
 * @example Nobody subscribed
 * ```ts
 * import { publish } from "@httpkit/httpkit";
 *
 * const { delivered, skipped } = publish("quiet", "anyone?");
 * console.assert(delivered === 0 && skipped === 0);
 * ```
 */
export function publish(topic: string, message: TopicMessage): PublishResult {
  return defaultTopics().publish(topic, message);
}
