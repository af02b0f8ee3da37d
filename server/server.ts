// The listener: accepts connections, runs their loops, enforces timeouts
// with one coarse sweep timer, and stops gracefully.

import { isDisconnect } from "../_byteconn.ts";
import { dateHeader } from "../http1/serialize.ts";
import { delay, unrefInterval } from "../_timers.ts";
import { type Core, State } from "./_core.ts";
import { checkOptions } from "../_options.ts";
import {
  checkListenOptions,
  coreOf,
  listen,
  maxConnectionsOf,
  SERVER_OPTIONS,
  type Timeouts,
  timeoutsOf,
} from "./_settings.ts";
import { Connection } from "./connection.ts";
import { runWorkers } from "./workers.ts";
import type {
  AnyHandler,
  Handler,
  RingRequest,
  Server,
  ServerOptions,
  StreamingRequest,
} from "./types.ts";

/**
 * Starts a server whose handler gets every request body as a stream it
 * pulls (`streamBody: true`); see {@linkcode StreamingRequest}.
 *
 * @param handler Gets the request map (body: a stream, or null), returns
 * the response map.
 * @param options Address, limits, timeouts and loggers, and `streamBody`.
 * @returns The running {@linkcode Server}.
 *
 * @example An upload written to a file as it arrives
 * ```ts
 * import { runServer } from "@httpkit/httpkit";
 *
 * const path = await Deno.makeTempFile();
 * const server = runServer(async (req) => {
 *   const file = await Deno.open(path, { write: true, truncate: true });
 *   await req.body?.pipeTo(file.writable);
 *   return { status: 201, body: "stored" };
 * }, { ip: "127.0.0.1", port: 0, streamBody: true });
 * const res = await fetch(`http://127.0.0.1:${server.port}/up`, {
 *   method: "PUT",
 *   body: "file contents",
 * });
 * console.assert(res.status === 201 && (await res.text()) === "stored");
 * console.assert((await Deno.readTextFile(path)) === "file contents");
 * await server.stop();
 * await Deno.remove(path);
 * ```
 */
export function runServer(
  handler: Handler<StreamingRequest> | string | URL,
  options: ServerOptions & { streamBody: true },
): Server;
/**
 * Starts a server whose `streamBody` function decides per request whether
 * its body streams: the handler gets a whole or a streamed body.
 *
 * @param handler Gets the request map, returns the response map.
 * @param options Address, limits, timeouts, loggers, the decision.
 * @returns The running {@linkcode Server}.
 */
export function runServer(
  handler:
    | Handler<RingRequest<Uint8Array | ReadableStream<Uint8Array> | null>>
    | string
    | URL,
  options: ServerOptions & {
    streamBody: (req: RingRequest<null>) => boolean;
  },
): Server;
/**
 * Starts an HTTP/1.1 server that calls a Ring-style handler for every
 * request. It is bound when this returns.
 *
 * @param handler Gets the request map, returns the response map (or a
 * Promise of it); `null`/`undefined` answers 404, a throw answers 500.
 * @param options Address, limits, timeouts and loggers; see
 * {@linkcode ServerOptions}.
 * @returns The running {@linkcode Server}.
 *
 * @example Hello server
 * ```ts
 * import { runServer } from "@httpkit/httpkit";
 *
 * const server = runServer(() => ({ body: "Hello, World!" }), {
 *   ip: "127.0.0.1",
 *   port: 0,
 * });
 * const res = await fetch(`http://127.0.0.1:${server.port}/`);
 * console.assert((await res.text()) === "Hello, World!");
 * await server.stop();
 * ```
 */
export function runServer(
  handler: Handler | string | URL,
  options?: ServerOptions,
): Server;
export function runServer(
  handler: Handler<never> | string | URL,
  options: ServerOptions = {},
): Server {
  checkOptions("runServer", options, SERVER_OPTIONS);
  if (options.workers !== undefined || typeof handler !== "function") {
    if (typeof handler === "string" || handler instanceof URL) {
      return runWorkers(handler, options);
    }
    throw new TypeError(
      "With workers the handler must be a module URL (its default export is the handler)",
    );
  }
  checkListenOptions(options);
  const timeouts = timeoutsOf(options);
  const maxConnections = maxConnectionsOf(options);
  const core = coreOf(handler as AnyHandler, options);
  const bound = listen(options);
  core.port = bound.port;
  core.hostname = bound.hostname;
  core.scheme = bound.scheme;
  return new ServerImpl(
    bound.listener,
    core,
    timeouts,
    maxConnections,
    options,
  );
}

const TOO_MANY_CONNECTIONS = new TextEncoder().encode(
  "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n" +
    "Content-Type: text/plain\r\nContent-Length: 27\r\n\r\nToo many open connections.\n",
);

// Past maxConnections: answer 503 and close, reading the request first (for
// at most a second) so closing does not reset the connection under the answer.
function turnAway(conn: Deno.Conn, core: Core): void {
  core.warn(
    `Connection limit reached: 503 to ${
      (conn.remoteAddr as Deno.NetAddr).hostname
    }`,
  );
  const give = delay(1000);
  const read = conn.read(new Uint8Array(4096)).catch(() => null);
  Promise.race([read, give.promise])
    .then(() => conn.write(TOO_MANY_CONNECTIONS))
    .catch(() => {})
    .finally(() => {
      give.cancel();
      try {
        conn.close();
      } catch {
        // already closed
      }
    });
}

