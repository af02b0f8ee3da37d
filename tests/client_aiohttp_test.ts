// The client against an independent server: Python aiohttp routes plus a raw
// asyncio server that sends hand-written responses.

import assert from "node:assert/strict";
import {
  ClientError,
  type ClientResponse,
  get,
  head,
  HttpClient,
  post,
  put,
  request,
} from "../client/mod.ts";
import { startPeer } from "./fixtures/peers.ts";
import { needs } from "./_peers.ts";

const aiohttp = needs("aiohttp");
// Started at load time, when aiohttp is there to start.
const peer = aiohttp.missing.length === 0
  ? await startPeer("aiohttp_server.py")
  : null;
const [HTTP_PORT, RAW_PORT] = peer?.ports ?? [0, 0];
const base = `http://127.0.0.1:${HTTP_PORT}`;
const raw = `http://127.0.0.1:${RAW_PORT}`;

async function withClient(
  fn: (client: HttpClient) => Promise<void>,
  options?: ConstructorParameters<typeof HttpClient>[0],
): Promise<void> {
  const client = new HttpClient(options);
  try {
    await fn(client);
  } finally {
    client.close();
  }
}

function ok(res: ClientResponse): Exclude<ClientResponse, { error: Error }> {
  if (res.error) throw res.error;
  return res as Exclude<ClientResponse, { error: Error }>;
}

function json(res: ClientResponse): Record<string, unknown> {
  return JSON.parse(ok(res).body as string);
}

/**
 * Asserts an error value of `code`; `status` is the final response's when
 * its body is what failed, else absent.
 */
function failed(
  res: ClientResponse,
  code: string,
  status?: number,
): ClientError {
  assert.ok(res.error, `expected an error, got status ${res.status}`);
  assert.ok(res.error instanceof ClientError, String(res.error));
  assert.equal(res.error.code, code, res.error.message);
  assert.equal(res.status, status);
  assert.equal(res.headers === undefined, status === undefined);
  assert.equal(res.body, undefined);
  return res.error;
}

aiohttp.test("get() sends headers, query params and reads a JSON body as text", async () => {
  await withClient(async (client) => {
    const res = await get(`${base}/echo?a=1#frag`, {
      client,
      queryParams: { b: [1, 2], c: { d: "x y" } },
      headers: { "X-Test": "yes", "X-Rep": ["1", "2"] },
      userAgent: "ua-test",
    });
    const r = ok(res);
    assert.equal(r.status, 200);
    assert.equal(
      r.headers["content-type"],
      "application/json; charset=utf-8",
    );
    const e = JSON.parse(r.body as string);
    assert.equal(e.query, "a=1&b=1&b=2&c%5Bd%5D=x+y");
    assert.equal(e.headers["x-test"], "yes");
    assert.deepEqual(
      e.multi.filter((h: string[]) => h[0] === "x-rep"),
      [["x-rep", "1"], ["x-rep", "2"]],
    );
    assert.equal(e.headers["user-agent"], "ua-test");
    assert.equal(e.headers["accept-encoding"], "gzip, deflate");
    assert.equal(e.headers["host"], `127.0.0.1:${HTTP_PORT}`);
    assert.equal(r.opts.url, `${base}/echo?a=1&b=1&b=2&c%5Bd%5D=x+y#frag`);
  });
});

aiohttp.test("queryParams styles: array and indexed", async () => {
  await withClient(async (client) => {
    const a = json(
      await get(`${base}/echo`, {
        client,
        queryParams: { a: [1, 2] },
        multiParamStyle: "array",
      }),
    );
    assert.equal(a.query, "a%5B%5D=1&a%5B%5D=2");
    const i = json(
      await get(`${base}/echo`, {
        client,
        queryParams: { a: ["x", "y"] },
        multiParamStyle: "indexed",
      }),
    );
    assert.equal(i.query, "a%5B0%5D=x&a%5B1%5D=y");
  });
});

