// Peer for bench/load.ts: the Hono app of _hono_app.ts on Deno.serve, the
// way most Deno apps with a framework run. Protocol and routes: see ours.ts.
import { app } from "./_hono_app.ts";

const port = Number(Deno.env.get("PORT") ?? "0");

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