class ServerImpl implements Server {
  readonly port: number;
  readonly hostname: string;
  status: "running" | "stopping" | "stopped" = "running";
  readonly finished: Promise<void>;
  readonly ready: Promise<void> = Promise.resolve();
  #listener: Deno.Listener;
  #core: Core;
  #maxConnections: number;
  #timeouts: Timeouts;
  #sweep: number;
  // When each recent sweep ran (ms), by tick: a ring that spans the longest
  // timeout.
  #ticks: Float64Array;
  #accepting: Promise<void>;
  #done!: () => void;
  #stopping: Promise<void> | null = null;
  #loopFailed = (err: unknown): void => {
    if (!isDisconnect(err)) this.#core.warn("Connection loop failed", err);
  };

  constructor(
    listener: Deno.Listener,
    core: Core,
    timeouts: Timeouts,
    maxConnections: number,
    options: ServerOptions,
  ) {
    this.#listener = listener;
    this.#maxConnections = maxConnections;
    this.#core = core;
    this.#timeouts = timeouts;
    this.port = core.port;
    this.hostname = core.hostname;
    this.finished = new Promise((r) => (this.#done = r));
    const min = Math.min(
      timeouts.header,
      timeouts.idle,
      timeouts.body,
      timeouts.write,
    );
    const max = Math.max(
      timeouts.header,
      timeouts.idle,
      timeouts.body,
      timeouts.write,
    );
    // A quarter of the shortest timeout, but few enough ticks to span the
    // longest in a ring of at most 64 Ki entries.
    const period = Math.max(Math.min(500, Math.max(10, min / 4)), max / 65000);
    this.#ticks = new Float64Array(Math.ceil(max / period) + 3);
    this.#ticks[0] = performance.now();
    this.#sweep = unrefInterval(() => this.#expire(), period);
    this.#accepting = this.#accept();
    options.signal?.addEventListener("abort", () => this.stop(), {
      once: true,
    });
    options.onListen?.({ hostname: this.hostname, port: this.port });
  }

  async #accept(): Promise<void> {
    const core = this.#core;
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (
          this.status !== "running" || err instanceof Deno.errors.BadResource
        ) return;
        // Out of file descriptors and the like: back off, keep serving.
        core.warn("Accept failed", err);
        await delay(50).promise;
        continue;
      }
      if (this.status !== "running") {
        conn.close();
        continue;
      }
      if (core.conns.size >= this.#maxConnections) {
        turnAway(conn, core);
        continue;
      }
      try {
        (conn as Deno.TcpConn).setNoDelay?.(true);
      } catch {
        // a socket that is already gone fails in run() just as well
      }
      const c = new Connection(conn, core);
      core.conns.add(c);
      core.loops++;
      // run() handles its own errors; this only guards against a logger
      // that throws. One shared function: nothing allocated per connection.
      c.run().catch(this.#loopFailed);
    }
  }

  // Closes connections whose state outlived its timeout. A state is stamped
  // with the tick it began in, so it began no later than the sweep that
  // ended that tick: its age is counted from there. A timeout thus never
  // fires early, even after the event loop was blocked for long, and fires
  // at most about one sweep period late.
  #expire(): void {
    const core = this.#core;
    const now = performance.now();
    const ticks = this.#ticks;
    const tick = ++core.tick;
    ticks[tick % ticks.length] = now;
    core.date = dateHeader();
    const t = this.#timeouts;
    for (const c of core.conns) {
      const age = this.#age(c.since, tick, now);
      switch (c.state) {
        case State.Idle:
          if (age > t.idle) c.close();
          break;
        case State.Head:
          if (age > t.header) c.timeout();
          break;
        case State.Body:
          if (age > t.body) c.timeout();
          break;
        case State.Write:
          if (age > t.write) c.close();
          break;
      }
    }
  }

  // Time since the end of tick `since` (the latest its stamp can be from).
  #age(since: number, tick: number, now: number): number {
    if (since >= tick) return 0;
    const ticks = this.#ticks;
    // Older than the ring: older than the longest timeout too.
    if (tick - since >= ticks.length - 1) return Infinity;
    return now - ticks[(since + 1) % ticks.length];
  }

  stop(options: { timeout?: number } = {}): Promise<void> {
    this.#stopping ??= this.#stop(options.timeout ?? 100);
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  ref(): void {
    this.#listener.ref();
  }

  unref(): void {
    this.#listener.unref();
  }

  async #stop(timeout: number): Promise<void> {
    const core = this.#core;
    this.status = "stopping";
    core.stopping = true;
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    await this.#accepting;
    for (const c of core.conns) c.channel?.serverClose();
    const deadline = performance.now() + timeout;
    while (core.conns.size > 0) {
      for (const c of core.conns) {
        if (
          c.state === State.Idle ||
          (c.state === State.Head && c.start === c.end)
        ) c.close();
      }
      if (core.conns.size === 0 || performance.now() >= deadline) break;
      await new Promise((r) =>
        setTimeout(r, Math.min(10, Math.max(1, deadline - performance.now())))
      );
    }
    for (const c of core.conns) c.close();
    // Sockets are closed by now, so only a handler that never settles can
    // keep a loop alive: wait a little, not another timeout.
    const grace = delay(100);
    const loopsDone = core.loops === 0
      ? Promise.resolve()
      : new Promise<void>((r) => (core.loopsDone = r));
    await Promise.race([loopsDone, grace.promise]);
    grace.cancel();
    clearInterval(this.#sweep);
    core.gate.dispose();
    this.status = "stopped";
    this.#done();
  }
}
