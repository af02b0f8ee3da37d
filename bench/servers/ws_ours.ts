// Our peer for bench/ws_load.ts: a WebSocket echo on runServer + asChannel.
// Protocol: prints `LISTENING <port>` once bound; PORT comes from env.
import { asChannel, runServer } from "../../mod.ts";

const port = Number(Deno.env.get("PORT") ?? "0");

const server = runServer(
  (req) =>
    asChannel(req, {
      onReceive(ch, message) {
        ch.send(message);
      },
    }),
  { port, ip: "127.0.0.1" },
);
console.log(`LISTENING ${server.port}`);

async function stop(): Promise<void> {
  await server.stop();
  Deno.exit(0);
}

Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
