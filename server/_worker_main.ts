// What every server worker does: load the handler module it is told,
// serve it on the shared port until the main thread asks it to stop, and
// report. The worker scripts only say how a module becomes a Ring handler.

/// <reference lib="deno.worker" />

import { runServer } from "./server.ts";
import type { Handler, Server } from "./types.ts";
import type { WorkerReport, WorkerStart } from "./workers.ts";
import { WORKER_GROUP } from "../_hooks.ts";

/** Turns a loaded handler module into the Ring handler to serve. */
export type HandlerOf = (
  mod: Record<string, unknown>,
  url: string,
) => Handler<never>;

/** Runs this worker: serves what `handlerOf` makes of the module. */
export function serveInWorker(handlerOf: HandlerOf): void {
  let server: Server | null = null;
  const report = (r: WorkerReport): void => self.postMessage(r);
  self.onmessage = async (
    e: MessageEvent<WorkerStart | { type: "stop"; timeout: number }>,
  ) => {
    const msg = e.data;
    if ("type" in msg) {
      await server?.stop({ timeout: msg.timeout });
      report({ type: "stopped" });
      return;
    }
    try {
      // topics/: hubs made by the module reach the other workers of this
      // server (a BroadcastChannel named after the port they share).
      (globalThis as Record<symbol, unknown>)[WORKER_GROUP] = `${
        msg.options.ip ?? ""
      }:${msg.options.port}`;
      const handler = handlerOf(await import(msg.module), msg.module);
      server = runServer(handler as Handler, msg.options);
      report({ type: "listening", port: server.port });
    } catch (err) {
      report({
        type: "error",
        message: err instanceof Error ? err.message : String(err),
      });
    }
  };
}
