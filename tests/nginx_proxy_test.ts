// nginx in front of the server, as in production: PROXY protocol from the
// stream module, X-Forwarded-For from the http module with trustProxy,
// upstream keep-alive, and WebSocket upgrades through the proxy. nginx talks
// to the server from 127.0.0.2 (proxy_bind) while clients connect from
// 127.0.0.1, so the address the handler sees tells which one it came from.

import assert from "node:assert/strict";
import {
  asChannel,
  type CloseStatus,
  type RingRequest,
  runServer,
  type Server,
  type ServerOptions,
  websocket,
} from "../mod.ts";
import { get, RawClient } from "./_helpers.ts";
import {
  CountingRelay,
  freePort,
  type Nginx,
  startNginx,
} from "./fixtures/nginx_proxy.ts";
import { needs } from "./_peers.ts";

const nginx = needs("nginx");
const nginxStream = needs("nginx", "nginx-stream");

/** The address nginx connects to the server from. */
const PROXY_ADDR = "127.0.0.2";

interface Who {
  remoteAddr: string;
  scheme: string;
  uri: string;
  xff: string | null;
  xfport: string | null;
  xfproto: string | null;
  body: string;
}

// Echoes what the server made of the request; WebSocket requests echo
// messages back and close on "bye".
function handler(closes: { status: CloseStatus; code?: number }[]) {
  return (req: RingRequest) => {
    if (req.websocket) {
      return asChannel(req, {
        onReceive(ch, m) {
          if (m === "bye") ch.close(4001, "bye");
          else ch.send(m);
        },
        onClose(_ch, status, code) {
          closes.push({ status, code });
        },
      });
    }
    const who: Who = {
      remoteAddr: req.remoteAddr,
      scheme: req.scheme,
      uri: req.uri,
      xff: req.headers["x-forwarded-for"] ?? null,
      xfport: req.headers["x-forwarded-port"] ?? null,
      xfproto: req.headers["x-forwarded-proto"] ?? null,
      body: req.body === null ? "" : new TextDecoder().decode(req.body),
    };
    return {
      headers: { "content-type": "application/json" },
      body: JSON.stringify(who),
    };
  };
}

interface Setup {
  server: Server;
  nginx: Nginx;
  closes: { status: CloseStatus; code?: number }[];
  relay: CountingRelay | null;
}

/** Starts our server and nginx, runs `fn`, stops both (nginx first). */
async function withNginx(
  options: ServerOptions,
  config: (upstream: number) => {
    stream?: string;
    http?: string;
    ports: number[];
  },
  fn: (s: Setup) => Promise<void>,
  relay = false,
): Promise<void> {
  const closes: { status: CloseStatus; code?: number }[] = [];
  const warnings: string[] = [];
  const server = runServer(handler(closes), {
    ...options,
    ip: "127.0.0.1",
    port: 0,
    warnLogger: (m) => warnings.push(m),
  });
  const r = relay ? new CountingRelay(server.port) : null;
  let nginx: Nginx | null = null;
  try {
    nginx = await startNginx(config(r?.port ?? server.port));
    await fn({ server, nginx, closes, relay: r });
  } catch (err) {
    const log = nginx?.errorLog() ?? "";
    throw new Error(
      `${err instanceof Error ? err.stack : err}\nserver warnings: ${
        JSON.stringify(warnings)
      }\nnginx log tail:\n${log.split("\n").slice(-15).join("\n")}`,
    );
  } finally {
    await nginx?.stop();
    await r?.close();
    await server.stop();
  }
}

/** nginx stream config: a TCP proxy that sends a PROXY header upstream. */
const STREAM_PROXY = (front: number, up: number) =>
  `  server {
    listen 127.0.0.1:${front};
    proxy_pass 127.0.0.1:${up};
    proxy_bind ${PROXY_ADDR};
    proxy_protocol on;
  }`;

async function ask(c: RawClient, request: string): Promise<Who> {
  await c.write(request);
  const r = await c.readResponse();
  assert.equal(r.status, 200, r.head + r.text);
  return JSON.parse(r.text);
}

