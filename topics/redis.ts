/**
 * A Redis pub/sub transport for topics: one `publish` reaches the
 * subscribers of every process and host whose hub uses it.
 *
 * ```ts ignore
 * import { asChannel, defaultTopics, publish, runServer, subscribe, Topics } from "@httpkit/httpkit";
 * import { redisTransport } from "@httpkit/httpkit/redis";
 *
 * // The one line: the default hub goes through Redis.
 * const hub = defaultTopics(new Topics({ transport: redisTransport({ url: "redis://127.0.0.1:6379" }) }));
 * await hub.ready;
 *
 * runServer((req) =>
 *   asChannel(req, {
 *     onOpen: (ch) => subscribe(ch, "room"),
 *     onReceive: (_ch, message) => publish("room", message),
 *   }), { port: 8080 });
 * ```
 *
 * Kept apart from `@httpkit/httpkit` so that the core stays free of
 * dependencies: this module alone imports a Redis client.
 *
 * The client is node-redis (`npm:@redis/client`, the core package of npm
 * `redis`, without its search, JSON and time-series modules): Redis's own
 * client for Node.js, the one Redis recommends for new projects over
 * ioredis, maintained in step with the server (RESP3, new commands), with
 * automatic reconnection that subscribes again to what it had, and binary
 * messages. It runs under Deno unchanged (tests/topics_redis_test.ts).
 *
 * How it behaves:
 *
 * - Two connections per transport: one publishes, one subscribes (a Redis
 *   connection in subscribe mode can do nothing else).
 * - A process subscribes to the Redis channel of a topic (`prefix` +
 *   topic) only while its hub has local subscribers for it, and
 *   unsubscribes when the last one leaves.
 * - A message carries a small header (format, text or bytes, and the
 *   publishing transport's id), so a process ignores its own messages when
 *   Redis sends them back: its hub delivered them locally already, once.
 *   A message published to the channel by something else (say
 *   `redis-cli PUBLISH httpkit:room hello`) arrives as text.
 * - **Outages.** Both connections reconnect on their own, and the subscriber
 *   subscribes again to every topic. What this process publishes while
 *   Redis is unreachable is not queued (a queue would grow without bound
 *   and deliver stale messages late): each such message goes to the hub's
 *   `onUndelivered(topic, message, error)`, as does one whose connection
 *   broke before Redis answered (Redis may have passed that one on). What
 *   other processes publish while this one's subscriber is disconnected is
 *   lost for it, as Redis pub/sub keeps nothing; `onError` hears of every
 *   outage, once, when it starts.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createClient } from "npm:@redis/client@^5.12";
import { checkOptions } from "../_options.ts";
import type { TopicMessage, Transport, TransportLink } from "./types.ts";

/**
 * Options of {@linkcode redisTransport}.
 *
 * @example Over a Unix socket, with a prefix of its own
 * ```ts
 * import type { RedisTransportOptions } from "@httpkit/httpkit/redis";
 *
 * const options: RedisTransportOptions = {
 *   path: "/run/redis/redis.sock",
 *   prefix: "chat:",
 *   onError: (err) => console.error(`redis: ${err.message}`),
 * };
 * console.assert(options.prefix === "chat:");
 * ```
 */
export interface RedisTransportOptions {
  /**
   * The server, as `redis://[[user]:password@]host[:port][/db]` (or
   * `rediss://` for TLS). Default `redis://127.0.0.1:6379`.
   */
  url?: string;
  /** A Unix socket path to connect to instead of `url`. */
  path?: string;
  /**
   * Put before each topic to name its Redis channel, so that several apps
   * can share a Redis. Default `"httpkit:"`.
   */
  prefix?: string;
  /**
   * Hears of each outage of either connection once, when it starts (and of
   * a failed subscribe). Default: a line on the console.
   */
  onError?(error: Error): void;
  /** Most ms between two reconnection attempts. Default 1000. */
  maxRetryDelay?: number;
}

