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
    let handler = mod.default ?? mod.handler;
    if (msg.fetch) {
      // `export default app` (an object with fetch, as for `deno serve`
      // and Hono) or a plain fetch function.
      const app = handler;
      const fetch = typeof app === "function" ? app : app?.fetch?.bind(app);
      if (typeof fetch !== "function") {
        throw new TypeError(
          `${msg.module} must export a fetch handler as default (a function or { fetch })`,
        );
      }
      const { fetchRingHandler } = await import("../adapter/serve.ts");
      handler = fetchRingHandler(fetch);
    }
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
