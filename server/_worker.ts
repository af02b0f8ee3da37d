// The body of one server worker: imports the handler module and serves it
// on the shared port until the main thread asks it to stop.

/// <reference lib="deno.worker" />

import { runServer } from "./server.ts";
import type { Server } from "./types.ts";
import type { WorkerReport, WorkerStart } from "./workers.ts";

let server: Server | null = null;

function report(r: WorkerReport): void {
  self.postMessage(r);
}

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
    const mod = await import(msg.module);
    const handler = mod.default ?? mod.handler;
    if (typeof handler !== "function") {
      throw new TypeError(
        `${msg.module} must export the handler as default (or as handler)`,
      );
    }
    server = runServer(handler, msg.options);
    report({ type: "listening", port: server.port });
  } catch (err) {
    report({
      type: "error",
      message: err instanceof Error ? err.message : String(err),
    });
  }
};
