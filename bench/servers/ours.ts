// Our peer for bench/load.ts: the hello server on httpkit's runServer.
// Protocol: prints `LISTENING <port>` once bound; PORT and BODY come from env.
import { runServer } from "../../mod.ts";

const port = Number(Deno.env.get("PORT") ?? "0");
const bodyBytes = Deno.env.get("BODY");
const body = bodyBytes === undefined
  ? "Hello, World!"
  : "x".repeat(Number(bodyBytes));

const server = await runServer(() => ({
  status: 200,
  headers: { "content-type": "text/plain" },
  body,
}), { port, ip: "127.0.0.1" });
console.log(`LISTENING ${server.port}`);

async function stop(): Promise<void> {
  await server.stop();
  Deno.exit(0);
}

Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
