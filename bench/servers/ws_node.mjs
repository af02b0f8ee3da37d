// Node peer for bench/ws_load.ts: the same WebSocket echo with npm `ws` on
// node:http, run by `node`. ws_load.ts installs `ws` into bench/.ws/ and
// passes that folder in WS_DIR; `ws` runs without its optional native
// add-ons (bufferutil, utf-8-validate), as most installs do.
// Protocol: prints `LISTENING <port>` once bound; PORT comes from env.
import { createServer } from "node:http";
import { createRequire } from "node:module";

const require = createRequire(`${process.env.WS_DIR}/`);
const { WebSocketServer } = require("ws");

const server = createServer();
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => {
    socket.send(data, { binary: isBinary });
  });
});
server.listen(Number(process.env.PORT ?? "0"), "127.0.0.1", () => {
  console.log(`LISTENING ${server.address().port}`);
});

function stop() {
  for (const client of wss.clients) client.terminate();
  server.close(() => process.exit(0));
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
