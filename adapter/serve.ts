/**
 * `serve`: runs a fetch-style handler (`(Request, info) => Response`, the
 * shape of `Deno.serve`, Hono's `app.fetch` and most Deno apps) on httpkit's
 * server.
 *
 * @module
 */

import { describe } from "../_describe.ts";
import { checkOptions } from "../_options.ts";
import { SERVER_OPTIONS } from "../server/_settings.ts";
import { runServer } from "../server/server.ts";
import { runWorkers } from "../server/workers.ts";
import type {
  Handler,
  RingRequest,
  RingResponse,
  Server,
  ServerOptions,
  StreamingRequest,
} from "../server/types.ts";
import { LightRequest } from "./_request.ts";
import { adoptDenoWebSocket, upgradedSocket } from "./websocket.ts";
import {
  type FetchHandler,
  remoteAddrOf,
  type ServeHandlerInfo,
} from "./convert.ts";
import { type BodyHooks, settle } from "./response.ts";

/**
 * Options of {@linkcode serve}: those of `Deno.serve` plus the limits,
 * timeouts and loggers of {@linkcode ServerOptions}.
 *
 * @example Limits and a custom error page
 * ```ts
 * import { serve, type ServeOptions } from "@httpkit/httpkit";
 *
 * const serveOptions: ServeOptions = {
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   maxBody: 1024 * 1024,
 *   onListen() {}, // no "Listening on" line
 *   onError: () => new Response("try again later", { status: 503 }),
 * };
 * const server = serve(serveOptions, () => {
 *   throw new Error("boom");
 * });
 * const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * console.assert(res.status === 503 && (await res.text()) === "try again later");
 * await server.shutdown();
 * ```
 */
export interface ServeOptions extends
  Omit<
    ServerOptions,
    "ip" | "port" | "onListen" | "signal" | "streamBody"
  > {
  /** Port to listen on; 0 picks a free one. Default 8000. */
  port?: number;
  /** Address to listen on. Default `"0.0.0.0"`. */
  hostname?: string;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
  /**
   * Called once the server listens. By default it logs
   * `Listening on http://<hostname>:<port>/`.
   */
  onListen?: (localAddr: Deno.NetAddr) => void;
  /**
   * Turns an error thrown by the handler into a response. By default it
   * logs the error and answers 500.
   */
  onError?: (error: unknown) => Response | Promise<Response>;
}

/**
 * {@linkcode ServeOptions} with the handler inside, like `Deno.ServeInit`.
 *
 * @example The handler among the options
 * ```ts
 * import { serve, type ServeInit } from "@httpkit/httpkit";
 *
 * const init: ServeInit = {
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   onListen() {},
 *   handler: (request) => new Response(`${request.method} ok`),
 * };
 * const server = serve(init);
 * const res = await fetch(`http://127.0.0.1:${server.addr.port}/`, { method: "PUT" });
 * console.assert((await res.text()) === "PUT ok");
 * await server.shutdown();
 * ```
 */
export interface ServeInit extends ServeOptions {
  /** The fetch handler. */
  handler: FetchHandler;
}

/**
 * A server started by {@linkcode serve}, shaped like `Deno.HttpServer`.
 *
 * @example Shut down at the end of a block
 * ```ts
 * import { type HttpServer, serve } from "@httpkit/httpkit";
 *
 * let finished: Promise<void>;
 * {
 *   await using server: HttpServer = serve(
 *     { hostname: "127.0.0.1", port: 0, onListen() {} },
 *     () => new Response("hi"),
 *   );
 *   finished = server.finished;
 *   const res = await fetch(`http://${server.addr.hostname}:${server.addr.port}/`);
 *   console.assert((await res.text()) === "hi");
 *   console.assert(server.server.status === "running");
 * } // `await using` calls shutdown() here
 * await finished;
 * ```
 */
export interface HttpServer extends AsyncDisposable {
  /** Resolves once the server has stopped. */
  readonly finished: Promise<void>;
  /** The bound address (with the real port when 0 was asked for). */
  readonly addr: Deno.NetAddr;
  /** The underlying Ring server. */
  readonly server: Server;
  /**
   * Stops accepting, lets requests in flight finish (for up to 5 s), closes
   * channels and WebSockets (1001) and resolves when all is closed.
   */
  shutdown(): Promise<void>;
  /** Keeps the process alive while the server listens (the default). */
  ref(): void;
  /** Lets the process exit even though the server still listens. */
  unref(): void;
}

