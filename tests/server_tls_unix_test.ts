import assert from "node:assert/strict";
import { asChannel, get, runServer, websocket } from "../mod.ts";
import { makeCerts, type TestCerts } from "./fixtures/certs.ts";
import { runCommand } from "./_helpers.ts";
import { needs, peerPath } from "./_peers.ts";

const openssl = needs("openssl");
const curlAndOpenssl = needs("curl", "openssl");
const hasCurl = needs("curl");

// Made at load time when openssl is there to make them.
const NO_CERTS: TestCerts = { ca: "", cert: "", key: "", dir: "" };
const certs = openssl.missing.length === 0 ? await makeCerts() : NO_CERTS;

curlAndOpenssl.test("runServer() with cert/key serves https to curl and to our client, scheme https", async () => {
  const server = runServer((req) => ({ body: `${req.scheme} ${req.uri}` }), {
    ip: "127.0.0.1",
    port: 0,
    cert: certs.cert,
    key: certs.key,
  });
  try {
    const url = `https://localhost:${server.port}/secure`;
    const out = await runCommand(peerPath("curl"), [
      "-s",
      "--cacert",
      `${certs.dir}/ca.pem`,
      "-w",
      " %{http_version}",
      url,
      url,
    ]);
    assert.equal(out.stdout, "https /secure 1.1https /secure 1.1");
    const res = await get(url, { caCerts: [certs.ca], as: "text" });
    assert.equal(res.error, undefined);
    if (!res.error) assert.equal(res.body, "https /secure");
    const untrusted = await get(url, { timeout: 2000 });
    assert.ok(untrusted.error, "a certificate from an unknown CA must fail");
  } finally {
    await server.stop();
  }
});

openssl.test("runServer() TLS negotiates ALPN http/1.1 and serves wss:", async () => {
  const server = runServer(
    (req) => asChannel(req, { onReceive: (ch, m) => ch.send(m) }),
    {
      ip: "127.0.0.1",
      port: 0,
      cert: certs.cert,
      key: certs.key,
    },
  );
  try {
    const conn = await Deno.connectTls({
      hostname: "localhost",
      port: server.port,
      caCerts: [certs.ca],
      alpnProtocols: ["h2", "http/1.1"],
    });
    const hs = await conn.handshake();
    assert.equal(hs.alpnProtocol, "http/1.1");
    conn.close();
    const got = Promise.withResolvers<string | Uint8Array>();
    const ch = await websocket(`wss://localhost:${server.port}/`, {
      onReceive: (_c, m) => got.resolve(m),
    }, { caCerts: [certs.ca] });
    ch.send("over tls");
    assert.equal(await got.promise, "over tls");
    ch.close();
    await ch.closed;
  } finally {
    await server.stop();
  }
});

hasCurl.test("runServer() on a Unix socket serves curl --unix-socket and our client", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/httpkit.sock`;
  const server = runServer(
    (req) => ({ body: `unix ${req.uri} ${req.serverName}` }),
    { unixSocket: path },
  );
  try {
    const out = await runCommand(peerPath("curl"), [
      "-s",
      "--unix-socket",
      path,
      "http://app.local/x",
    ]);
    assert.equal(out.stdout, "unix /x app.local");
    const res = await get("http://app.local/y", {
      unixSocket: path,
      as: "text",
    });
    assert.equal(res.error, undefined);
    if (!res.error) assert.equal(res.body, "unix /y app.local");
    const again = await get("http://app.local/z", {
      unixSocket: path,
      as: "text",
    });
    if (!again.error) assert.equal(again.body, "unix /z app.local");
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
