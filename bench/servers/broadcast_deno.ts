// Baseline peer for bench/broadcast.ts: Deno.serve with
// Deno.upgradeWebSocket, broadcasting with a loop over a Set of sockets.
// Protocol: prints `LISTENING <port>` once bound; PORT comes from env.

const port = Number(Deno.env.get("PORT") ?? "0");
const sockets = new Set<WebSocket>();

const server = Deno.serve(
  {
    port,
    hostname: "127.0.0.1",
    onListen: ({ port }): void => console.log(`LISTENING ${port}`),
  },
  (req): Response => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onopen = (): void => void sockets.add(socket);
    socket.onclose = (): void => void sockets.delete(socket);
    socket.onmessage = (e): void => {
      for (const s of sockets) s.send(e.data);
    };
    return response;
  },
);

async function stop(): Promise<void> {
  await server.shutdown();
  Deno.exit(0);
}

Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