const REDIS_OPTIONS = ["url", "path", "prefix", "onError", "maxRetryDelay"];

// The message header: format byte, kind byte, 8 bytes of the publisher's id.
const FORMAT = 1;
const TEXT = 0x74; // "t"
const BYTES = 0x62; // "b"
const ID_BYTES = 8;
const HEAD = 2 + ID_BYTES;

type Client = ReturnType<typeof createClient>;

/**
 * A {@linkcode Transport} over Redis pub/sub; see the module doc.
 *
 * @example Two hubs, two connections each, one Redis
 * ```ts ignore
 * import { Topics } from "@httpkit/httpkit";
 * import { RedisTransport } from "@httpkit/httpkit/redis";
 *
 * const a = new Topics({ transport: new RedisTransport({ url: "redis://127.0.0.1:6379" }) });
 * const b = new Topics({ transport: new RedisTransport({ url: "redis://127.0.0.1:6379" }) });
 * await Promise.all([a.ready, b.ready]);
 * // a.publish(...) reaches b's subscribers, and a's own ones once.
 * await a.close();
 * await b.close();
 * ```
 */
export class RedisTransport implements Transport {
  readonly #prefix: string;
  readonly #onError: (error: Error) => void;
  readonly #id: Uint8Array = crypto.getRandomValues(new Uint8Array(ID_BYTES));
  readonly #pub: Client;
  readonly #sub: Client;
  // Per topic: the listener given to the subscriber connection.
  readonly #listeners = new Map<string, (message: Buffer) => void>();
  #link: TransportLink | null = null;
  #closed = false;

  /**
   * Creates the transport; it connects when a hub opens it.
   *
   * @param options Where Redis is, the channel prefix, `onError`.
   * @throws {TypeError} For an unknown option.
   */
  constructor(options: RedisTransportOptions = {}) {
    checkOptions("redisTransport", options, REDIS_OPTIONS);
    this.#prefix = options.prefix ?? "httpkit:";
    this.#onError = options.onError ??
      ((err) => console.error(`topics/redis: ${err.message}`));
    const maxDelay = options.maxRetryDelay ?? 1000;
    const reconnectStrategy = (retries: number): number =>
      Math.min(50 * 2 ** Math.min(retries, 10), maxDelay);
    const socket = options.path !== undefined
      ? { path: options.path, reconnectStrategy }
      : { reconnectStrategy };
    const url = options.path !== undefined
      ? undefined
      : options.url ?? "redis://127.0.0.1:6379";
    // No offline queue on the publisher: a message that cannot go now is
    // reported, not held. The subscriber keeps its queue, so subscribes
    // asked for during an outage go out on reconnection.
    this.#pub = createClient({ url, socket, disableOfflineQueue: true });
    this.#sub = createClient({ url, socket });
    this.#watch(this.#pub, "publisher");
    this.#watch(this.#sub, "subscriber");
  }