aiohttp.test("post() sends formParams, string and bytes bodies with Content-Length", async () => {
  await withClient(async (client) => {
    const f = json(
      await post(`${base}/echo`, {
        client,
        formParams: { name: "Jo Do", tag: ["a&b", "c"] },
      }),
    );
    assert.equal(f.body, "name=Jo+Do&tag=a%26b&tag=c");
    assert.equal(
      (f.headers as Record<string, string>)["content-type"],
      "application/x-www-form-urlencoded",
    );
    const s = json(await put(`${base}/echo`, { client, body: "héllo" }));
    assert.equal(s.method, "PUT");
    assert.equal(s.body, "héllo");
    assert.equal(
      (s.headers as Record<string, string>)["content-length"],
      "6",
    );
    const b = json(
      await post(`${base}/echo`, {
        client,
        body: new Uint8Array([0x61, 0x62]),
      }),
    );
    assert.equal(b.body, "ab");
  });
});

aiohttp.test("request() uploads a stream and an async iterable chunked, without a length", async () => {
  await withClient(async (client) => {
    const chunk = new Uint8Array(64 * 1024).fill(0x7a);
    const stream = ReadableStream.from((function* () {
      for (let i = 0; i < 16; i++) yield chunk;
    })());
    const r = json(
      await request({
        client,
        url: `${base}/upload`,
        method: "post",
        body: stream,
      }),
    );
    assert.equal(r.bytes, 16 * 64 * 1024);
    assert.equal(r.te, "chunked");
    assert.equal(r.cl, null);
    async function* gen(): AsyncGenerator<string> {
      yield "abc";
      yield "";
      yield "def";
    }
    const g = json(
      await request({
        client,
        url: `${base}/upload`,
        method: "put",
        body: gen(),
      }),
    );
    assert.equal(g.bytes, 6);
    assert.equal(g.te, "chunked");
  });
});

aiohttp.test("request() uploads a file with its length", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/f.bin`;
    await Deno.writeFile(path, new Uint8Array(200_000).fill(1));
    const file = await Deno.open(path);
    await withClient(async (client) => {
      const r = json(
        await post(`${base}/upload`, { client, body: file }),
      );
      assert.equal(r.bytes, 200_000);
      assert.equal(r.cl, "200000");
      assert.equal(r.te, null);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

aiohttp.test("multipart bodies reach aiohttp's multipart reader", async () => {
  await withClient(async (client) => {
    const r = json(
      await post(`${base}/multipart`, {
        client,
        multipart: [
          { name: "title", content: "hello" },
          {
            name: "file",
            content: new Uint8Array([0x41, 0x42]),
            filename: "a.txt",
            contentType: "text/plain",
          },
          { name: "blob", content: new Blob(["xyz"]), filename: "b.bin" },
        ],
      }),
    );
    assert.deepEqual(r.title, {
      filename: null,
      type: null,
      content: "hello",
    });
    assert.deepEqual(r.file, {
      filename: "a.txt",
      type: "text/plain",
      content: "AB",
    });
    assert.deepEqual(r.blob, {
      filename: "b.bin",
      type: "application/octet-stream",
      content: "xyz",
    });
  });
});

aiohttp.test("basicAuth and oauthToken set Authorization", async () => {
  await withClient(async (client) => {
    assert.equal((await get(`${base}/auth`, { client })).status, 401);
    const a = ok(
      await get(`${base}/auth`, { client, basicAuth: ["user", "pä:ss"] }),
    );
    assert.equal(a.body, "user:pä:ss");
    const b = ok(await get(`${base}/auth`, { client, basicAuth: "u:p" }));
    assert.equal(b.body, "u:p");
    const c = ok(
      await get(`http://me:se%20cret@127.0.0.1:${HTTP_PORT}/auth`, { client }),
    );
    assert.equal(c.body, "me:se cret");
    const o = json(await get(`${base}/echo`, { client, oauthToken: "tok" }));
    assert.equal(
      (o.headers as Record<string, string>)["authorization"],
      "Bearer tok",
    );
  });
});

