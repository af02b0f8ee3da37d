// Static file server with ranges, validators, directory index and gzip.
//
//   deno run --allow-net --allow-read examples/file_server.ts [port] [dir]

import { runServer } from "../mod.ts";
import { compose } from "../middleware/compose.ts";
import { wrapGzip } from "../middleware/gzip.ts";
import { wrapStatic } from "../middleware/static.ts";

const port = Number(Deno.args[0] ?? 8090);
const root = Deno.args[1] ?? Deno.cwd();

const app = compose(wrapGzip, (h) => wrapStatic(h, root))(() => ({
  status: 404,
  headers: { "content-type": "text/plain; charset=utf-8" },
  body: "Not Found\n",
}));
const server = runServer(app, { port });
console.log(`Serving ${root} on http://localhost:${server.port}/`);
