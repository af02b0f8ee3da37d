// Echo server: HTTP requests come back as JSON describing them, and
// WebSocket messages on /ws come back as they are.
//
//   deno run --allow-net examples/echo.ts [port]

import { asChannel, runServer } from "../mod.ts";

const port = Number(Deno.args[0] ?? 8090);
const server = runServer((req) => {
  if (req.websocket) {
    return asChannel(req, {
      onReceive: (ch, message) => ch.send(message),
    });
  }
  return {
    headers: { "content-type": "application/json; charset=utf-8" },
    body: JSON.stringify(
      {
        method: req.requestMethod.toUpperCase(),
        uri: req.uri,
        query: req.queryString,
        headers: req.headers,
        remoteAddr: req.remoteAddr,
        body: req.body === null ? null : new TextDecoder().decode(req.body),
      },
      null,
      2,
    ) + "\n",
  };
}, { port });
console.log(
  `Echo on http://localhost:${server.port}/ and ws://localhost:${server.port}/ws`,
);