  /**
   * Connects both connections; resolves once both are ready.
   *
   * @param link The hub.
   */
  async open(link: TransportLink): Promise<void> {
    this.#link = link;
    await Promise.all([this.#pub.connect(), this.#sub.connect()]);
  }

  /**
   * Subscribes to the topic's Redis channel.
   *
   * @param topic The topic.
   */
  subscribe(topic: string): void {
    if (this.#closed || this.#listeners.has(topic)) return;
    const listener = (message: Buffer): void => this.#receive(topic, message);
    this.#listeners.set(topic, listener);
    this.#sub.subscribe(this.#prefix + topic, listener, true).catch((err) =>
      this.#fail(err)
    );
  }

  /**
   * Unsubscribes from the topic's Redis channel.
   *
   * @param topic The topic.
   */
  unsubscribe(topic: string): void {
    const listener = this.#listeners.get(topic);
    if (this.#closed || listener === undefined) return;
    this.#listeners.delete(topic);
    this.#sub.unsubscribe(this.#prefix + topic, listener, true).catch((err) =>
      this.#fail(err)
    );
  }

  /**
   * Publishes to the topic's Redis channel; a failure goes to the hub's
   * `onUndelivered`.
   *
   * @param topic The topic.
   * @param message The message.
   */
  publish(topic: string, message: TopicMessage): void {
    const link = this.#link;
    if (link === null) return;
    if (this.#closed || !this.#pub.isReady) {
      link.undelivered(
        topic,
        message,
        new Error(
          `Redis is not connected (${
            this.#pub.isOpen ? "reconnecting" : "closed"
          })`,
        ),
      );
      return;
    }
    this.#pub.publish(this.#prefix + topic, this.#encode(message)).catch(
      (err) => link.undelivered(topic, message, toError(err)),
    );
  }

  /** Closes both connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    await Promise.all([quit(this.#pub), quit(this.#sub)]);
  }

  #encode(message: TopicMessage): Buffer {
    let out: Buffer;
    if (typeof message === "string") {
      out = Buffer.allocUnsafe(HEAD + Buffer.byteLength(message));
      out[1] = TEXT;
      out.write(message, HEAD, "utf8");
    } else {
      out = Buffer.allocUnsafe(HEAD + message.length);
      out[1] = BYTES;
      out.set(message, HEAD);
    }
    out[0] = FORMAT;
    out.set(this.#id, 2);
    return out;
  }

  #receive(topic: string, m: Buffer): void {
    const link = this.#link;
    if (link === null || this.#closed) return;
    if (m.length < HEAD || m[0] !== FORMAT) {
      // Published by something else: text.
      link.deliver(topic, m.toString("utf8"));
      return;
    }
    const id = this.#id;
    let mine = true;
    for (let i = 0; i < ID_BYTES; i++) {
      if (m[2 + i] !== id[i]) {
        mine = false;
        break;
      }
    }
    // Ours: the hub delivered it locally when it was published.
    if (mine) return;
    link.deliver(
      topic,
      m[1] === TEXT
        ? m.toString("utf8", HEAD)
        : new Uint8Array(m.buffer, m.byteOffset + HEAD, m.length - HEAD),
    );
  }

  // An outage is told once, when it starts; a connection that is ready
  // again is quiet until the next one.
  #watch(client: Client, role: string): void {
    let up = false;
    client.on("ready", () => (up = true));
    client.on("error", (err: unknown) => {
      if (!up || this.#closed) return;
      up = false;
      this.#fail(
        new Error(`Redis ${role} connection lost: ${toError(err).message}`),
      );
    });
  }

  #fail(err: unknown): void {
    if (this.#closed) return;
    try {
      this.#onError(toError(err));
    } catch (e) {
      console.error(e);
    }
  }
}

/**
 * Creates a Redis transport for a {@linkcode Topics} hub; see the module
 * doc.
 *
 * @param options Where Redis is (`url`, or `path` for a Unix socket), the
 * channel `prefix`, `onError`.
 * @returns The transport.
 *
 * @example A hub over Redis (needs a running Redis)
 * ```ts ignore
 * import { Topics } from "@httpkit/httpkit";
 * import { redisTransport } from "@httpkit/httpkit/redis";
 *
 * const hub = new Topics({
 *   transport: redisTransport({ url: "redis://127.0.0.1:6379" }),
 *   onUndelivered: (topic, _message, err) => console.warn(`not sent to ${topic}: ${err.message}`),
 * });
 * await hub.ready;
 * hub.publish("room", "reaches every process");
 * await hub.close();
 * ```
 */
export function redisTransport(
  options: RedisTransportOptions = {},
): RedisTransport {
  return new RedisTransport(options);
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

// Closes a connection, whatever state it is in.
async function quit(client: Client): Promise<void> {
  try {
    if (client.isReady) await client.close();
    else client.destroy();
  } catch {
    try {
      client.destroy();
    } catch {
      // already closed
    }
  }
}
