/**
 * Topics: one `publish` reaches every channel subscribed to a topic —
 * WebSockets, HTTP streams, SSE streams and long-polls alike — in one
 * process, across the `workers` of a server, and (with a transport such as
 * `@httpkit/httpkit/redis`) across processes and hosts.
 *
 * ```ts
 * import { asChannel, publish, runServer, subscribe, websocket } from "@httpkit/httpkit";
 *
 * // A chat room: every message goes to every member, the sender too.
 * const server = runServer((req) =>
 *   asChannel(req, {
 *     onOpen: (ch) => subscribe(ch, "room"),
 *     onReceive: (_ch, message) => publish("room", message),
 *   }), { ip: "127.0.0.1", port: 0 });
 *
 * const got = Promise.withResolvers<string | Uint8Array>();
 * const alice = await websocket(`ws://127.0.0.1:${server.port}/`, {
 *   onReceive: (_ch, message) => got.resolve(message),
 * });
 * alice.send("hello, room");
 * console.assert((await got.promise) === "hello, room");
 * alice.close();
 * await alice.closed;
 * await server.stop();
 * ```
 *
 * How it is built, and why:
 *
 * - **One hub, plain functions on top.** A {@linkcode Topics} hub holds a set
 *   of channels per topic. `subscribe`, `unsubscribe` and `publish` at module
 *   level use a default hub ({@linkcode defaultTopics}), so the common case
 *   is one import; a hub of its own gives other limits or another transport.
 * - **Encode once.** A publish prepares the message once: the WebSocket frame
 *   (compressed once per set of permessage-deflate parameters when the
 *   server keeps no context between messages, its default; per channel with
 *   context takeover, where each connection's compressor differs), the HTTP
 *   chunk, the SSE event. Each subscriber's send queue takes those shared
 *   bytes, and whatever a socket gets within one turn of the event loop goes
 *   out in one write.
 * - **A slow subscriber never slows the others.** Before each delivery the
 *   hub looks at the channel's `bufferedAmount`: over `maxBuffered` the
 *   message is skipped for that channel (counted in the result) or, with
 *   `onSlow: "close"`, the channel is closed (1008 on a WebSocket). Memory
 *   per subscriber stays under `maxBuffered` plus one message.
 * - **Every kind of channel.** A WebSocket gets a text frame for a string
 *   and a binary frame for bytes; a chunked HTTP stream gets the bytes as a
 *   chunk; an {@linkcode sse} stream gets an event whose data is the text;
 *   an HTTP channel that has sent nothing yet is a long-poll: the message is
 *   its whole response (`text/plain` or `application/octet-stream`), after
 *   which the channel completes and leaves its topics. A channel leaves all
 *   its topics when it closes; a channel made elsewhere (any object with the
 *   {@linkcode Channel} methods) gets `send(message)`, and leaves once it is
 *   no longer `isOpen`.
 * - **Transports.** With none, topics live in one process. Inside a server
 *   started with `workers`, hubs reach the other workers of the process by
 *   a `BroadcastChannel` on their own, with nothing to configure
 *   ({@linkcode broadcastTransport}). Across processes, pass a transport
 *   such as `redisTransport()` from `@httpkit/httpkit/redis`: a process then
 *   listens to a topic only while it has local subscribers for it. A
 *   message reaches the publisher's own subscribers once, directly, never
 *   again through the transport. What a transport could not pass on goes to
 *   `onUndelivered`, never silently away.
 *
 * @module
 */

import { describe } from "../_describe.ts";
import { checkOptions } from "../_options.ts";
import type { Channel } from "../channel.ts";
import { type Deliverable, WATCH_CLOSE } from "../_hooks.ts";
import { deliverTo, type SlowPolicy, slowPolicy } from "./_deliver.ts";
import { workerTransport } from "./broadcast.ts";
import type {
  PublishResult,
  TopicMessage,
  TopicsOptions,
  Transport,
  TransportLink,
} from "./types.ts";

const TOPICS_OPTIONS = [
  "transport",
  "name",
  "maxBuffered",
  "onSlow",
  "onUndelivered",
];