/**
 * Starts a server for a fetch handler, like `Deno.serve`, on httpkit's
 * HTTP/1.1 server.
 *
 * - `request.url` is built from the Host header and the request target.
 * - The body is read whole by the server before the handler runs (up to
 *   `maxBody`, default 8 MiB; larger gets 413), then offered as the usual
 *   `request.body` stream.
 * - `request.signal` aborts when the client goes away before the response
 *   is complete.
 * - A `Response` whose body is complete at once (text, JSON, bytes) goes out
 *   with Content-Length; a streaming body is written as it comes, chunked.
 * - HEAD, 204 and 304 responses go out without a body.
 * - `upgradeWebSocket(request)` works like `Deno.upgradeWebSocket`.
 * - With `workers: n` (and `--unstable-net`), pass the handler as a module
 *   URL whose default export is the fetch handler (a function, or an object
 *   with `fetch` as for `deno serve`); each worker loads it and listens on the
 *   same port. `onError` does not cross to workers: they log and answer 500.
 *
 * @param handler The fetch handler.
 * @returns The running {@linkcode HttpServer}.
 *
 * @example Hello from a fetch handler
 * ```ts
 * import { serve } from "@httpkit/httpkit";
 *
 * const server = serve(
 *   { port: 0, hostname: "127.0.0.1", onListen() {} },
 *   (request) => new Response(`Hello ${new URL(request.url).pathname}`),
 * );
 * const res = await fetch(`http://127.0.0.1:${server.addr.port}/you`);
 * console.assert((await res.text()) === "Hello /you");
 * await server.shutdown();
 * ```
 */
export function serve(handler: FetchHandler): HttpServer;
/**
 * Starts a server for a fetch handler with options, like
 * `Deno.serve(options, handler)`.
 *
 * @param options Address, callbacks, limits.
 * @param handler The fetch handler.
 * @returns The running {@linkcode HttpServer}.
 */
export function serve(
  options: ServeOptions,
  handler: FetchHandler | string | URL,
): HttpServer;
/**
 * Starts a server with the handler among the options, like
 * `Deno.serve({ handler, ... })`.
 *
 * @param init Options and the handler.
 * @returns The running {@linkcode HttpServer}.
 */
export function serve(init: ServeInit): HttpServer;
export function serve(
  a: FetchHandler | ServeOptions | ServeInit,
  b?: FetchHandler | string | URL,
): HttpServer {
  let options: ServeOptions;
  let handler: FetchHandler | undefined;
  if (typeof a === "function") {
    options = {};
    handler = a;
  } else {
    options = a ?? {};
    checkOptions("serve", options, SERVE_OPTIONS);
    if (
      options.workers !== undefined || typeof b === "string" || b instanceof URL
    ) {
      return serveWorkers(options, b);
    }
    handler = (b as FetchHandler | undefined) ?? (a as ServeInit).handler;
  }
  if (typeof handler !== "function") {
    throw new TypeError(
      `A handler function is required: received ${typeof handler}`,
    );
  }
  const {
    hostname = "0.0.0.0",
    port = 8000,
    onListen = logListen,
    onError = defaultOnError,
    signal,
    handler: _handler,
    ...rest
  } = options as ServeInit;
  const server = runServer(ringHandler(handler, onError), {
    ...rest,
    ip: hostname,
    port,
    signal,
    streamBody: true,
  });
  const addr: Deno.NetAddr = {
    transport: "tcp",
    hostname: server.hostname,
    port: server.port,
  };
  const http: HttpServer = {
    finished: server.finished,
    addr,
    server,
    shutdown: () => server.stop({ timeout: 5000 }),
    ref: () => server.ref(),
    unref: () => server.unref(),
    [Symbol.asyncDispose]: () => server.stop({ timeout: 5000 }),
  };
  onListen({ ...addr });
  return http;
}

/** Every option name serve knows: Deno.serve's and runServer's limits. */
const SERVE_OPTIONS: readonly string[] = [
  "hostname",
  "port",
  "signal",
  "onListen",
  "onError",
  "handler",
  ...SERVER_OPTIONS.filter((name) =>
    !["ip", "port", "onListen", "signal", "streamBody"].includes(name)
  ),
];

function logListen(addr: Deno.NetAddr): void {
  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  console.log(`Listening on http://${host}:${addr.port}/`);
}

