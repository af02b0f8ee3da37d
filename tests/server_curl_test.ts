// Interop with curl: keep-alive reuse, HTTP/1.0, chunked uploads and a large
// upload that makes curl send `Expect: 100-continue`.

import assert from "node:assert/strict";
import type { RingRequest } from "../mod.ts";
import { runCommand, sha256, withServer } from "./_helpers.ts";
import { needs, peerPath } from "./_peers.ts";

const hasCurl = needs("curl");

function curl(args: string[]) {
  return runCommand(peerPath("curl"), ["-sS", "--max-time", "10", ...args]);
}

/** Random bytes (getRandomValues fills at most 64 KiB per call). */
function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

/** Answers with what the server saw of the request and its body. */
async function describe(req: RingRequest) {
  return {
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      method: req.requestMethod,
      uri: req.uri,
      protocol: req.protocol,
      expect: req.headers["expect"] ?? null,
      te: req.headers["transfer-encoding"] ?? null,
      contentLength: req.contentLength,
      length: req.body?.length ?? 0,
      sha: req.body ? await sha256(req.body) : null,
    }),
  };
}

hasCurl.test("curl reuses one keep-alive connection for two URLs", async () => {
  await withServer((req) => ({ body: `at ${req.uri}` }), {}, async (t) => {
    const base = `http://127.0.0.1:${t.port}`;
    const out = await curl([
      "-v",
      "-w",
      "%{http_code} %{num_connects}\\n",
      "-o",
      "/dev/null",
      "-o",
      "/dev/null",
      `${base}/one`,
      `${base}/two`,
    ]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, "200 1\n200 0\n", out.stderr);
    assert.match(out.stderr, /Re-using existing connection/);
  });
});

hasCurl.test("curl --http1.0 gets an HTTP/1.0 request served and closed", async () => {
  await withServer(describe, {}, async (t) => {
    const out = await curl([
      "--http1.0",
      "-i",
      `http://127.0.0.1:${t.port}/old?x=1`,
    ]);
    assert.equal(out.code, 0, out.stderr);
    const [head, body] = out.stdout.split("\r\n\r\n");
    assert.match(head, /^HTTP\/1\.[01] 200 OK\r\n/);
    assert.match(head, /\r\nConnection: close(\r\n|$)/i);
    const seen = JSON.parse(body);
    assert.equal(seen.protocol, "HTTP/1.0");
    assert.equal(seen.uri, "/old");
    assert.equal(seen.method, "get");
  });
});

hasCurl.test("curl uploads a chunked body that the server decodes whole", async () => {
  const data = randomBytes(300_000);
  const path = await Deno.makeTempFile({ prefix: "httpkit-curl-" });
  try {
    await Deno.writeFile(path, data);
    await withServer(describe, {}, async (t) => {
      const out = await curl([
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        `@${path}`,
        `http://127.0.0.1:${t.port}/chunked`,
      ]);
      assert.equal(out.code, 0, out.stderr);
      const seen = JSON.parse(out.stdout);
      assert.equal(seen.method, "post");
      assert.equal(seen.te, "chunked");
      assert.equal(seen.contentLength, null);
      assert.equal(seen.length, data.length);
      assert.equal(seen.sha, await sha256(data));
    });
  } finally {
    await Deno.remove(path);
  }
});

hasCurl.test("curl uploads 5 MiB with Expect: 100-continue and the body arrives intact", async () => {
  const data = randomBytes(5 * 1024 * 1024);
  const path = await Deno.makeTempFile({ prefix: "httpkit-curl-" });
  try {
    await Deno.writeFile(path, data);
    await withServer(describe, {}, async (t) => {
      const t0 = performance.now();
      const out = await curl([
        "-v",
        "--data-binary",
        `@${path}`,
        `http://127.0.0.1:${t.port}/big`,
      ]);
      const took = performance.now() - t0;
      assert.equal(out.code, 0, out.stderr);
      // curl sent the Expect and got a 100 before the body (it waits up to
      // a second for one otherwise)
      assert.match(out.stderr, /> Expect: 100-continue/i);
      assert.match(out.stderr, /< HTTP\/1\.1 100 Continue/);
      assert.ok(took < 900, `upload took ${took} ms`);
      const seen = JSON.parse(out.stdout);
      assert.equal(seen.expect, "100-continue");
      assert.equal(seen.contentLength, data.length);
      assert.equal(seen.length, data.length);
      assert.equal(seen.sha, await sha256(data));
    });
  } finally {
    await Deno.remove(path);
  }
});
