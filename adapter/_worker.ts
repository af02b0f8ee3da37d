// The worker script of serve()'s `workers`: the module exports a fetch
// handler as default (a function, or an object with `fetch` as for `deno
// serve` and Hono), served through the Fetch adapter.

import { serveInWorker } from "../server/_worker_main.ts";
import { fetchRingHandler } from "./serve.ts";
import type { FetchHandler } from "./convert.ts";

serveInWorker((mod, url) => {
  const app = mod.default ?? mod.handler;
  const fetch = typeof app === "function"
    ? app
    : (app as { fetch?: unknown })?.fetch;
  if (typeof fetch !== "function") {
    throw new TypeError(
      `${url} must export a fetch handler as default (a function or { fetch })`,
    );
  }
  return fetchRingHandler(fetch.bind(app) as FetchHandler);
});
