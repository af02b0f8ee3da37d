// Node peer for bench/broadcast.ts: npm `ws` on node:http, broadcasting
// with a loop over its clients. bench/broadcast.ts installs `ws` into
// bench/.ws/ and passes that folder in WS_DIR.
// Protocol: prints `LISTENING <port>` once bound; PORT comes from env.
import { createServer } from "node:http";
import { createRequire } from "node:module";

const require = createRequire(`${process.env.WS_DIR}/`);
const { WebSocketServer } = require("ws");

const server = createServer();
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => {
    for (const client of wss.clients) client.send(data, { binary: isBinary });
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
