// Peer for bench/upload.ts: the handler of upload_deno.ts (_upload_app.ts)
// on our serve(). serve() reads a request body whole (up to maxBody, 8 MiB
// by default) before the handler runs, so the limit is raised above the
// 50 MB uploads. Protocol: see upload_deno.ts.
import { serve } from "../../mod.ts";
import { upload } from "./_upload_app.ts";

const port = Number(Deno.env.get("PORT") ?? "0");

const server = serve(
  {
    port,
    hostname: "127.0.0.1",
    maxBody: 64 * 1024 * 1024,
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
