// HTTPS against nginx (a CA and certificates made at test time, SNI picking
// the server block) and proxies through a Python forward proxy (absolute-form
// for http, CONNECT tunnels for https).

import assert from "node:assert/strict";
import {
  ClientError,
  type ClientResponse,
  get,
  HttpClient,
  post,
} from "../client/mod.ts";
import { type NginxTls, startNginxTls } from "./fixtures/nginx_tls.ts";
import { type Peer, startPeer } from "./fixtures/peers.ts";
import { needs, peerPath } from "./_peers.ts";

const tls = needs("nginx", "openssl");
const proxies = needs("aiohttp");
const tlsAndProxies = needs("nginx", "openssl", "aiohttp");
const traced = needs("strace", "nginx", "openssl");

// The peers start at load time, each only when its programs are there.
const NO_NGINX: NginxTls = {
  port: 0,
  caPem: "",
  stop: () => Promise.resolve(),
};
const NO_PEER: Peer = { ports: [0], stop: () => Promise.resolve() };
const nginx = tls.missing.length === 0 ? await startNginxTls() : NO_NGINX;
const hasPython = proxies.missing.length === 0;
const origin = hasPython ? await startPeer("aiohttp_server.py") : NO_PEER;
const proxy = hasPython ? await startPeer("proxy.py") : NO_PEER;
const authProxy = hasPython
  ? await startPeer("proxy.py", ["user:secret"])
  : NO_PEER;
const ca = [nginx.caPem];
const HTTP = `http://127.0.0.1:${origin.ports[0]}`;
const PROXY = `http://127.0.0.1:${proxy.ports[0]}`;
const AUTH_PROXY = `http://127.0.0.1:${authProxy.ports[0]}`;

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

function body(res: ClientResponse): unknown {
  if (res.error) throw res.error;
  return res.body;
}

function code(res: ClientResponse): string {
  assert.ok(
    res.error instanceof ClientError,
    `expected an error, got ${res.status}`,
  );
  return res.error.code;
}

tls.test("https: SNI selects nginx's server block; the connection is reused", async () => {
  await withClient(async (client) => {
    const url = `https://localhost:${nginx.port}/`;
    assert.equal(body(await get(url, { client, caCerts: ca })), "localhost");
    assert.equal(body(await get(url, { client, caCerts: ca })), "localhost");
    assert.equal(client.idleConnections, 1);
  });
});

tls.test("https: an unknown CA is a TLS error", async () => {
  await withClient(async (client) => {
    const res = await get(`https://localhost:${nginx.port}/`, { client });
    assert.equal(code(res), "tls");
  });
});

tls.test("https: the host name is verified; insecure skips only that check", async () => {
  await withClient(async (client) => {
    // An IP sends no SNI: nginx answers with the a.test certificate.
    const url = `https://127.0.0.1:${nginx.port}/`;
    const bad = await get(url, { client, caCerts: ca });
    assert.equal(code(bad), "tls");
    assert.equal(
      body(await get(url, { client, caCerts: ca, insecure: true })),
      "a.test",
    );
    const noCa = await get(url, { client, insecure: true });
    assert.equal(code(noCa), "tls");
    assert.match(noCa.error!.message, /unsafely-ignore-certificate-errors/);
  });
});

proxies.test("proxy: http requests go out in absolute form", async () => {
  await withClient(async (client) => {
    const res = await post(`${HTTP}/echo?x=1`, {
      client,
      proxyUrl: PROXY,
      body: "via",
    });
    const e = JSON.parse(body(res) as string);
    assert.equal(e.headers["x-proxy-target"], `${HTTP}/echo?x=1`);
    assert.equal(e.body, "via");
    assert.equal(e.method, "POST");
  });
});

