// The fetch handler of the upload peers on Deno.serve (upload_deno.ts) and
// on our serve() (upload_fetch_ours.ts): one module, so both run the very
// same code. `POST /upload` streams the body into a new file in
// $UPLOAD_DIR and answers with the size of that file, so the client can
// tell whether every byte arrived.

const dir = Deno.env.get("UPLOAD_DIR") ?? Deno.makeTempDirSync();
let uploads = 0;

/** Pipes the request body into a fresh file; answers its size. */
export async function upload(req: Request): Promise<Response> {
  if (req.method !== "POST" || req.body === null) {
    return new Response("POST a body to /upload\n", { status: 400 });
  }
  const path = `${dir}/${uploads++}`;
  const file = await Deno.open(path, { write: true, createNew: true });
  await req.body.pipeTo(file.writable); // closes the file at the end
  return new Response(String((await Deno.stat(path)).size));
}
