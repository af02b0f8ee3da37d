// A fetch-handler app (the `Deno.serve` shape) on httpkit: routes, JSON,
// a streamed response, a WebSocket via upgradeWebSocket, and a Ring handler
// mounted inside.
//
//   deno run --allow-net examples/fetch_app.ts [port]

import { ringToFetch } from "../adapter/convert.ts";
import { serve } from "../adapter/serve.ts";
import { upgradeWebSocket } from "../adapter/websocket.ts";

const ring = ringToFetch((req) => ({ body: `Ring handler saw ${req.uri}\n` }));

async function handler(request: Request): Promise<Response> {
  const url = new URL(request.url);
  switch (url.pathname) {
    case "/":
      return new Response("Hello from a fetch handler on httpkit\n");
    case "/json":
      return Response.json({ method: request.method, query: url.search });
    case "/echo":
      return new Response(request.body, {
        headers: {
          "content-type": request.headers.get("content-type") ?? "text/plain",
        },
      });
    case "/clock": {
      // one line a second for five seconds, stopping if the client leaves
      let n = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(ctl) {
          if (n++ > 0) await new Promise((r) => setTimeout(r, 1000));
          ctl.enqueue(
            new TextEncoder().encode(`${new Date().toISOString()}\n`),
          );
          if (n === 5) ctl.close();
        },
      });
      return new Response(body, { headers: { "content-type": "text/plain" } });
    }
    case "/ws": {
      const { socket, response } = upgradeWebSocket(request);
      socket.onmessage = (e) => socket.send(e.data);
      return response;
    }
  }
  if (url.pathname.startsWith("/ring/")) return await ring(request);
  return new Response("Not Found\n", { status: 404 });
}

const port = Number(Deno.args[0] ?? 8000);
serve({ port }, handler);