Deno.test({
  name:
    "nginx stream proxy_protocol: remoteAddr and x-forwarded-* are the client's",
  ...nginxStream,
  fn: async () => {
    const front = freePort();
    await withNginx(
      { proxyProtocol: "enable" },
      (up) => ({
        stream: STREAM_PROXY(front, up),
        ports: [front],
      }),
      async () => {
        for (let k = 0; k < 2; k++) {
          const c = await RawClient.connect(front);
          try {
            // two requests on the kept-alive connection, one with spoofed
            // forwarding headers that the PROXY header must override
            const a = await ask(c, get("/a"));
            const b = await ask(
              c,
              get(
                "/b",
                "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Port: 1\r\n" +
                  "X-Forwarded-Proto: https\r\n",
              ),
            );
            for (const who of [a, b]) {
              assert.equal(who.remoteAddr, "127.0.0.1");
              assert.equal(who.xff, "127.0.0.1");
              // the port the client connected to on the balancer
              assert.equal(who.xfport, String(front));
              assert.equal(who.xfproto, "http");
              assert.equal(who.scheme, "http");
            }
            assert.deepEqual([a.uri, b.uri], ["/a", "/b"]);
          } finally {
            c.close();
          }
        }
      },
    );
  },
});

Deno.test({
  name:
    "nginx stream proxy_protocol: a WebSocket upgrade after the PROXY header",
  ...nginxStream,
  fn: async () => {
    const front = freePort();
    await withNginx(
      { proxyProtocol: "enable" },
      (up) => ({
        stream: STREAM_PROXY(front, up),
        ports: [front],
      }),
      async () => {
        const got: (string | Uint8Array)[] = [];
        const next = () => Promise.withResolvers<void>();
        let wait = next();
        const ch = await websocket(`ws://127.0.0.1:${front}/ws`, {
          onReceive(_ch, m) {
            got.push(m);
            wait.resolve();
          },
        });
        ch.send("through the stream proxy");
        await wait.promise;
        wait = next();
        assert.deepEqual(got, ["through the stream proxy"]);
        ch.close();
        await ch.closed;
      },
    );
  },
});

const HTTP_PROXY = (front: number, up: number, extra = "") => `
  upstream ours {
    server 127.0.0.1:${up};
    keepalive 8;
  }
  server {
    listen 127.0.0.1:${front};
    location / {
      proxy_pass http://ours;
      proxy_bind ${PROXY_ADDR};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
    location /ws {
      proxy_pass http://ours;
      proxy_bind ${PROXY_ADDR};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host $host;
      proxy_read_timeout 30s;
    }
    ${extra}
  }`;

Deno.test({
  name:
    "nginx http proxy + trustProxy: remoteAddr is the client, a fake X-Forwarded-For loses",
  ...nginx,
  fn: async () => {
    const front = freePort();
    await withNginx(
      { trustProxy: true },
      (up) => ({ http: HTTP_PROXY(front, up), ports: [front] }),
      async () => {
        const c = await RawClient.connect(front);
        try {
          const plain = await ask(c, get("/plain"));
          assert.equal(plain.remoteAddr, "127.0.0.1");
          assert.equal(plain.xff, "127.0.0.1");
          assert.equal(plain.scheme, "http");
          const fake = await ask(
            c,
            get(
              "/fake",
              "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n",
            ),
          );
          assert.equal(fake.remoteAddr, "127.0.0.1");
          assert.equal(fake.xff, "6.6.6.6, 127.0.0.1");
          // nginx overwrote X-Forwarded-Proto with its own scheme
          assert.equal(fake.xfproto, "http");
          assert.equal(fake.scheme, "http");
          const many = await ask(
            c,
            get("/many", "X-Forwarded-For: 1.1.1.1, 2.2.2.2\r\n"),
          );
          assert.equal(many.remoteAddr, "127.0.0.1");
          // a body goes through too
          const body = "x".repeat(10_000);
          await c.write(
            `POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}` +
              `\r\n\r\n${body}`,
          );
          const r = await c.readResponse();
          assert.equal(JSON.parse(r.text).body, body);
        } finally {
          c.close();
        }
      },
    );
  },
});

