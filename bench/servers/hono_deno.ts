// Peer for bench/load.ts: Hono's router on Deno.serve, the way most Deno
// apps with a framework run. Protocol and routes: see ours.ts.
import { Hono } from "npm:hono@4";

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

const app = new Hono();
app.get("/", (c) => c.body(body, 200, TEXT));
app.get("/async", async (c) => {
  await sleep(1);
  return c.body(body, 200, TEXT);
});
app.get("/big", (c) => c.body(big, 200, OCTETS));
app.post("/echo", async (c) => c.body(await c.req.arrayBuffer(), 200, OCTETS));

const server = Deno.serve(
  {
    port,
    hostname: "127.0.0.1",
    onListen: ({ port }): void => console.log(`LISTENING ${port}`),
  },
  app.fetch,
);

async function stop(): Promise<void> {
  await server.shutdown();
  Deno.exit(0);
}

Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
