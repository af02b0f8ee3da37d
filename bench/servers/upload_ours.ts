// Peer for bench/upload.ts: our Ring runServer writing `req.body` into a
// file. With the option `streamBody: true` the body is a
// ReadableStream<Uint8Array> that is piped to the file as it arrives;
// servers without that option read it whole (up to maxBody, raised here
// above the 50 MB uploads) and hand over a Uint8Array. The handler takes
// either, so the peer runs before and after the option exists.
// Protocol: see upload_deno.ts.
import { runServer } from "../../mod.ts";
import type { RingRequest, RingResponse } from "../../mod.ts";

const port = Number(Deno.env.get("PORT") ?? "0");
const dir = Deno.env.get("UPLOAD_DIR") ?? Deno.makeTempDirSync();
let uploads = 0;

type Body = Uint8Array | ReadableStream<Uint8Array> | null;

async function handle(req: RingRequest): Promise<RingResponse> {
  if (req.requestMethod !== "post") {
    return { status: 400, body: "POST a body to /upload\n" };
  }
  const path = `${dir}/${uploads++}`;
  const body = req.body as Body;
  if (body instanceof ReadableStream) {
    const file = await Deno.open(path, { write: true, createNew: true });
    await body.pipeTo(file.writable); // closes the file at the end
  } else {
    await Deno.writeFile(path, body ?? new Uint8Array(0), { createNew: true });
  }
  return { status: 200, body: String((await Deno.stat(path)).size) };
}

// A variable rather than a literal: `streamBody` may not be in the
// options type yet, and a literal with an unknown key does not type-check.
const options = {
  port,
  ip: "127.0.0.1",
  maxBody: 64 * 1024 * 1024,
  streamBody: true,
};
const server = runServer(handle, options);
console.log(`LISTENING ${server.port}`);

async function stop(): Promise<void> {
  await server.stop();
  Deno.exit(0);
}

Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
