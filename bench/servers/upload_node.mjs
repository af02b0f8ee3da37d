// Peer for bench/upload.ts: node:http piping `req` into
// fs.createWriteStream, run by `node`. Protocol: see upload_deno.ts.
// Plain JavaScript so Node runs it as is.
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import process from "node:process";
import { pipeline } from "node:stream";

const port = Number(process.env.PORT ?? "0");
const dir = process.env.UPLOAD_DIR ?? fs.mkdtempSync(`${os.tmpdir()}/up-`);
let uploads = 0;

function answer(res, status, text) {
  res.writeHead(status, { "content-type": "text/plain" });
  res.end(text);
}

function handle(req, res) {
  if (req.method !== "POST") {
    return answer(res, 400, "POST a body to /upload\n");
  }
  const path = `${dir}/${uploads++}`;
  pipeline(req, fs.createWriteStream(path, { flags: "wx" }), (err) => {
    if (err) return answer(res, 500, `${err}\n`);
    fs.stat(path, (err, stat) => {
      if (err) return answer(res, 500, `${err}\n`);
      answer(res, 200, String(stat.size));
    });
  });
}

const server = http.createServer(handle);
server.listen(port, "127.0.0.1", () => {
  console.log(`LISTENING ${server.address().port}`);
});

process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
