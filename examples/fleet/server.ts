// One process of the fleet: serves behind HAProxy, reads the client address
// from the PROXY protocol header, and drains on SIGTERM.
//
//   deno run --allow-net examples/fleet/server.ts <port> [name]

import { runServer } from "../../mod.ts";

const port = Number(Deno.args[0] ?? 9001);
const name = Deno.args[1] ?? `app-${port}`;

const server = runServer((req) => {
  if (req.uri === "/health") return { body: "ok\n" };
  return {
    headers: { "content-type": "text/plain; charset=utf-8" },
    body: `Hello from ${name} (pid ${Deno.pid}), you are ${req.remoteAddr}\n`,
  };
}, {
  ip: "127.0.0.1",
  port,
  // Every connection comes from HAProxy with a PROXY header (v1 or v2);
  // one without it is refused, so nobody can skip the balancer and forge
  // an address.
  proxyProtocol: "enable",
});
console.log(`${name} listening on 127.0.0.1:${server.port}`);

// Graceful stop: close the listener (HAProxy's next connect is refused and
// retried on the other server), close idle keep-alive connections, let
// requests in flight finish for up to 10 s, then exit.
let stopping = false;
async function drain(): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${name} draining`);
  await server.stop({ timeout: 10_000 });
  console.log(`${name} stopped`);
  Deno.exit(0);
}
Deno.addSignalListener("SIGTERM", drain);
Deno.addSignalListener("SIGINT", drain);
