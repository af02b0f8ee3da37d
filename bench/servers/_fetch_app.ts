// The fetch handler of the `deno` peer (Deno.serve) and the `fetch-ours`
// peer (our serve()): one module, so both run the very same code.
// Routes: see ours.ts.

const bodyBytes = Deno.env.get("BODY");
const body = bodyBytes === undefined
  ? "Hello, World!"
  : "x".repeat(Number(bodyBytes));
const big = new Uint8Array(1 << 20).fill(0x78);

const TEXT = { "content-type": "text/plain" };
const OCTETS = { "content-type": "application/octet-stream" };

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** The path of an absolute URL without building a URL object, which would
 * cost more than everything else this server does per request. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const q = url.indexOf("?", start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}

/** Hand-written router over the four routes. */
export async function handle(req: Request): Promise<Response> {
  switch (pathOf(req.url)) {
    case "/":
      return new Response(body, { headers: TEXT });
    case "/async":
      await sleep(1);
      return new Response(body, { headers: TEXT });
    case "/big":
      return new Response(big, { headers: OCTETS });
    case "/echo":
      return new Response(await req.arrayBuffer(), { headers: OCTETS });
  }
  return new Response("not found", { status: 404, headers: TEXT });
}