/**
 * A publish/subscribe hub over channels: a set of channels per topic, and an
 * optional transport to other workers, processes or hosts.
 *
 * @example A hub of its own, with a WebSocket subscriber
 * ```ts
 * import { asChannel, runServer, Topics, websocket } from "@httpkit/httpkit";
 *
 * const news = new Topics({ maxBuffered: 64 * 1024 });
 * const joined = Promise.withResolvers<void>();
 * const server = runServer((req) =>
 *   asChannel(req, {
 *     onOpen(ch) {
 *       news.subscribe(ch, "sports");
 *       joined.resolve();
 *     },
 *   }), { ip: "127.0.0.1", port: 0 });
 *
 * const got = Promise.withResolvers<string | Uint8Array>();
 * const reader = await websocket(`ws://127.0.0.1:${server.port}/`, {
 *   onReceive: (_ch, message) => got.resolve(message),
 * });
 * await joined.promise;
 * const result = news.publish("sports", "3-1");
 * console.assert(result.delivered === 1);
 * console.assert((await got.promise) === "3-1");
 * reader.close();
 * await reader.closed;
 * await server.stop();
 * await news.close();
 * ```
 */
export class Topics {
  /** Resolves once the transport is connected (at once without one). */
  readonly ready: Promise<void>;
  // Channels per topic, and topics per channel.
  readonly #topics = new Map<string, Set<Deliverable>>();
  readonly #channels = new Map<Channel, Set<string>>();
  // Channels whose close this hub already watches (once per channel).
  readonly #watched = new WeakSet<Channel>();
  readonly #transport: Transport | null;
  readonly #policy: SlowPolicy;
  readonly #onUndelivered: (
    topic: string,
    message: TopicMessage,
    error: Error,
  ) => void;
  #closed = false;

  /**
   * Creates a hub.
   *
   * @param options Transport, name, backpressure limit and policy,
   * `onUndelivered`.
   * @throws {TypeError} For an unknown option or a bad `onSlow`.
   * @throws {RangeError} For a negative or non-number `maxBuffered`.
   */
  constructor(options: TopicsOptions = {}) {
    checkOptions("Topics", options, TOPICS_OPTIONS);
    this.#policy = slowPolicy(options);
    this.#onUndelivered = options.onUndelivered ?? logUndelivered;
    this.#transport = options.transport === undefined
      ? workerTransport(options.name)
      : options.transport;
    const link: TransportLink = {
      deliver: (topic, message) => {
        if (!this.#closed) this.#deliver(topic, message);
      },
      undelivered: (topic, message, error) =>
        this.#undelivered(topic, message, error),
      topics: () => this.topics(),
    };
    this.ready = Promise.resolve(this.#transport?.open(link));
    // A transport that cannot start rejects `ready`; unawaited, that must
    // not end the process.
    this.ready.catch(() => {});
  }

  /**
   * Subscribes a channel to a topic. A channel that closes leaves all its
   * topics.
   *
   * @param channel An open channel: from {@linkcode asChannel},
   * {@linkcode sse}, {@linkcode websocket}, or any object with the
   * {@linkcode Channel} methods.
   * @param topic The topic's name.
   * @returns `true` when newly subscribed; `false` when it already was, or
   * the channel is closed.
   * @throws {TypeError} When the topic is not a string or the channel has no
   * `send`.
   * @throws {Error} When the hub is closed.
   *
   * @example Subscribing in onOpen
   * ```ts
   * import { asChannel, runServer, Topics } from "@httpkit/httpkit";
   *
   * const hub = new Topics();
   * const server = runServer((req) =>
   *   asChannel(req, {
   *     onOpen(ch) {
   *       ch.send({ headers: { "content-type": "text/plain" } }, false);
   *       console.assert(hub.subscribe(ch, "ticks"));
   *       console.assert(!hub.subscribe(ch, "ticks")); // already
   *       hub.publish("ticks", "tick\n");
   *       ch.close();
   *     },
   *   }), { ip: "127.0.0.1", port: 0 });
   * const res = await fetch(`http://127.0.0.1:${server.port}/`);
   * console.assert((await res.text()) === "tick\n");
   * await server.stop();
   * await hub.close();
   * ```
   */
  subscribe(channel: Channel, topic: string): boolean {
    this.#check("subscribe", topic);
    checkChannel("subscribe", channel);
    if (this.#closed) throw new Error("Topics: subscribe on a closed hub");
    if (!channel.isOpen) return false;
    let mine = this.#channels.get(channel);
    if (mine === undefined) {
      mine = new Set();
      this.#channels.set(channel, mine);
    } else if (mine.has(topic)) return false;
    mine.add(topic);
    let set = this.#topics.get(topic);
    if (set === undefined) {
      set = new Set();
      this.#topics.set(topic, set);
      this.#transport?.subscribe(topic);
    }
    set.add(channel);
    if (!this.#watched.has(channel)) {
      this.#watched.add(channel);
      (channel as Deliverable)[WATCH_CLOSE]?.(this.#leave);
    }
    return true;
  }

  /**
   * Unsubscribes a channel from a topic, or from all its topics.
   *
   * @param channel The channel.
   * @param topic The topic; omitted, every topic of the channel.
   * @returns `true` when the channel was subscribed.
   *
   * @example Leaving one topic, then all
   * ```ts
   * import { asChannel, runServer, Topics } from "@httpkit/httpkit";
   *
   * const hub = new Topics();
   * const server = runServer((req) =>
   *   asChannel(req, {
   *     onOpen(ch) {
   *       hub.subscribe(ch, "a");
   *       hub.subscribe(ch, "b");
   *       console.assert(hub.unsubscribe(ch, "a"));
   *       console.assert(hub.topicsOf(ch).join() === "b");
   *       console.assert(hub.unsubscribe(ch));
   *       console.assert(hub.topics().length === 0);
   *       ch.send("done");
   *     },
   *   }), { ip: "127.0.0.1", port: 0 });
   * await (await fetch(`http://127.0.0.1:${server.port}/`)).text();
   * await server.stop();
   * await hub.close();
   * ```
   */
  unsubscribe(channel: Channel, topic?: string): boolean {
    if (topic !== undefined) this.#check("unsubscribe", topic);
    const mine = this.#channels.get(channel);
    if (mine === undefined) return false;
    if (topic === undefined) {
      this.#leave(channel);
      return true;
    }
    if (!mine.delete(topic)) return false;
    if (mine.size === 0) this.#channels.delete(channel);
    this.#remove(topic, channel);
    return true;
  }

  /**
   * Publishes a message to every channel subscribed to the topic: here at
   * once, and through the transport (if any) to other workers or processes.
   *
   * @param topic The topic's name.
   * @param message Text or bytes.
   * @returns How many local channels got it, were skipped or were closed
   * for being slow.
   * @throws {TypeError} When the topic is not a string, or the message is
   * neither a string nor a Uint8Array.
   *
   * @example A long-poll answered by a publish
   * ```ts
   * import { asChannel, runServer, Topics } from "@httpkit/httpkit";
   *
   * const hub = new Topics();
   * const waiting = Promise.withResolvers<void>();
   * const server = runServer((req) =>
   *   asChannel(req, {
   *     onOpen(ch) {
   *       hub.subscribe(ch, "poll");
   *       waiting.resolve();
   *     },
   *   }), { ip: "127.0.0.1", port: 0 });
   * const res = fetch(`http://127.0.0.1:${server.port}/poll`);
   * await waiting.promise;
   * console.assert(hub.publish("poll", "news").delivered === 1);
   * console.assert((await (await res).text()) === "news");
   * console.assert(hub.subscribers("poll") === 0); // a long-poll answers once
   * await server.stop();
   * await hub.close();
   * ```
   */
  publish(topic: string, message: TopicMessage): PublishResult {
    this.#check("publish", topic);
    if (typeof message !== "string" && !(message instanceof Uint8Array)) {
      throw new TypeError(
        `Topics: publish takes a string or a Uint8Array: received ${
          describe(message)
        }`,
      );
    }
    if (this.#closed) return { delivered: 0, skipped: 0, closed: 0 };
    const result = this.#deliver(topic, message);
    if (this.#transport !== null) {
      try {
        this.#transport.publish(topic, message);
      } catch (err) {
        this.#undelivered(topic, message, err);
      }
    }
    return result;
  }

  /**
   * How many local channels are subscribed to a topic.
   *
   * @param topic The topic's name.
   * @returns The count.
   *
   * @example Nobody yet
   * ```ts
   * import { Topics } from "@httpkit/httpkit";
   *
   * const hub = new Topics();
   * console.assert(hub.subscribers("empty") === 0);
   * await hub.close();
   * ```
   */
  subscribers(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /**
   * The topics that have local subscribers.
   *
   * @returns Their names.
   *
   * @example None at first
   * ```ts
   * import { Topics } from "@httpkit/httpkit";
   *
   * const hub = new Topics();
   * console.assert(hub.topics().length === 0);
   * await hub.close();
   * ```
   */
  topics(): string[] {
    return [...this.#topics.keys()];
  }

  /**
   * The topics a channel is subscribed to.
   *
   * @param channel The channel.
   * @returns Their names (none for a channel this hub does not hold).
   *
   * @example A channel the hub never saw
   * ```ts
   * import { type Channel, Topics } from "@httpkit/httpkit";
   *
   * const hub = new Topics();
   * console.assert(hub.topicsOf({} as Channel).length === 0);
   * await hub.close();
   * ```
   */
  topicsOf(channel: Channel): string[] {
    return [...(this.#channels.get(channel) ?? [])];
  }

  /**
   * Counts of what the hub holds: topics with subscribers, subscribed
   * channels, and subscriptions (channel-topic pairs).
   *
   * @returns The counts.
   *
   * @example An empty hub
   * ```ts
   * import { Topics } from "@httpkit/httpkit";
   *
   * const hub = new Topics();
   * const s = hub.stats();
   * console.assert(s.topics === 0 && s.channels === 0 && s.subscriptions === 0);
   * await hub.close();
   * ```
   */
  stats(): { topics: number; channels: number; subscriptions: number } {
    let subscriptions = 0;
    for (const set of this.#topics.values()) subscriptions += set.size;
    return {
      topics: this.#topics.size,
      channels: this.#channels.size,
      subscriptions,
    };
  }

  /**
   * Drops every subscription (the channels stay open) and closes the
   * transport. Later publishes deliver nothing; later subscribes throw.
   *
   * @returns Resolves once the transport is closed.
   *
   * @example Closing twice is harmless
   * ```ts
   * import { Topics } from "@httpkit/httpkit";
   *
   * const hub = new Topics();
   * await hub.close();
   * await hub.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#topics.clear();
    this.#channels.clear();
    await this.#transport?.close();
  }

  #undelivered(topic: string, message: TopicMessage, error: unknown): void {
    try {
      this.#onUndelivered(
        topic,
        message,
        error instanceof Error ? error : new Error(String(error)),
      );
    } catch (err) {
      console.error(err);
    }
  }

  // Delivers to the local subscribers of `topic`.
  #deliver(topic: string, message: TopicMessage): PublishResult {
    const set = this.#topics.get(topic);
    if (set === undefined) return { delivered: 0, skipped: 0, closed: 0 };
    return deliverTo(set, message, this.#policy, this.#leave);
  }

  // A channel leaves every topic (it closed, or asked to).
  #leave = (ch: Channel): void => {
    const mine = this.#channels.get(ch);
    if (mine === undefined) return;
    this.#channels.delete(ch);
    for (const topic of mine) this.#remove(topic, ch);
  };

  #remove(topic: string, ch: Channel): void {
    const set = this.#topics.get(topic);
    if (set === undefined || !set.delete(ch) || set.size > 0) return;
    this.#topics.delete(topic);
    if (!this.#closed) this.#transport?.unsubscribe(topic);
  }

  #check(where: string, topic: unknown): void {
    if (typeof topic !== "string") {
      throw new TypeError(
        `Topics: ${where} takes a topic name string: received ${
          describe(topic)
        }`,
      );
    }
  }
}

function checkChannel(where: string, channel: unknown): void {
  if (
    typeof channel !== "object" || channel === null ||
    typeof (channel as Channel).send !== "function"
  ) {
    throw new TypeError(
      `Topics: ${where} takes a channel (with send): received ${
        describe(channel)
      }`,
    );
  }
}

function logUndelivered(
  topic: string,
  _message: TopicMessage,
  error: Error,
): void {
  console.error(
    `topics: a message to ${
      JSON.stringify(topic)
    } did not reach other processes: ${error.message}`,
  );
}
