// Response coercion and the typed results of the client: `as: "json"`
// (charset, gzip, chunked, invalid JSON as a `bad-json` value carrying the
// response's status and headers), the empty bodies of bodiless responses for
// each `as`, the body's TypeScript type following `as`, and errors always
// being ClientErrors. The peer is Deno.serve (Deno's HTTP server, not ours).

import assert from "node:assert/strict";
import {
  type ClientError,
  type ClientResponse,
  get,
  head,
  HttpClient,
  post,
  request,
} from "../mod.ts";

const encoder = new TextEncoder();
const bigJson = JSON.stringify({
  items: Array.from({ length: 500 }, (_, i) => i),
});
const gzippedJson = await new Response(
  new Blob([bigJson]).stream().pipeThrough(new CompressionStream("gzip")),
).bytes();

const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  (req) => {
    const path = new URL(req.url).pathname;
    switch (path) {
      case "/json":
        // café in latin1: the charset must be honoured before parsing.
        return new Response(
          new Uint8Array([...encoder.encode('{"name":"caf'), 0xe9, 0x22, 0x7d]),
          {
            headers: { "content-type": "application/json; charset=iso-8859-1" },
          },
        );
      case "/big-json":
        return new Response(gzippedJson, {
          headers: {
            "content-type": "application/json",
            "content-encoding": "gzip",
          },
        });
      case "/chunked-json":
        return new Response(
          ReadableStream.from(['{"a":', "[1,2", "]}"]).pipeThrough(
            new TextEncoderStream(),
          ),
          { headers: { "content-type": "application/json" } },
        );
      case "/html":
        return new Response("<h1>Oops</h1>", {
          status: 502,
          headers: { "content-type": "text/html", "x-trace": "t1" },
        });
      case "/no-content":
        return new Response(null, { status: 204 });
      case "/ua":
        return new Response(req.headers.get("user-agent"));
      default:
        return new Response("hello", {
          headers: { "content-type": "text/plain" },
        });
    }
  },
);
const base = `http://127.0.0.1:${server.addr.port}`;

/** Compile-time check that two types are the same. */
type Same<A, B> = [A] extends [B] ? [B] extends [A] ? true : false : false;

async function withClient(
  fn: (client: HttpClient) => Promise<void>,
): Promise<void> {
  const client = new HttpClient();
  try {
    await fn(client);
  } finally {
    client.close();
  }
}

function failed(res: ClientResponse, code: string): ClientError {
  assert.ok(res.error, `expected ${code}, got status ${res.status}`);
  // `error` is typed ClientError: `code` needs no instanceof first.
  assert.equal(res.error.code, code, res.error.message);
  return res.error;
}

Deno.test('as: "json" parses the body after its charset, gzip and chunked coding', async () => {
  await withClient(async (client) => {
    const r = await get(`${base}/json`, { client, as: "json" });
    if (r.error) throw r.error;
    assert.deepEqual(r.body, { name: "café" });
    const big = await get(`${base}/big-json`, { client, as: "json" });
    if (big.error) throw big.error;
    assert.equal(big.headers["content-encoding"], "gzip");
    assert.deepEqual(big.body, JSON.parse(bigJson));
    const chunked = await request({
      client,
      url: `${base}/chunked-json`,
      as: "json",
    });
    if (chunked.error) throw chunked.error;
    assert.equal(chunked.headers["transfer-encoding"], "chunked");
    assert.deepEqual(chunked.body, { a: [1, 2] });
  });
});

Deno.test('as: "json" with a body that is not JSON is a bad-json value with status and headers', async () => {
  await withClient(async (client) => {
    const r = await get(`${base}/html`, { client, as: "json" });
    const e = failed(r, "bad-json");
    assert.equal(r.status, 502);
    assert.equal(r.headers?.["x-trace"], "t1");
    assert.equal(r.body, undefined);
    assert.match(e.message, /<h1>Oops<\/h1>/);
    assert.ok(e.cause instanceof SyntaxError);
    // The body was read whole: the connection is reused.
    assert.equal(client.idleConnections, 1);
    const next = await get(`${base}/`, { client, as: "text" });
    assert.equal(next.body, "hello");
  });
});

Deno.test("a bodiless response gets the empty value of its as", async () => {
  await withClient(async (client) => {
    const url = `${base}/json`;
    const text = await head(url, { client, as: "text" });
    assert.equal(text.body, "");
    const bytes = await head(url, { client, as: "bytes" });
    assert.deepEqual(bytes.body, new Uint8Array(0));
    const stream = await head(url, { client, as: "stream" });
    if (stream.error) throw stream.error;
    assert.equal((await new Response(stream.body).bytes()).length, 0);
    assert.equal((await head(url, { client, as: "json" })).body, null);
    assert.equal((await head(url, { client })).body, null);
    assert.equal((await head(url, { client, as: "none" })).body, null);
    const noContent = await get(`${base}/no-content`, { client, as: "json" });
    assert.equal(noContent.status, 204);
    assert.equal(noContent.body, null);
  });
});

Deno.test("the body's type follows as (checked by deno check)", async () => {
  await withClient(async (client) => {
    const url = `${base}/`;
    const text = await get(url, { client, as: "text" });
    const bytes = await post(url, { client, as: "bytes" });
    const stream = await client.request({ url, as: "stream" });
    const none = await request({ client, url, as: "none" });
    const json = await get(url, { client, as: "json" });
    const auto = await get(url, { client });
    if (
      text.error || bytes.error || stream.error || none.error || auto.error
    ) {
      throw new Error("unexpected error");
    }
    const checks: [
      Same<typeof text.body, string>,
      Same<typeof bytes.body, Uint8Array>,
      Same<typeof stream.body, ReadableStream<Uint8Array>>,
      Same<typeof none.body, null>,
      Same<typeof auto.body, string | Uint8Array | null>,
      Same<NonNullable<typeof json.error>, ClientError>,
    ] = [true, true, true, true, true, true];
    assert.ok(checks.every((c) => c));
    // No casts needed to use them.
    assert.equal(text.body.toUpperCase(), "HELLO");
    assert.equal(bytes.body.length, 5);
    assert.equal(await new Response(stream.body).text(), "hello");
    // "hello" is not JSON.
    assert.equal(json.error?.code, "bad-json");
    // A callback gets the typed response too.
    const n = await get(
      url,
      { client, as: "bytes" },
      (r) => r.error ? -1 : r.body.length,
    );
    assert.equal(n, 5);
  });
});

Deno.test("a throwing callback and a failing body source give ClientErrors", async () => {
  await withClient(async (client) => {
    const boom = new RangeError("boom");
    const r = await get(`${base}/`, { client }, () => {
      throw boom;
    });
    assert.ok(typeof r === "object" && r !== null && "error" in r);
    const e = failed(r, "callback");
    assert.equal(e.message, "boom");
    assert.equal(e.cause, boom);
    const broken = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        ctrl.error(new Error("disk gone"));
      },
    });
    const up = await post(`${base}/`, { client, body: broken });
    assert.match(failed(up, "request-body").message, /disk gone/);
  });
});

Deno.test("clients keep their own defaults and caches", async () => {
  const a = new HttpClient({ userAgent: "agent-a" });
  const b = new HttpClient({ userAgent: "agent-b" });
  try {
    for (let i = 0; i < 2; i++) {
      assert.equal((await get(`${base}/ua`, { client: a })).body, "agent-a");
      assert.equal((await get(`${base}/ua`, { client: b })).body, "agent-b");
    }
  } finally {
    a.close();
    b.close();
  }
});

Deno.test({
  name: "as fixture stops",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await server.shutdown();
  },
});
