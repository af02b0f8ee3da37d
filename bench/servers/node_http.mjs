// Peer for bench/load.ts: plain node:http. The same file runs under Node
// (`node node_http.mjs`) and under Deno's Node compatibility layer
// (`deno run -A node_http.mjs`), so the two rows differ only in the runtime.
// Protocol and routes: see ours.ts. Plain JavaScript so Node runs it as is.
import http from "node:http";
import process from "node:process";

const port = Number(process.env.PORT ?? "0");
const bodyBytes = process.env.BODY;
const body = Buffer.from(
  bodyBytes === undefined ? "Hello, World!" : "x".repeat(Number(bodyBytes)),
);
const big = Buffer.alloc(1 << 20, 0x78);

function send(res, type, bytes) {
  res.writeHead(200, {
    "content-type": type,
    "content-length": bytes.length,
  });
  res.end(bytes);
}

function handle(req, res) {
  const q = req.url.indexOf("?");
  const path = q < 0 ? req.url : req.url.slice(0, q);
  if (path === "/") return send(res, "text/plain", body);
  if (path === "/async") {
    return setTimeout(() => send(res, "text/plain", body), 1);
  }
  if (path === "/big") return send(res, "application/octet-stream", big);
  if (path === "/echo") {
    const parts = [];
    req.on("data", (chunk) => parts.push(chunk));
    req.on(
      "end",
      () => send(res, "application/octet-stream", Buffer.concat(parts)),
    );
    return;
  }
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("not found");
}

const server = http.createServer(handle);
server.listen(port, "127.0.0.1", () => {
  console.log(`LISTENING ${server.address().port}`);
});

// The runner stops peers with SIGTERM; exit at once like the Deno peers do.
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
