// Baseline peer for bench/ws_load.ts: the same WebSocket echo on Deno.serve
// with Deno.upgradeWebSocket.
// Protocol: prints `LISTENING <port>` once bound; PORT comes from env.

const port = Number(Deno.env.get("PORT") ?? "0");

const server = Deno.serve(
  {
    port,
    hostname: "127.0.0.1",
    onListen: ({ port }): void => console.log(`LISTENING ${port}`),
  },
  (req): Response => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (e): void => socket.send(e.data);
    return response;
  },
);

async function stop(): Promise<void> {
  await server.shutdown();
  Deno.exit(0);
}

Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
