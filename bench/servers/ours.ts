// Our peer for bench/load.ts: httpkit's runServer.
// Protocol shared by every peer in this folder: listen on 127.0.0.1:$PORT
// (0 = any), print `LISTENING <port>` once bound, and serve
//   GET  /       "Hello, World!", or $BODY bytes of "x" when BODY is set
//   GET  /async  the same body after awaiting a 1 ms timer
//   GET  /big    1 MiB of "x"
//   POST /echo   the request body back
// Anything else is 404. Sizes come from the environment, not the query, so
// no peer pays for URL parsing on the hot path.
import { runServer } from "../../mod.ts";
import type { RingRequest, RingResponse } from "../../mod.ts";

const port = Number(Deno.env.get("PORT") ?? "0");
const bodyBytes = Deno.env.get("BODY");
const body = bodyBytes === undefined
  ? "Hello, World!"
  : "x".repeat(Number(bodyBytes));
const big = new Uint8Array(1 << 20).fill(0x78);

const TEXT = { "content-type": "text/plain" };
const OCTETS = { "content-type": "application/octet-stream" };

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

function handle(req: RingRequest): RingResponse | Promise<RingResponse> {
  switch (req.uri) {
    case "/":
      return { status: 200, headers: TEXT, body };
    case "/async":
      return sleep(1).then(() => ({ status: 200, headers: TEXT, body }));
    case "/big":
      return { status: 200, headers: OCTETS, body: big };
    case "/echo":
      return { status: 200, headers: OCTETS, body: req.body };
  }
  return { status: 404, headers: TEXT, body: "not found" };
}

const server = runServer(handle, { port, ip: "127.0.0.1" });
console.log(`LISTENING ${server.port}`);

async function stop(): Promise<void> {
  await server.stop();
  Deno.exit(0);
}

Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
