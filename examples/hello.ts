// The smallest httpkit app: `deno run --allow-net examples/hello.ts [port]`.
import { runServer } from "../mod.ts";

const port = Number(Deno.args[0] ?? 8090);
const server = runServer((req) => ({
  status: 200,
  headers: { "content-type": "text/plain; charset=utf-8" },
  body: `Hello, World! You asked for ${req.uri}\n`,
}), { port });
console.log(`Listening on http://localhost:${server.port}/`);
