// Peer for bench/upload.ts: Deno.serve piping `request.body` into a file
// (_upload_app.ts). Protocol: listen on 127.0.0.1:$PORT, print
// `LISTENING <port>`, write uploads into $UPLOAD_DIR.
import { upload } from "./_upload_app.ts";

const port = Number(Deno.env.get("PORT") ?? "0");

const server = Deno.serve(
  {
    port,
    hostname: "127.0.0.1",
    onListen: ({ port }): void => console.log(`LISTENING ${port}`),
  },
  upload,
);

async function stop(): Promise<void> {
  await server.shutdown();
  Deno.exit(0);
}

Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