aiohttp.test("chunked responses are decoded, whole and streamed as they arrive", async () => {
  await withClient(async (client) => {
    const r = ok(
      await get(`${base}/chunked?n=5&size=3000`, { client, as: "bytes" }),
    );
    const body = r.body as Uint8Array;
    assert.equal(body.length, 15000);
    assert.equal(body[0], 65);
    assert.equal(body[14999], 69);
    const t0 = Date.now();
    const s = ok(
      await get(`${base}/chunked?n=3&size=10&delay=0.4`, {
        client,
        as: "stream",
      }),
    );
    const reader = (s.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    assert.ok(Date.now() - t0 < 350, "first chunk came only with the end");
    assert.deepEqual(first.value, new Uint8Array(10).fill(65));
    let total = first.value!.length;
    for (;;) {
      const x = await reader.read();
      if (x.done) break;
      total += x.value.length;
    }
    assert.equal(total, 30);
    assert.ok(Date.now() - t0 >= 700);
    // The connection went back to the pool once the stream ended.
    assert.equal(client.idleConnections, 1);
  });
});

for (const kind of ["gzip", "deflate", "deflate-raw"]) {
  aiohttp.test(`${kind} bodies are decoded (length-framed, chunked and streamed)`, async () => {
    await withClient(async (client) => {
      const want = "hello compressed world ".repeat(200);
      const a = ok(await get(`${base}/compressed/${kind}`, { client }));
      assert.equal(a.body, want);
      const b = ok(
        await get(`${base}/compressed/${kind}?chunked=1`, { client }),
      );
      assert.equal(b.body, want);
      const c = ok(
        await get(`${base}/compressed/${kind}`, { client, as: "stream" }),
      );
      assert.equal(
        await new Response(c.body as ReadableStream<Uint8Array>).text(),
        want,
      );
      const d = ok(
        await get(`${base}/compressed/${kind}`, {
          client,
          autoCompression: false,
          as: "bytes",
        }),
      );
      assert.ok((d.body as Uint8Array).length < want.length);
    });
  });
}

aiohttp.test("maxBody applies after decompression", async () => {
  await withClient(async (client) => {
    const r = await get(`${base}/bomb`, { client, maxBody: 1024 * 1024 });
    failed(r, "body-too-large", 200);
    const s = ok(
      await get(`${base}/bomb`, { client, maxBody: 1024 * 1024, as: "stream" }),
    );
    await assert.rejects(
      new Response(s.body as ReadableStream<Uint8Array>).arrayBuffer(),
      /maxBody/,
    );
    const big = failed(
      await get(`${base}/big?n=5000`, { client, maxBody: 4999 }),
      "body-too-large",
      200,
    );
    assert.match(big.message, /4999/);
    const fine = ok(await get(`${base}/big?n=5000`, { client, maxBody: 5000 }));
    assert.equal((fine.body as Uint8Array).length, 5000);
  });
});

aiohttp.test("redirect chains are followed and traced; too many is an error", async () => {
  await withClient(async (client) => {
    const r = ok(await get(`${base}/redirect/3`, { client }));
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body as string).path, "/redirect/0");
    assert.deepEqual(r.opts.traceRedirects, [
      `${base}/redirect/3`,
      `${base}/redirect/2`,
      `${base}/redirect/1`,
      `${base}/redirect/0`,
    ]);
    const e = failed(
      await get(`${base}/redirect/12`, { client }),
      "too-many-redirects",
    );
    assert.equal(e.message, "too many redirects: 10");
    failed(
      await get(`${base}/redirect/3`, { client, maxRedirects: 2 }),
      "too-many-redirects",
    );
    const off = ok(
      await get(`${base}/redirect/3`, { client, followRedirects: false }),
    );
    assert.equal(off.status, 302);
    assert.equal(off.headers["location"], "/redirect/2");
  });
});

aiohttp.test("301-303 switch to GET and drop the body; HEAD stays HEAD", async () => {
  await withClient(async (client) => {
    for (const code of [301, 302, 303]) {
      const r = json(
        await post(`${base}/code/${code}`, {
          client,
          body: "payload",
          headers: { "content-type": "text/plain", "x-keep": "1" },
        }),
      );
      assert.equal(r.method, "GET", `after ${code}`);
      assert.equal(r.body, "");
      const h = r.headers as Record<string, string>;
      assert.equal(h["content-type"], undefined);
      assert.equal(h["content-length"], undefined);
      assert.equal(h["x-keep"], "1");
    }
    const hd = ok(await head(`${base}/code/302?to=/status/200`, { client }));
    assert.equal(hd.status, 200);
    assert.equal(hd.opts.method, "HEAD");
    assert.equal(hd.headers["x-status"], "200");
  });
});

