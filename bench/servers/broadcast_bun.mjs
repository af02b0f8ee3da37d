// Bun peer for bench/broadcast.ts: Bun.serve's own topics. Every socket
// subscribes to "room"; every message is published with server.publish,
// which reaches every subscriber (the sender too).
// Protocol: prints `LISTENING <port>` once bound; PORT comes from env.
const server = Bun.serve({
  port: Number(process.env.PORT ?? "0"),
  hostname: "127.0.0.1",
  fetch(req, server) {
    if (server.upgrade(req)) return undefined;
    return new Response("WebSocket only", { status: 400 });
  },
  websocket: {
    perMessageDeflate: false,
    open(ws) {
      ws.subscribe("room");
    },
    message(_ws, message) {
      server.publish("room", message);
    },
  },
});
console.log(`LISTENING ${server.port}`);

function stop() {
  server.stop(true);
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
