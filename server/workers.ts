// Scaling out: n Web Workers, each running its own server on the same port
// with SO_REUSEPORT, so the kernel spreads connections over all cores.

import type { Server, ServerOptions } from "./types.ts";

/** The error for a reusePort listener without the unstable net API. */
export const REUSE_PORT_NEEDS =
  'reusePort and workers need --unstable-net (or "unstable": ["net"] in deno.json): ' +
  "Deno.listen({ reusePort: true }) is an unstable API, and without the flag Deno exits with code 70";

/** `true` when the unstable net APIs (and so `reusePort`) are enabled. */
export function unstableNet(): boolean {
  // listenDatagram only exists under --unstable-net.
  return typeof (Deno as unknown as Record<string, unknown>).listenDatagram ===
    "function";
}

/** What a worker gets: everything of the options that can be cloned. */
export interface WorkerStart {
  module: string;
  options: ServerOptions;
}

/** Messages from a worker. */
export type WorkerReport =
  | { type: "listening"; port: number }
  | { type: "stopped" }
  | { type: "error"; message: string };

const CLONE_DROP = [
  "errorLogger",
  "warnLogger",
  "onListen",
  "signal",
  "workers",
] as const;

/** The worker script that serves a Ring handler module. */
const RING_WORKER = new URL("./_worker.ts", import.meta.url);

/**
 * Starts `options.workers` workers serving the handler module.
 *
 * @param script The worker script: the Ring one by default; the Fetch
 * adapter passes its own, which loads a fetch handler.
 */
export function runWorkers(
  handler: string | URL,
  options: ServerOptions,
  script: URL = RING_WORKER,
): Server {
  const n = options.workers ?? 1;
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`workers must be a positive integer: received ${n}`);
  }
  if (Deno.build.os !== "linux") {
    throw new Error(
      "workers need SO_REUSEPORT load balancing, which only Linux has",
    );
  }
  if (!unstableNet()) throw new Error(REUSE_PORT_NEEDS);
  if (options.unixSocket !== undefined) {
    throw new TypeError("workers cannot share a Unix socket");
  }
  const module = new URL(handler, Deno.mainModule).href;
  const hostname = options.ip ?? "0.0.0.0";
  const port = pickPort(hostname, options.port ?? 8090);
  const cloned: ServerOptions = { ...options, port, reusePort: true };
  for (const k of CLONE_DROP) delete cloned[k];
  return new WorkerServer(module, cloned, n, hostname, port, options, script);
}

// Port 0 must become one real port that every worker binds.
function pickPort(hostname: string, port: number): number {
  if (port !== 0) return port;
  const probe = Deno.listen({ hostname, port: 0 });
  const picked = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return picked;
}

class WorkerServer implements Server {
  readonly port: number;
  readonly hostname: string;
  status: "running" | "stopping" | "stopped" = "running";
  readonly finished: Promise<void>;
  readonly ready: Promise<void>;
  #workers: Worker[] = [];
  #done!: () => void;
  #stopping: Promise<void> | null = null;
  #listening: Promise<void>[] = [];

  constructor(
    module: string,
    options: ServerOptions,
    n: number,
    hostname: string,
    port: number,
    original: ServerOptions,
    script: URL,
  ) {
    this.port = port;
    this.hostname = hostname;
    this.finished = new Promise((r) => (this.#done = r));
    for (let i = 0; i < n; i++) {
      const w = new Worker(script, { type: "module" });
      this.#workers.push(w);
      this.#listening.push(
        new Promise((resolve, reject) => {
          w.addEventListener("message", (e: MessageEvent<WorkerReport>) => {
            if (e.data.type === "listening") resolve();
            if (e.data.type === "error") {
              reject(new Error(`worker ${i}: ${e.data.message}`));
            }
          });
          w.addEventListener("error", (e) => {
            e.preventDefault();
            reject(new Error(`worker ${i}: ${e.message}`));
          });
        }),
      );
      w.postMessage({ module, options } satisfies WorkerStart);
    }
    this.ready = Promise.all(this.#listening).then(() => {
      original.onListen?.({ hostname, port });
    });
    this.ready.catch(() => this.stop());
    original.signal?.addEventListener("abort", () => this.stop(), {
      once: true,
    });
  }

  // Workers keep the process alive on their own; there is nothing to unref.
  ref(): void {}

  unref(): void {}

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  stop(options: { timeout?: number } = {}): Promise<void> {
    this.#stopping ??= this.#stop(options.timeout ?? 100);
    return this.#stopping;
  }

  async #stop(timeout: number): Promise<void> {
    this.status = "stopping";
    await Promise.all(this.#workers.map((w) => stopWorker(w, timeout)));
    this.status = "stopped";
    this.#done();
  }
}

// Asks a worker to drain; terminates it once it reports or after a grace.
function stopWorker(w: Worker, timeout: number): Promise<void> {
  return new Promise((resolve) => {
    const end = (): void => {
      clearTimeout(timer);
      w.terminate();
      resolve();
    };
    const timer = setTimeout(end, timeout + 1000);
    w.addEventListener("message", (e: MessageEvent<WorkerReport>) => {
      if (e.data.type === "stopped" || e.data.type === "error") end();
    });
    w.postMessage({ type: "stop", timeout });
  });
}
