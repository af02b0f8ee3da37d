// The worker script of runServer's `workers`: the module's default export
// (or `handler`) is the Ring handler.

import { serveInWorker } from "./_worker_main.ts";
import type { Handler } from "./types.ts";

serveInWorker((mod, url) => {
  const handler = mod.default ?? mod.handler;
  if (typeof handler !== "function") {
    throw new TypeError(
      `${url} must export the handler as default (or as handler)`,
    );
  }
  return handler as Handler;
});
