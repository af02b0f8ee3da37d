import assert from "node:assert/strict";
import type { RingRequest } from "../mod.ts";
import { bytes, exchange, get, withServer } from "./_helpers.ts";

// Echoes what the server made of the client: address, scheme, forwarded headers.
const whoami = (req: RingRequest) => ({
  body: JSON.stringify({
    remoteAddr: req.remoteAddr,
    scheme: req.scheme,
    xff: req.headers["x-forwarded-for"] ?? null,
    xfport: req.headers["x-forwarded-port"] ?? null,
    xfproto: req.headers["x-forwarded-proto"] ?? null,
  }),
});

function v2(
  family: number,
  addr: number[],
  tlvs: number[] = [],
  cmd = 0x21,
): Uint8Array {
  const sig = [
    0x0d,
    0x0a,
    0x0d,
    0x0a,
    0x00,
    0x0d,
    0x0a,
    0x51,
    0x55,
    0x49,
    0x54,
    0x0a,
  ];
  const body = [...addr, ...tlvs];
  return new Uint8Array([
    ...sig,
    cmd,
    family,
    body.length >> 8,
    body.length & 0xff,
    ...body,
  ]);
}

function withHead(proxy: Uint8Array | string, request = get("/")): Uint8Array {
  const p = typeof proxy === "string" ? bytes(proxy) : proxy;
  const r = bytes(request);
  const out = new Uint8Array(p.length + r.length);
  out.set(p);
  out.set(r, p.length);
  return out;
}

Deno.test("proxyProtocol enable: a v1 TCP4 header sets remoteAddr and x-forwarded-*", async () => {
  await withServer(whoami, { proxyProtocol: "enable" }, async (t) => {
    const res = await exchange(
      t,
      withHead("PROXY TCP4 203.0.113.7 10.0.0.1 51234 443\r\n"),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.text), {
      remoteAddr: "203.0.113.7",
      scheme: "http",
      xff: "203.0.113.7",
      xfport: "443",
      xfproto: "http",
    });
  });
});

Deno.test("proxyProtocol: a v1 TCP6 header and UNKNOWN keep working", async () => {
  await withServer(whoami, { proxyProtocol: "enable" }, async (t) => {
    const six = await exchange(
      t,
      withHead("PROXY TCP6 2001:db8::1 2001:db8::2 40000 80\r\n"),
    );
    assert.equal(JSON.parse(six.text).remoteAddr, "2001:db8::1");
    const unknown = await exchange(t, withHead("PROXY UNKNOWN\r\n"));
    assert.equal(JSON.parse(unknown.text).remoteAddr, "127.0.0.1");
    assert.equal(JSON.parse(unknown.text).xff, null);
  });
});

Deno.test("proxyProtocol: v2 IPv4 and IPv6 headers, TLVs skipped, SSL TLV gives https", async () => {
  await withServer(whoami, { proxyProtocol: "enable" }, async (t) => {
    const four = v2(0x11, [
      198,
      51,
      100,
      9,
      10,
      0,
      0,
      1,
      0xc3,
      0x50,
      0x01,
      0xbb,
    ], [
      0x04,
      0x00,
      0x02,
      0xaa,
      0xbb, // a NOOP TLV
      0x20,
      0x00,
      0x05,
      0x01,
      0x00,
      0x00,
      0x00,
      0x00, // PP2_TYPE_SSL, client over TLS
    ]);
    const a = JSON.parse((await exchange(t, withHead(four))).text);
    assert.deepEqual(a, {
      remoteAddr: "198.51.100.9",
      scheme: "http",
      xff: "198.51.100.9",
      xfport: "443",
      xfproto: "https",
    });
    const src6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 0x05];
    const dst6 = [...new Array(15).fill(0), 1];
    const six = v2(0x21, [...src6, ...dst6, 0x12, 0x34, 0x00, 0x50]);
    const b = JSON.parse((await exchange(t, withHead(six))).text);
    assert.equal(b.remoteAddr, "2001:db8::5");
    assert.equal(b.xfport, "80");
    const local = v2(0x00, [], [], 0x20);
    assert.equal(
      JSON.parse((await exchange(t, withHead(local))).text).remoteAddr,
      "127.0.0.1",
    );
  });
});

Deno.test("proxyProtocol: a header split byte by byte still parses", async () => {
  await withServer(whoami, { proxyProtocol: "enable" }, async (t) => {
    const c = await t.connect();
    await c.writeSlowly(
      withHead("PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\r\n"),
      0,
    );
    const res = await c.readResponse();
    assert.equal(JSON.parse(res.text).remoteAddr, "192.0.2.1");
  });
});