aiohttp.test("307/308 keep the method and body", async () => {
  await withClient(async (client) => {
    for (const code of [307, 308]) {
      const r = json(
        await request({
          client,
          url: `${base}/code/${code}`,
          method: "PUT",
          body: "again",
        }),
      );
      assert.equal(r.method, "PUT");
      assert.equal(r.body, "again");
    }
    const s = await post(`${base}/code/307`, {
      client,
      body: ReadableStream.from(["x"]),
    });
    failed(s, "redirect");
  });
});

aiohttp.test("a redirect without Location is an error", async () => {
  await withClient(async (client) => {
    const e = failed(
      await get(`${base}/code/302?nolocation=1`, { client }),
      "redirect",
    );
    assert.match(e.message, /Location/);
  });
});

aiohttp.test("cross-origin redirects drop Authorization and Cookie", async () => {
  await withClient(async (client) => {
    // 127.0.0.1 and localhost are different origins on the same server.
    const to = `http://localhost:${HTTP_PORT}/echo`;
    const r = json(
      await get(`${base}/code/302?to=${encodeURIComponent(to)}`, {
        client,
        basicAuth: ["a", "b"],
        headers: { cookie: "s=1", "x-other": "kept" },
      }),
    );
    const h = r.headers as Record<string, string>;
    assert.equal(h["authorization"], undefined);
    assert.equal(h["cookie"], undefined);
    assert.equal(h["x-other"], "kept");
    const same = json(
      await get(`${base}/code/302?to=/echo`, {
        client,
        basicAuth: ["a", "b"],
        headers: { cookie: "s=1" },
      }),
    );
    const h2 = same.headers as Record<string, string>;
    assert.equal(h2["authorization"], "Basic " + btoa("a:b"));
    assert.equal(h2["cookie"], "s=1");
  });
});

aiohttp.test("idle timeout: a silent server and a stalled body", async () => {
  await withClient(async (client) => {
    const t0 = Date.now();
    const e = failed(
      await get(`${base}/slow?delay=2`, { client, idleTimeout: 200 }),
      "idle-timeout",
    );
    assert.equal(e.message, "idle timeout: 200 ms");
    assert.ok(Date.now() - t0 < 1500);
    const stalled = await get(`${base}/stall-body`, { client, timeout: 200 });
    failed(stalled, "idle-timeout", 200);
    assert.equal(stalled.headers?.["content-length"], "100");
    const s = ok(
      await get(`${base}/stall-body`, {
        client,
        idleTimeout: 200,
        as: "stream",
      }),
    );
    await assert.rejects(
      new Response(s.body as ReadableStream<Uint8Array>).arrayBuffer(),
      /idle timeout: 200 ms/,
    );
    const fine = ok(
      await get(`${base}/slow?delay=0.05`, { client, idleTimeout: 2000 }),
    );
    assert.equal(fine.body, "slow");
  });
});

aiohttp.test("signal aborts a request in flight", async () => {
  await withClient(async (client) => {
    const ac = new AbortController();
    const p = get(`${base}/slow?delay=2`, { client, signal: ac.signal });
    setTimeout(() => ac.abort(new Error("stop")), 100);
    const e = failed(await p, "aborted");
    assert.match(e.message, /stop/);
  });
});

aiohttp.test("keep-alive: sequential requests share one connection; keepalive -1 does not", async () => {
  await withClient(async (client) => {
    await get(`${base}/conn-reset`, { client, keepalive: -1 });
    const peers = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const r = json(await get(`${base}/conn`, { client }));
      peers.add(String(r.peer));
    }
    assert.equal(peers.size, 1);
    assert.equal(client.idleConnections, 1);
    const fresh = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const r = json(await get(`${base}/conn`, { client, keepalive: -1 }));
      fresh.add(String(r.peer));
      assert.equal(
        (await get(`${base}/echo`, { client, keepalive: -1 })).status,
        200,
      );
    }
    assert.equal(fresh.size, 3);
    // The first of those took the pooled connection, and closed it.
    assert.equal(client.idleConnections, 0);
  });
});

