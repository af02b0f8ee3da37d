// The listener: accepts connections, runs their loops, enforces timeouts
// with one coarse sweep timer, and stops gracefully.

import { dateHeader } from "../http1/serialize.ts";
import { ReadGate } from "./_gate.ts";
import { HeadCache, ReplyCache } from "./_hot.ts";
import { LinkedSet } from "./_linked.ts";
import { delay, unrefInterval } from "../_timers.ts";
import { REUSE_PORT_NEEDS, runWorkers, unstableNet } from "./workers.ts";
import { Connection, type Core, isDisconnect, State } from "./connection.ts";
import type { Handler, RingRequest, Server, ServerOptions } from "./types.ts";

const DEFAULTS = {
  ip: "0.0.0.0",
  port: 8090,
  maxBody: 8 * 1024 * 1024,
  maxLine: 8192,
  maxHeaderBytes: 64 * 1024,
  serverHeader: "http-kit",
  headerTimeout: 30_000,
  idleTimeout: 60_000,
  bodyTimeout: 60_000,
  writeTimeout: 60_000,
  queueSize: 20_480,
  maxConnections: 50_000,
};

function defaultError(err: unknown, req: RingRequest | null): void {
  const where = req ? ` (${req.requestMethod.toUpperCase()} ${req.uri})` : "";
  console.error(`httpkit: error${where}:`, err);
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !(v > 0)) {
    throw new RangeError(
      `Option ${name} must be a positive number: received ${v}`,
    );
  }
  return v;
}

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
  options: ServerOptions = {},
): Server {
  if (options.workers !== undefined || typeof handler !== "function") {
    if (typeof handler === "string" || handler instanceof URL) {
      return runWorkers(handler, options);
    }
    throw new TypeError(
      "With workers the handler must be a module URL (its default export is the handler)",
    );
  }
  if (typeof handler !== "function") {
    throw new TypeError(
      `Handler must be a function: received ${typeof handler}`,
    );
  }
  const o = { ...DEFAULTS, ...options };
  if (
    o.serverHeader !== null &&
    !/^[\x21-\x7e][\x20-\x7e]*$/.test(String(o.serverHeader))
  ) {
    throw new TypeError(
      `Invalid serverHeader: ${JSON.stringify(o.serverHeader)}`,
    );
  }
  const proxyProtocol = options.proxyProtocol ?? "disable";
  if (!["disable", "optional", "enable"].includes(proxyProtocol)) {
    throw new TypeError(
      `proxyProtocol must be "disable", "optional" or "enable": received ${
        JSON.stringify(proxyProtocol)
      }`,
    );
  }
  const timeouts = {
    header: positive(
      "headerTimeout",
      options.headerTimeout,
      DEFAULTS.headerTimeout,
    ),
    idle: positive("idleTimeout", options.idleTimeout, DEFAULTS.idleTimeout),
    body: positive("bodyTimeout", options.bodyTimeout, DEFAULTS.bodyTimeout),
    write: positive(
      "writeTimeout",
      options.writeTimeout,
      DEFAULTS.writeTimeout,
    ),
  };
  const limits = {
    maxLine: positive("maxLine", options.maxLine, DEFAULTS.maxLine),
    maxHeaderBytes: positive(
      "maxHeaderBytes",
      options.maxHeaderBytes,
      DEFAULTS.maxHeaderBytes,
    ),
  };
  const maxBody = positive("maxBody", options.maxBody, DEFAULTS.maxBody);
  const queueSize = positive(
    "queueSize",
    options.queueSize,
    DEFAULTS.queueSize,
  );
  const maxConnections = positive(
    "maxConnections",
    options.maxConnections,
    DEFAULTS.maxConnections,
  );
  const trust = options.trustProxy === true ? 1 : options.trustProxy || 0;
  const { listener, hostname, port, scheme } = listen(o);
  const core: Core = {
    handler,
    limits,
    maxBody,
    serverLine: o.serverHeader === null ? "" : `Server: ${o.serverHeader}\r\n`,
    port,
    hostname,
    scheme,
    gate: new ReadGate(),
    heads: new HeadCache(),
    replies: new ReplyCache(),
    now: performance.now(),
    date: dateHeader(),
    stopping: false,
    conns: new LinkedSet(),
    loops: 0,
    loopsDone: null,
    proxyProtocol,
    trustProxy: trust,
    queueSize,
    pending: 0,
    error: options.errorLogger ?? defaultError,
    warn: options.warnLogger ?? (() => {}),
  };
  return new ServerImpl(listener, core, timeouts, maxConnections, options);
}

/** A bound listener of any kind, with what the request maps report. */
interface Bound {
  listener: Deno.Listener;
  hostname: string;
  port: number;
  scheme: "http" | "https";
}

// TCP, TLS (cert + key) or a Unix socket, all bound before runServer returns.
function listen(o: ServerOptions & { ip: string; port: number }): Bound {
  if (o.unixSocket !== undefined) {
    const listener = Deno.listen({ transport: "unix", path: o.unixSocket });
    return { listener, hostname: "localhost", port: 0, scheme: "http" };
  }
  if ((o.cert === undefined) !== (o.key === undefined)) {
    throw new TypeError("TLS needs both cert and key");
  }
  if (o.reusePort && !unstableNet()) throw new Error(REUSE_PORT_NEEDS);
  const base = {
    hostname: o.ip,
    port: o.port ?? DEFAULTS.port,
    ...(o.reusePort ? { reusePort: true } : {}),
  };
  const listener = o.cert !== undefined
    ? Deno.listenTls({
      ...base,
      cert: o.cert,
      key: o.key!,
      alpnProtocols: ["http/1.1"],
    })
    : Deno.listen({ ...base, transport: "tcp" });
  const addr = listener.addr as Deno.NetAddr;
  return {
    listener,
    hostname: addr.hostname,
    port: addr.port,
    scheme: o.cert !== undefined ? "https" : "http",
  };
}

const BUSY = new TextEncoder().encode(
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
    .then(() => conn.write(BUSY))
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

interface Timeouts {
  header: number;
  idle: number;
  body: number;
  write: number;
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
    this.#sweep = unrefInterval(
      () => this.#expire(),
      Math.min(500, Math.max(10, min / 4)),
    );
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

  // Closes connections whose state outlived its timeout.
  #expire(): void {
    const core = this.#core;
    const now = (core.now = performance.now());
    core.date = dateHeader();
    const t = this.#timeouts;
    for (const c of core.conns) {
      const age = now - c.since;
      switch (c.state) {
        case State.Idle:
          if (age > t.idle) c.destroy();
          break;
        case State.Head:
          if (age > t.header) this.#timeout(c, c.start === c.end);
          break;
        case State.Body:
          if (age > t.body) this.#timeout(c, false);
          break;
        case State.Write:
          if (age > t.write) c.destroy();
          break;
      }
    }
  }

  // A request that did not arrive in time gets 408; a silent connection is
  // just closed.
  #timeout(c: Connection, silent: boolean): void {
    if (silent) {
      c.destroy();
      return;
    }
    c.state = State.Write;
    c.since = this.#core.now;
    c.sendError(408, "Request timeout").catch(() => {}).finally(() =>
      c.destroy()
    );
  }

  stop(options: { timeout?: number } = {}): Promise<void> {
    this.#stopping ??= this.#stop(options.timeout ?? 100);
    return this.#stopping;
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
        ) c.destroy();
      }
      if (core.conns.size === 0 || performance.now() >= deadline) break;
      await new Promise((r) =>
        setTimeout(r, Math.min(10, Math.max(1, deadline - performance.now())))
      );
    }
    for (const c of core.conns) c.destroy();
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