Deno.test({
  name:
    "nginx http proxy without trustProxy: remoteAddr is nginx's own address",
  ...nginx,
  fn: async () => {
    const front = freePort();
    await withNginx(
      {},
      (up) => ({ http: HTTP_PROXY(front, up), ports: [front] }),
      async () => {
        const c = await RawClient.connect(front);
        try {
          const who = await ask(c, get("/", "X-Forwarded-For: 6.6.6.6\r\n"));
          assert.equal(who.remoteAddr, PROXY_ADDR);
        } finally {
          c.close();
        }
      },
    );
  },
});

Deno.test({
  name:
    "nginx upstream keepalive: 50 requests reuse a few upstream connections",
  ...nginx,
  fn: async () => {
    const front = freePort();
    await withNginx(
      { trustProxy: true },
      (up) => ({ http: HTTP_PROXY(front, up), ports: [front] }),
      async ({ relay }) => {
        let answered = 0;
        // 5 clients x 10 requests; each client on a fresh connection every
        // other request, so only nginx's upstream pool keeps connections
        await Promise.all(
          Array.from({ length: 5 }, async (_, k) => {
            let c: RawClient | null = null;
            try {
              for (let i = 0; i < 10; i++) {
                if (c === null || i % 2 === 0) {
                  c?.close();
                  c = await RawClient.connect(front);
                }
                const uri = `/k${k}/i${i}`;
                const who = await ask(c, get(uri));
                assert.equal(who.uri, uri);
                assert.equal(who.remoteAddr, "127.0.0.1");
                answered++;
              }
            } finally {
              c?.close();
            }
          }),
        );
        assert.equal(answered, 50);
        assert.ok(relay !== null);
        assert.ok(
          relay.accepted >= 1 && relay.accepted <= 8,
          `nginx opened ${relay.accepted} upstream connections for 50 requests`,
        );
        // they stay open: our server keeps them alive between requests
        assert.ok(relay.open >= 1, "upstream connections were closed");
      },
      true,
    );
  },
});

Deno.test({
  name: "nginx WebSocket proxying: echo, big and many messages, both closes",
  ...nginx,
  fn: async () => {
    const front = freePort();
    await withNginx(
      {},
      (up) => ({ http: HTTP_PROXY(front, up), ports: [front] }),
      async ({ closes }) => {
        const got: (string | Uint8Array)[] = [];
        let want = 0;
        let wake = Promise.withResolvers<void>();
        const closed = Promise.withResolvers<
          { status: CloseStatus; code?: number }
        >();
        const handlers = {
          onReceive(_ch: unknown, m: string | Uint8Array) {
            got.push(m);
            if (got.length >= want) wake.resolve();
          },
          onClose(_ch: unknown, status: CloseStatus, code?: number) {
            closed.resolve({ status, code });
          },
        };
        const until = async (n: number) => {
          want = n;
          if (got.length < n) await wake.promise;
          wake = Promise.withResolvers<void>();
        };
        const ch = await websocket(`ws://127.0.0.1:${front}/ws`, handlers);
        ch.send("hello through nginx");
        await until(1);
        assert.equal(got[0], "hello through nginx");
        const big = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
        ch.send(big);
        await until(2);
        assert.deepEqual(got[1], big);
        for (let i = 0; i < 100; i++) ch.send(`m${i} ✓`);
        await until(102);
        assert.deepEqual(
          got.slice(2),
          Array.from({ length: 100 }, (_, i) => `m${i} ✓`),
        );
        // the server closes on "bye"
        ch.send("bye");
        assert.deepEqual(await closed.promise, {
          status: "unknown",
          code: 4001,
        });
        await ch.closed;

        // a client-initiated close reaches the server through nginx
        const c2closed = Promise.withResolvers<void>();
        const ch2 = await websocket(`ws://127.0.0.1:${front}/ws`, {
          onClose: () => c2closed.resolve(),
        });
        ch2.send("x");
        ch2.close(1000);
        await c2closed.promise;
        await ch2.closed;
        const deadline = performance.now() + 2000;
        while (closes.length < 2 && performance.now() < deadline) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(closes.length, 2, JSON.stringify(closes));
        assert.deepEqual(closes[1], { status: "normal", code: 1000 });
      },
    );
  },
});