tlsAndProxies.test("proxy: https tunnels through CONNECT, with SNI for the target", async () => {
  await withClient(async (client) => {
    // The proxy resolves *.test to 127.0.0.1: a.test is not the default
    // block for... it is, so check both names through the tunnel.
    const a = await get(`https://a.test:${nginx.port}/`, {
      client,
      proxyUrl: PROXY,
      caCerts: ca,
    });
    assert.equal(body(a), "a.test");
    const l = await get(`https://localhost:${nginx.port}/`, {
      client,
      proxyUrl: PROXY,
      caCerts: ca,
    });
    assert.equal(body(l), "localhost");
    // Tunnelled connections are pooled per target.
    const again = await get(`https://localhost:${nginx.port}/`, {
      client,
      proxyUrl: PROXY,
      caCerts: ca,
    });
    assert.equal(body(again), "localhost");
    assert.equal(client.idleConnections, 2);
  });
});

tlsAndProxies.test("proxy: credentials in proxyUrl; a refused CONNECT is a proxy error", async () => {
  await withClient(async (client) => {
    const denied = await get(`https://localhost:${nginx.port}/`, {
      client,
      proxyUrl: AUTH_PROXY,
      caCerts: ca,
    });
    assert.equal(code(denied), "proxy");
    assert.match(denied.error!.message, /407/);
    const ok = await get(`https://localhost:${nginx.port}/`, {
      client,
      proxyUrl: `http://user:secret@127.0.0.1:${authProxy.ports[0]}`,
      caCerts: ca,
    });
    assert.equal(body(ok), "localhost");
    const plain = await get(`${HTTP}/echo`, {
      client,
      proxyUrl: `http://user:secret@127.0.0.1:${authProxy.ports[0]}`,
    });
    const e = JSON.parse(body(plain) as string);
    assert.equal(e.headers["proxy-authorization"], undefined);
    assert.equal(e.headers["x-proxy-target"], `${HTTP}/echo`);
  });
});

Deno.test("connect timeout: a TLS handshake that never completes", async () => {
  // A listener that accepts but never speaks TLS.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const loop = (async () => {
    for await (const c of l) accepted.push(c);
  })();
  await withClient(async (client) => {
    const t0 = Date.now();
    const res = await get(`https://localhost:${l.addr.port}/`, {
      client,
      connectTimeout: 200,
    });
    assert.equal(code(res), "connect-timeout");
    assert.equal(res.error!.message, "connect timeout: 200 ms");
    assert.ok(Date.now() - t0 < 1500);
  });
  l.close();
  await loop;
  for (const c of accepted) c.close();
});

// With Nagle's algorithm on, the request written right after the TLS
// handshake waits for the server's delayed ACK (40 ms per new connection on
// Linux). The socket option is read from the system calls (strace), which
// says it deterministically where a timing would not.
Deno.test({
  name: "https: the client's TCP connections have Nagle's algorithm off",
  ...traced,
  fn: async () => {
    const trace = await Deno.makeTempFile({ prefix: "httpkit_strace_" });
    const mod = new URL("../client/mod.ts", import.meta.url).href;
    const script = `
      import { get } from ${JSON.stringify(mod)};
      const ca = [${JSON.stringify(nginx.caPem)}];
      for (const path of ["/a", "/b"]) {
        const r = await get("https://localhost:${nginx.port}" + path,
          { caCerts: ca, keepalive: -1 });
        console.log(r.error ? r.error.message : r.status);
      }`;
    try {
      const out = await new Deno.Command(peerPath("strace"), {
        args: ["-f", "-qq", "-e", "trace=setsockopt", "-o", trace]
          .concat([Deno.execPath(), "eval", script]),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const printed = new TextDecoder().decode(out.stdout).trim();
      assert.equal(printed, "200\n200", new TextDecoder().decode(out.stderr));
      const calls = (await Deno.readTextFile(trace)).split("\n")
        .filter((l) => /TCP_NODELAY, \[1\]/.test(l));
      assert.equal(calls.length, 2, "one TCP_NODELAY per connection");
    } finally {
      await Deno.remove(trace);
    }
  },
});
