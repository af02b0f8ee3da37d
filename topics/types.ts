// The plain shapes of topics: what is published, what a publish reports,
// and what a transport between hubs must do.

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
