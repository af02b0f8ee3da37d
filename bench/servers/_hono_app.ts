// The Hono app of the `hono` peer (Deno.serve) and the `hono-ours` peer
// (our serve()): one module, so both run the very same code.
// Routes: see ours.ts.
import { Hono } from "npm:hono@4";

const bodyBytes = Deno.env.get("BODY");
const body = bodyBytes === undefined
  ? "Hello, World!"
  : "x".repeat(Number(bodyBytes));
const big = new Uint8Array(1 << 20).fill(0x78);

const TEXT = { "content-type": "text/plain" };
const OCTETS = { "content-type": "application/octet-stream" };

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Hono's router over the four routes. */
export const app: Hono = new Hono();
app.get("/", (c) => c.body(body, 200, TEXT));
app.get("/async", async (c) => {
  await sleep(1);
  return c.body(body, 200, TEXT);
});
app.get("/big", (c) => c.body(big, 200, OCTETS));
app.post("/echo", async (c) => c.body(await c.req.arrayBuffer(), 200, OCTETS));
