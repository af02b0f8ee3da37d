// Peer for bench/load.ts: the `deno` peer's fetch handler (_fetch_app.ts)
// on our serve() instead of Deno.serve, so the two rows differ only in the
// server underneath. Protocol and routes: see ours.ts.
import { serve } from "../../mod.ts";
import { handle } from "./_fetch_app.ts";

const port = Number(Deno.env.get("PORT") ?? "0");

const server = serve(
  {
    port,
    hostname: "127.0.0.1",
    onListen: ({ port }): void => console.log(`LISTENING ${port}`),
  },
  handle,
);

async function stop(): Promise<void> {
  await server.shutdown();
  Deno.exit(0);
}

Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