aiohttp.test("maxConnections caps connections per host and queues the rest", async () => {
  await withClient(async (client) => {
    await get(`${base}/conn-reset`, { client, keepalive: -1 });
    const t0 = Date.now();
    const all = await Promise.all(
      Array.from(
        { length: 6 },
        () => get(`${base}/conn?delay=0.15`, { client }),
      ),
    );
    const peers = new Set(all.map((r) => String(json(r).peer)));
    assert.equal(peers.size, 2);
    assert.ok(Date.now() - t0 >= 400, "requests were not queued");
    assert.equal(client.idleConnections, 2);
  }, { maxConnections: 2 });
});

aiohttp.test("Connection: close responses are not pooled", async () => {
  await withClient(async (client) => {
    const r = ok(await get(`${base}/close`, { client }));
    assert.equal(r.body, "bye");
    assert.equal(client.idleConnections, 0);
  });
});

aiohttp.test("HEAD, 204 and 304 have no body; as none drops it", async () => {
  await withClient(async (client) => {
    const h = ok(await head(`${base}/big?n=100`, { client }));
    assert.equal(h.body, null);
    assert.equal(h.headers["content-length"], "100");
    for (const code of [204, 304]) {
      const r = ok(await get(`${base}/status/${code}`, { client }));
      assert.equal(r.status, code);
      assert.equal(r.body, null);
    }
    const n = ok(await get(`${base}/big?n=100`, { client, as: "none" }));
    assert.equal(n.body, null);
    // Every one of these left the connection reusable.
    const again = ok(await get(`${base}/echo`, { client }));
    assert.equal(again.status, 200);
    assert.equal(client.idleConnections, 1);
  });
});

aiohttp.test("repeated response headers are joined; names are lower-case", async () => {
  await withClient(async (client) => {
    const r = ok(await get(`${base}/multi-headers`, { client }));
    assert.equal(r.headers["x-multi"], "a,b");
    assert.match(r.headers["set-cookie"], /c1=v1.*,.*c2=v2/);
  });
});

aiohttp.test("as: text uses the charset; auto keeps binary as bytes", async () => {
  await withClient(async (client) => {
    const t = ok(await get(`${base}/charset`, { client }));
    assert.equal(t.body, "café");
    const b = ok(await get(`${base}/big?n=3`, { client }));
    assert.deepEqual(b.body, new Uint8Array([121, 121, 121]));
    const s = ok(await get(`${base}/big?n=3`, { client, as: "text" }));
    assert.equal(s.body, "yyy");
  });
});

aiohttp.test("Expect: 100-continue: the interim response is skipped", async () => {
  await withClient(async (client) => {
    const r = json(
      await post(`${base}/echo`, {
        client,
        headers: { expect: "100-continue" },
        body: "after continue",
      }),
    );
    assert.equal(r.body, "after continue");
  });
});

aiohttp.test("raw peer: HTTP/1.0 close-delimited body", async () => {
  await withClient(async (client) => {
    const r = ok(await get(`${raw}/http10`, { client, as: "text" }));
    assert.equal(r.body, "close-delimited body");
    assert.equal(client.idleConnections, 0);
  });
});

aiohttp.test("raw peer: chunk extensions and trailers; 1xx interim responses skipped", async () => {
  await withClient(async (client) => {
    const r = ok(await get(`${raw}/trailers`, { client, as: "text" }));
    assert.equal(r.body, "hello world");
    const i = ok(await get(`${raw}/interim`, { client, as: "text" }));
    assert.equal(i.status, 200);
    assert.equal(i.body, "final");
    assert.equal(i.headers["link"], undefined);
  });
});

aiohttp.test("raw peer: malformed responses are errors", async () => {
  await withClient(async (client) => {
    let e = failed(await get(`${raw}/te-cl`, { client }), "protocol");
    assert.match(e.message, /Transfer-Encoding and Content-Length/);
    e = failed(await get(`${raw}/bad-status`, { client }), "protocol");
    assert.match(e.message, /status line/);
    failed(await get(`${raw}/bad-chunk`, { client }), "protocol", 200);
    e = failed(await get(`${raw}/huge-head`, { client }), "protocol");
    assert.match(e.message, /too long|too large|larger/);
    e = failed(
      await get(`${raw}/truncated`, { client }),
      "connection-closed",
      200,
    );
    assert.match(e.message, /before the end of the body/);
  });
});

