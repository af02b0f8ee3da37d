// Our peer for bench/broadcast.ts: every WebSocket joins "room" of the
// default topic hub; every message received is published to the room (the
// sender gets it too). With REDIS_PATH set (a Unix socket), the hub goes
// through Redis, so several processes share the room.
// Protocol: prints `LISTENING <port>` once bound; PORT comes from env.
import {
  asChannel,
  defaultTopics,
  publish,
  runServer,
  subscribe,
  Topics,
} from "../../mod.ts";

const port = Number(Deno.env.get("PORT") ?? "0");
const redisPath = Deno.env.get("REDIS_PATH");
if (redisPath) {
  const { redisTransport } = await import("../../topics/redis.ts");
  await defaultTopics(
    new Topics({ transport: redisTransport({ path: redisPath }) }),
  ).ready;
}

const server = runServer(
  (req) =>
    asChannel(req, {
      onOpen: (ch) => subscribe(ch, "room"),
      onReceive: (_ch, message) => publish("room", message),
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
