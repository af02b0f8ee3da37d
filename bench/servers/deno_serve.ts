// Baseline peer for bench/load.ts: Deno.serve with the hand-written router
// of _fetch_app.ts. Protocol and routes: see ours.ts.
import { handle } from "./_fetch_app.ts";

const port = Number(Deno.env.get("PORT") ?? "0");

const server = Deno.serve(
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