// serve with workers: the fetch handler comes as a module URL, loaded by
// each worker (see runServer's `workers`).
function serveWorkers(
  options: ServeOptions,
  module: FetchHandler | string | URL | undefined,
): HttpServer {
  if (typeof module !== "string" && !(module instanceof URL)) {
    throw new TypeError(
      "With workers, pass the handler as a module URL whose default export is the fetch handler",
    );
  }
  const {
    hostname = "0.0.0.0",
    port = 8000,
    onListen = logListen,
    onError: _onError,
    signal,
    handler: _handler,
    ...rest
  } = options as ServeInit;
  const server = runWorkers(module, {
    ...rest,
    ip: hostname,
    port,
    streamBody: true,
    signal,
    onListen: (a) => onListen({ transport: "tcp", ...a }),
  }, new URL("./_worker.ts", import.meta.url));
  return {
    finished: server.finished,
    addr: { transport: "tcp", hostname: server.hostname, port: server.port },
    server,
    shutdown: () => server.stop({ timeout: 5000 }),
    ref: () => server.ref(),
    unref: () => server.unref(),
    [Symbol.asyncDispose]: () => server.stop({ timeout: 5000 }),
  };
}

function defaultOnError(error: unknown): Response {
  console.error("httpkit: error in serve handler:", error);
  return new Response("Internal Server Error", { status: 500 });
}

/**
 * The Ring handler behind `serve` for a fetch handler, with the default
 * error handling (used by serve's workers).
 */
export function fetchRingHandler(
  handler: FetchHandler,
): Handler<StreamingRequest> {
  return ringHandler(handler, defaultOnError);
}

// The Ring handler behind serve(): Request in, settled Response out. It
// stays synchronous as long as the fetch handler does: every Promise costs.
function ringHandler(
  handler: FetchHandler,
  onError: (error: unknown) => Response | Promise<Response>,
): Handler<StreamingRequest> {
  const failed = (
    err: unknown,
    req: StreamingRequest,
    info: Info,
  ): Promise<RingResponse> =>
    Promise.resolve()
      .then(() => onError(err))
      .catch((err2) => defaultOnError(err2))
      .then((response) => answer(response, req, info));
  return (req) => {
    const info = new Info(req);
    let out: Response | Promise<Response>;
    try {
      out = handler(new LightRequest(req) as unknown as Request, info);
    } catch (err) {
      return failed(err, req, info);
    }
    if (out instanceof Response) return answer(out, req, info);
    // One reaction for both outcomes (a .catch() would cost a second).
    return Promise.resolve(out).then(
      (response) => {
        try {
          return answer(response, req, info);
        } catch (err) {
          return failed(err, req, info);
        }
      },
      (err) => failed(err, req, info),
    );
  };
}

// The response map for what the handler returned.
function answer(
  response: unknown,
  req: StreamingRequest,
  info: Info,
): RingResponse | Promise<RingResponse> {
  if (!(response instanceof Response)) {
    throw new TypeError(
      `The handler must return a Response: received ${describe(response)}`,
    );
  }
  const socket = upgradedSocket(response);
  if (socket !== null) {
    info.done();
    return adoptDenoWebSocket(req, response, socket);
  }
  return settle(response, req, info);
}

// `info` of a request: the address and `completed` are made on first use.
class Info implements ServeHandlerInfo, BodyHooks {
  #req: RingRequest<unknown>;
  #addr: Deno.NetAddr | null = null;
  #completed: Promise<void> | null = null;
  #resolve: (() => void) | null = null;
  #reject: ((err: unknown) => void) | null = null;
  #outcome: { err: unknown } | null | undefined = undefined;

  constructor(req: RingRequest<unknown>) {
    this.#req = req;
  }

  get remoteAddr(): Deno.NetAddr {
    return this.#addr ??= remoteAddrOf(this.#req);
  }

  get completed(): Promise<void> {
    if (this.#completed === null) {
      const o = this.#outcome;
      this.#completed = o === null
        ? Promise.resolve()
        : o !== undefined
        ? Promise.reject(o.err)
        : new Promise((resolve, reject) => {
          this.#resolve = resolve;
          this.#reject = reject;
        });
      // A rejection nobody waits for must not end the process.
      this.#completed.catch(() => {});
    }
    return this.#completed;
  }

  done(): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = null;
    this.#resolve?.();
  }

  failed(err: unknown): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = { err };
    this.#reject?.(err);
  }
}
