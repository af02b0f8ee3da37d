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
import {
  DELIVER,
  type Deliverable,
  WATCH_CLOSE,
  WORKER_GROUP,
} from "./_hooks.ts";
import { Outgoing } from "./_outgoing.ts";

/**
 * What `publish` takes: text (a WebSocket text frame, an SSE event's data)
 * or bytes (a binary frame; SSE reads them as UTF-8).
 *
 * @example Text and bytes
 * ```ts
 * import { publish, type TopicMessage } from "@httpkit/httpkit";
 *
 * const messages: TopicMessage[] = ["text", new Uint8Array([1, 2, 3])];
 * for (const m of messages) console.assert(publish("nobody-listens", m).delivered === 0);
 * ```
 */
export type TopicMessage = string | Uint8Array;

/**
 * What `publish` reports about the local subscribers of the topic (those of
 * this hub in this process or worker; other processes are not counted).
 *
 * @example Reading the counts
 * ```ts
 * import { type PublishResult, Topics } from "@httpkit/httpkit";
 *
 * const hub = new Topics();
 * const result: PublishResult = hub.publish("news", "nobody yet");
 * console.assert(result.delivered === 0 && result.skipped === 0 && result.closed === 0);
 * await hub.close();
 * ```
 */
export interface PublishResult {
  /** Channels the message was queued for. */
  delivered: number;
  /** Channels over `maxBuffered` that did not get it (`onSlow: "skip"`). */
  skipped: number;
  /** Channels over `maxBuffered` closed instead (`onSlow: "close"`). */
  closed: number;
}

/**
 * What a transport may call on the hub it serves.
 *
 * @example A transport that records what the hub gives it
 * ```ts
 * import { type Transport, type TransportLink, Topics } from "@httpkit/httpkit";
 *
 * let link: TransportLink | null = null;
 * const sent: string[] = [];
 * const transport: Transport = {
 *   open: (l) => void (link = l),
 *   subscribe: () => {},
 *   unsubscribe: () => {},
 *   publish: (topic, message) => void sent.push(`${topic}:${message}`),
 *   close: () => Promise.resolve(),
 * };
 * const hub = new Topics({ transport });
 * hub.publish("a", "one");
 * link!.deliver("a", "from elsewhere"); // to this hub's local subscribers only
 * console.assert(sent.join() === "a:one");
 * await hub.close();
 * ```
 */
export interface TransportLink {
  /**
   * A message published elsewhere: delivered to this hub's local
   * subscribers only (never handed back to the transport).
   */
  deliver(topic: string, message: TopicMessage): void;
  /**
   * A message this hub published that the transport could not pass on; the
   * hub hands it to its `onUndelivered`.
   */
  undelivered(topic: string, message: TopicMessage, error: Error): void;
  /** The topics with local subscribers now (to subscribe again after a reconnect). */
  topics(): string[];
}

/**
 * Carries a hub's messages to the hubs of other workers, processes or
 * hosts. The hub calls `subscribe(topic)` when a topic gets its first local
 * subscriber and `unsubscribe(topic)` when its last one leaves, and
 * `publish` after delivering locally. A transport must not hand a hub's own
 * messages back to it (the hub has delivered them already).
 *
 * @example An in-memory transport between two hubs
 * ```ts
 * import { type Transport, type TransportLink, Topics } from "@httpkit/httpkit";
 *
 * const links = new Set<TransportLink>();
 * function memory(): Transport {
 *   let me: TransportLink;
 *   return {
 *     open: (link) => void links.add(me = link),
 *     subscribe: () => {},
 *     unsubscribe: () => {},
 *     publish(topic, message) {
 *       for (const other of links) if (other !== me) other.deliver(topic, message);
 *     },
 *     close: () => Promise.resolve(void links.delete(me)),
 *   };
 * }
 * const a = new Topics({ transport: memory() });
 * const b = new Topics({ transport: memory() });
 * a.publish("t", "hi"); // b has no subscribers: nothing to see, but it went
 * await a.close();
 * await b.close();
 * ```
 */
export interface Transport {
  /** Starts; resolves once connected (the hub's `ready`). */
  open(link: TransportLink): void | Promise<void>;
  /** The first local subscriber of `topic` arrived. */
  subscribe(topic: string): void;
  /** The last local subscriber of `topic` left. */
  unsubscribe(topic: string): void;
  /** Passes a locally published message on. */
  publish(topic: string, message: TopicMessage): void;
  /** Stops; resolves once disconnected. */
  close(): Promise<void>;
}

/**
 * Options of {@linkcode Topics}.
 *
 * @example A hub that closes slow subscribers
 * ```ts
 * import { Topics, type TopicsOptions } from "@httpkit/httpkit";
 *
 * const options: TopicsOptions = { maxBuffered: 256 * 1024, onSlow: "close" };
 * const hub = new Topics(options);
 * await hub.close();
 * ```
 */