Deno.test("proxyProtocol: malformed or missing headers get 400 and close", async () => {
  await withServer(whoami, { proxyProtocol: "enable" }, async (t) => {
    for (
      const bad of [
        "PROXY TCP4 300.1.1.1 10.0.0.1 1 2\r\n",
        "PROXY TCP4 1.2.3.4 10.0.0.1 99999 2\r\n",
        "PROXY TCP5 1.2.3.4 10.0.0.1 1 2\r\n",
        "PROXY TCP4 1.2.3.4 10.0.0.1 1 2\n",
        "PROXY TCP4 1.2.3.4\r\n",
        "PROXY " + "x".repeat(120) + "\r\n",
      ]
    ) {
      const res = await exchange(t, withHead(bad));
      assert.equal(res.status, 400, bad);
      assert.equal(res.header("connection"), "close");
    }
    const badVersion = v2(0x11, [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2], [], 0x31);
    assert.equal((await exchange(t, withHead(badVersion))).status, 400);
    const overrun = v2(0x11, [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2], [
      0x04,
      0x00,
      0x09,
      1,
    ]);
    assert.equal((await exchange(t, withHead(overrun))).status, 400);
    const missing = await exchange(t, get("/"));
    assert.equal(missing.status, 400);
    assert.match(missing.text, /PROXY protocol header required/);
  });
});

Deno.test("proxyProtocol optional: with and without a header; disable ignores none", async () => {
  await withServer(whoami, { proxyProtocol: "optional" }, async (t) => {
    const withIt = await exchange(
      t,
      withHead("PROXY TCP4 192.0.2.9 192.0.2.2 1000 80\r\n"),
    );
    assert.equal(JSON.parse(withIt.text).remoteAddr, "192.0.2.9");
    const without = await exchange(t, get("/"));
    assert.equal(JSON.parse(without.text).remoteAddr, "127.0.0.1");
    const post = await exchange(
      t,
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert.equal(post.status, 200);
  });
  await withServer(whoami, {}, async (t) => {
    const res = await exchange(
      t,
      withHead("PROXY TCP4 192.0.2.9 192.0.2.2 1000 80\r\n"),
    );
    assert.equal(res.status, 400);
  });
});

Deno.test("a client cannot spoof X-Forwarded-For: ignored by default, replaced under PROXY", async () => {
  const spoof = get(
    "/",
    "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n",
  );
  await withServer(whoami, {}, async (t) => {
    const res = JSON.parse((await exchange(t, spoof)).text);
    assert.equal(res.remoteAddr, "127.0.0.1");
    assert.equal(res.scheme, "http");
  });
  await withServer(whoami, { proxyProtocol: "enable" }, async (t) => {
    const res = JSON.parse(
      (await exchange(
        t,
        withHead("PROXY TCP4 192.0.2.3 192.0.2.2 1000 80\r\n", spoof),
      )).text,
    );
    assert.equal(res.remoteAddr, "192.0.2.3");
    assert.equal(res.xff, "192.0.2.3");
    assert.equal(res.xfproto, "http");
  });
});

Deno.test("trustProxy trusts X-Forwarded-For from the given number of hops", async () => {
  const req = get(
    "/",
    "X-Forwarded-For: 6.6.6.6, 203.0.113.5, 10.0.0.2\r\nX-Forwarded-Proto: https\r\n",
  );
  await withServer(whoami, { trustProxy: true }, async (t) => {
    const res = JSON.parse((await exchange(t, req)).text);
    assert.equal(res.remoteAddr, "10.0.0.2");
    assert.equal(res.scheme, "https");
  });
  await withServer(whoami, { trustProxy: 2 }, async (t) => {
    assert.equal(
      JSON.parse((await exchange(t, req)).text).remoteAddr,
      "203.0.113.5",
    );
  });
  await withServer(whoami, { trustProxy: 9 }, async (t) => {
    assert.equal(
      JSON.parse((await exchange(t, req)).text).remoteAddr,
      "6.6.6.6",
    );
  });
});

Deno.test("queueSize: requests past the pending-handler limit get 503 at once", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  await withServer(
    async () => {
      await gate;
      return { body: "done" };
    },
    { queueSize: 2 },
    async (t) => {
      const clients = await Promise.all([
        t.connect(),
        t.connect(),
        t.connect(),
      ]);
      await clients[0].write(get("/"));
      await clients[1].write(get("/"));
      await new Promise((r) => setTimeout(r, 50));
      await clients[2].write(get("/"));
      const busy = await clients[2].readResponse();
      assert.equal(busy.status, 503);
      assert.equal(busy.header("retry-after"), "1");
      release();
      assert.equal((await clients[0].readResponse()).text, "done");
      assert.equal((await clients[1].readResponse()).text, "done");
      await clients[2].write(get("/"));
      assert.equal((await clients[2].readResponse()).text, "done");
    },
  );
});

Deno.test("maxConnections: a connection past the limit gets 503 and is closed", async () => {
  await withServer(() => ({ body: "ok" }), { maxConnections: 2 }, async (t) => {
    const a = await t.connect();
    const b = await t.connect();
    await a.write(get("/"));
    await b.write(get("/"));
    assert.equal((await a.readResponse()).status, 200);
    assert.equal((await b.readResponse()).status, 200);
    const c = await t.connect();
    await c.write(get("/"));
    const res = await c.readResponse();
    assert.equal(res.status, 503);
    await c.expectClose();
    a.close();
    await new Promise((r) => setTimeout(r, 50));
    const d = await t.connect();
    await d.write(get("/"));
    assert.equal((await d.readResponse()).status, 200);
  });
});
