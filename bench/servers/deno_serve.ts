// Baseline peer for bench/load.ts: the same hello server on Deno.serve.
// Protocol: prints `LISTENING <port>` once bound; PORT and BODY come from env.

const port = Number(Deno.env.get("PORT") ?? "0");
const bodyBytes = Deno.env.get("BODY");
const body = bodyBytes === undefined
  ? "Hello, World!"
  : "x".repeat(Number(bodyBytes));

const server = Deno.serve(
  {
    port,
    hostname: "127.0.0.1",
    onListen: ({ port }): void => console.log(`LISTENING ${port}`),
  },
  (): Response =>
    new Response(body, { headers: { "content-type": "text/plain" } }),
);

async function stop(): Promise<void> {
  await server.shutdown();
  Deno.exit(0);
}

Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