aiohttp.test("raw peer: surplus bytes after a response keep the connection out of the pool", async () => {
  await withClient(async (client) => {
    const r = ok(await get(`${raw}/surplus`, { client, as: "text" }));
    assert.equal(r.body, "ok");
    assert.equal(client.idleConnections, 0);
  });
});

aiohttp.test("a stale pooled connection is retried once for GET, not for POST", async () => {
  await withClient(async (client) => {
    // /oneshot claims keep-alive, then closes the socket.
    assert.equal(
      ok(await get(`${raw}/oneshot`, { client, as: "text" })).body,
      "ok",
    );
    assert.equal(client.idleConnections, 1);
    await new Promise((r) => setTimeout(r, 50));
    const before = Number(
      ok(await get(`${raw}/count`, { client, keepalive: -1, as: "text" }))
        .body,
    );
    assert.equal(
      ok(await get(`${raw}/oneshot`, { client, as: "text" })).body,
      "ok",
    );
    await new Promise((r) => setTimeout(r, 50));
    const e = await post(`${raw}/oneshot`, { client, body: "x" });
    failed(e, "connection-closed");
    const after = Number(
      ok(await get(`${raw}/count`, { client, keepalive: -1, as: "text" }))
        .body,
    );
    // The GET's retry and the POST's one try opened... the POST reused the
    // dead connection, so: count request, GET retry, count request.
    assert.equal(after - before, 2);
  });
});

aiohttp.test("errors as values: refused, bad URL, bad header, unsupported body", async () => {
  await withClient(async (client) => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = l.addr.port;
    l.close();
    const e = failed(
      await get(`http://127.0.0.1:${port}/`, { client }),
      "connection-refused",
    );
    assert.match(e.message, /connection refused/);
    failed(await get("not a url", { client }), "bad-url");
    failed(await get("ftp://example.com/", { client }), "bad-url");
    failed(await request({ client }), "bad-url");
    const h = failed(
      await get(`${base}/echo`, {
        client,
        headers: { "x-bad": "a\r\nInjected: 1" },
      }),
      "bad-option",
    );
    assert.match(h.message, /x-bad/);
    failed(
      await post(`${base}/echo`, {
        client,
        // deno-lint-ignore no-explicit-any
        body: { plain: "object" } as any,
      }),
      "unsupported-body",
    );
    failed(
      await request({ client, url: base, method: "BAD METHOD" }),
      "bad-option",
    );
  });
});

Deno.test("DNS failures are errors", async () => {
  await withClient(async (client) => {
    const r = await get("http://no-such-host.invalid/", {
      client,
      timeout: 5000,
    });
    assert.ok(r.error instanceof ClientError);
    assert.ok(["dns", "network"].includes(r.error.code), r.error.message);
  });
});

aiohttp.test("a callback's value resolves the promise; a throwing callback gives an error", async () => {
  await withClient(async (client) => {
    const n = await get(
      `${base}/big?n=7`,
      { client, as: "bytes" },
      (res) => (res.body as Uint8Array).length,
    );
    assert.equal(n, 7);
    const x = await get(`${base}/echo`, { client }, () => {
      throw new Error("boom");
    });
    assert.ok(typeof x === "object" && x !== null && "error" in x);
    assert.equal((x.error as Error).message, "boom");
    assert.equal(x.opts.url, `${base}/echo`);
    const asyncCb = await get(`${base}/echo`, { client }, async (res) => {
      await Promise.resolve();
      return res.status;
    });
    assert.equal(asyncCb, 200);
  });
});

aiohttp.test("other verbs go through method", async () => {
  await withClient(async (client) => {
    const r = json(
      await request({ client, url: `${base}/echo`, method: "propfind" }),
    );
    assert.equal(r.method, "PROPFIND");
  });
});
