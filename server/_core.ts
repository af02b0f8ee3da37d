// What every connection of one server shares: the handler, limits, loggers,
// the coarse clock and Date line the sweep renews, the repeated-head and
// reply caches, and the connection states the timeouts work on.

import type { HeadLimits, RequestHead } from "../http1/head.ts";
import type { HeadMemo } from "../http1/memo.ts";
import type { ReadGate } from "./_gate.ts";
import type { ReplyCache } from "./_reply_cache.ts";
import type { Linked, LinkedSet } from "./_linked.ts";
import type { AnyHandler, RingRequest } from "./types.ts";

/** Connection states, for timeouts and graceful stop. */
export const State = {
  /** Waiting for the first byte of a request on a kept-alive connection. */
  Idle: 0,
  /** A request head is arriving (or a new connection has sent nothing yet). */
  Head: 1,
  /** A request body is arriving. */
  Body: 2,
  /** The handler runs. */
  Handler: 3,
  /** Waiting for the peer to take written bytes. */
  Write: 4,
  /** Handed over to a channel or an upgrade. */
  Taken: 5,
} as const;

/** What the server's sweep and stop need of a connection. */
export interface Swept extends Linked {
  state: number;
  /** When the state began: the sweep tick then. */
  since: number;
  /** Bytes received and not yet consumed. */
  readonly start: number;
  readonly end: number;
  /** The channel that owns the connection, told when the server stops. */
  channel: { serverClose(): void } | null;
  /** Answers 408 and closes (a request that did not arrive in time). */
  timeout(): void;
  close(): void;
}

/** Server-wide settings and shared state the connections use. */
export interface Core {
  handler: AnyHandler;
  limits: HeadLimits;
  maxBody: number;
  /** Default largest WebSocket message of the server's channels. */
  maxWs: number;
  /** Stream request bodies: never, always, or as a predicate decides. */
  streamBody: boolean | ((req: RingRequest<null>) => boolean);
  serverLine: string;
  port: number;
  hostname: string;
  scheme: "http" | "https";
  gate: ReadGate;
  /** The last request head parsed and the last response sent. */
  heads: HeadMemo<RequestHead>;
  replies: ReplyCache;
  /**
   * The coarse clock: how many times the sweep timer has run. A connection
   * stamps its state with it (reading a real clock per request would cost
   * more than the stamp is worth); see server.ts for how it is read back.
   */
  tick: number;
  /** The `Date` header line, renewed by the sweep timer (at most 500 ms old). */
  date: string;
  stopping: boolean;
  conns: LinkedSet<Swept>;
  /** Connection loops still running, and who waits for them all to end. */
  loops: number;
  loopsDone: (() => void) | null;
  /** PROXY protocol handling: off, when present, or required. */
  proxyProtocol: "disable" | "optional" | "enable";
  /** Proxy hops whose X-Forwarded-For/-Proto are trusted (0: none). */
  trustProxy: number;
  /** Most handler calls whose Promise is pending; more get 503. */
  queueSize: number;
  /** Handler calls whose Promise is pending now. */
  pending: number;
  /** The last Host value and the server name split from it. */
  lastAuthority: string;
  lastName: string;
  error(err: unknown, req: RingRequest | null): void;
  warn(message: string, err?: unknown): void;
}