export interface TopicsOptions {
  /**
   * Carries messages to other workers, processes or hosts. Unset: inside a
   * server's `workers`, a `BroadcastChannel` between the workers of the
   * process ({@linkcode broadcastTransport}); elsewhere none. `null`: none,
   * ever (this process, or worker, only).
   */
  transport?: Transport | null;
  /**
   * The hub's name among the workers of a server (unset transport only):
   * hubs of the same name in different workers share their topics. Default
   * `"topics"` (`"default"` for the default hub). A second live hub of the
   * same name in one worker is named `name#2` (then `#3`...), so hubs made
   * in the same order in every worker pair up, and two hubs of one worker
   * never deliver each other's messages.
   */
  name?: string;
  /**
   * Most bytes a subscriber may have queued and still get a message.
   * Default 1 MiB.
   */
  maxBuffered?: number;
  /**
   * What happens to a subscriber over `maxBuffered`: `"skip"` (the default)
   * leaves the message out for it, `"close"` closes it (WebSocket code 1008,
   * "policy violation").
   */
  onSlow?: "skip" | "close";
  /**
   * A message the transport could not pass on to other processes (e.g.
   * while Redis is down), with the reason. Default: a line on the console.
   */
  onUndelivered?(topic: string, message: TopicMessage, error: Error): void;
}

const TOPICS_OPTIONS = [
  "transport",
  "name",
  "maxBuffered",
  "onSlow",
  "onUndelivered",
];

/** Default most bytes queued for a subscriber that still gets messages. */
const MAX_BUFFERED = 1024 * 1024;

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
  readonly #maxBuffered: number;
  readonly #closeSlow: boolean;
  readonly #onUndelivered: (
    topic: string,
    message: TopicMessage,
    error: Error,
  ) => void;
  #closed = false;
  // The name claimed among the hubs of this worker (auto-wired only).
  #name: string | null = null;

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
    this.#maxBuffered = max;
    this.#closeSlow = onSlow === "close";
    this.#onUndelivered = options.onUndelivered ?? logUndelivered;
    if (options.transport === undefined) {
      const group = (globalThis as Record<symbol, unknown>)[WORKER_GROUP];
      if (typeof group === "string") {
        this.#name = claimName(options.name ?? "topics");
        this.#transport = broadcastTransport(
          `httpkit.topics/${group}/${this.#name}`,
        );
      } else this.#transport = null;
    } else this.#transport = options.transport;
    const link: TransportLink = {
      deliver: (topic, message) => {
        if (!this.#closed) this.#deliver(topic, message);
      },
      undelivered: (topic, message, error) =>
        this.#undelivered(topic, message, error),
      topics: () => [...this.#topics.keys()],
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
    if (this.#name !== null) liveNames().delete(this.#name);
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
    let delivered = 0, skipped = 0, closed = 0;
    if (set !== undefined) {
      const m = new Outgoing(message);
      const max = this.#maxBuffered;
      for (const ch of set) {
        if (ch.bufferedAmount > max) {
          if (this.#closeSlow) {
            this.#leave(ch);
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
        if (!ch.isOpen) this.#leave(ch);
      }
    }
    return { delivered, skipped, closed };
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

// The "close" policy: 1008 (policy violation) on a WebSocket; an HTTP
// channel just closes.
function closeSlow(ch: Channel): void {
  try {
    ch.close(1008, "Too slow for its topics");
  } catch (err) {
    console.error(err);
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

// ---------------------------------------------------------------- workers

// The names of the auto-wired hubs of this worker. (On globalThis: the app
// may load this module from another URL than a library it uses.)
const NAMES: unique symbol = Symbol.for("httpkit.topics.names");

function liveNames(): Set<string> {
  const g = globalThis as Record<symbol, Set<string> | undefined>;
  return g[NAMES] ??= new Set();
}

function claimName(name: string): string {
  const live = liveNames();
  let claimed = name;
  for (let k = 2; live.has(claimed); k++) claimed = `${name}#${k}`;
  live.add(claimed);
  return claimed;
}

/**
 * A transport between the workers of one process: a `BroadcastChannel` of
 * the given name. Hubs inside a server's `workers` use one on their own
 * (one per hub `name`); this is for hubs in Web Workers of your own, which
 * pass the same name.
 *
 * Every worker gets every message and delivers it to its local subscribers
 * of the topic, if any (a `BroadcastChannel` has no per-topic filter);
 * the publishing hub's own channel does not get it back.
 *
 * @param name The `BroadcastChannel` name the hubs share.
 * @returns The transport.
 *
 * @example Two hubs joined by a BroadcastChannel
 * ```ts
 * import { broadcastTransport, Topics } from "@httpkit/httpkit";
 *
 * const a = new Topics({ transport: broadcastTransport("my-app-topics") });
 * const b = new Topics({ transport: broadcastTransport("my-app-topics") });
 * a.publish("news", "reaches the subscribers of b too");
 * await a.close();
 * await b.close();
 * ```
 */
export function broadcastTransport(name: string): Transport {
  if (typeof name !== "string") {
    throw new TypeError(
      `broadcastTransport takes a name string: received ${describe(name)}`,
    );
  }
  let bc: BroadcastChannel | null = null;
  return {
    open(link) {
      bc = new BroadcastChannel(name);
      bc.onmessage = (e: MessageEvent<[string, TopicMessage]>) => {
        const [topic, message] = e.data;
        link.deliver(topic, message);
      };
    },
    subscribe() {},
    unsubscribe() {},
    publish(topic, message) {
      bc?.postMessage([topic, message]);
    },
    close() {
      bc?.close();
      bc = null;
      return Promise.resolve();
    },
  };
}

// ------------------------------------------------------- the default hub

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
