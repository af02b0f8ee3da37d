import assert from "node:assert/strict";
import { WsDecoder, WsEncoder } from "../ws/codec.ts";
import {
  acceptKey,
  checkServerHandshake,
  checkUpgrade,
  clientOffer,
  generateKey,
} from "../ws/handshake.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const GOOD: Record<string, string> = {
  host: "server.example.com",
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-key": KEY,
  "sec-websocket-version": "13",
};

async function subtleAccept(key: string): Promise<string> {
  const data = new TextEncoder().encode(
    key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
  );
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", data));
  return btoa(String.fromCharCode(...digest));
}

Deno.test("acceptKey() gives the RFC 6455 example value", () => {
  assert.equal(acceptKey(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
});

Deno.test("acceptKey() matches crypto.subtle SHA-1 across block boundaries", async () => {
  // The GUID is 36 bytes: key lengths 0..140 cover 1, 2 and 3 SHA-1 blocks and
  // every padding case around 55/56/64 bytes.
  for (let n = 0; n <= 140; n++) {
    const key = "k".repeat(n);
    assert.equal(acceptKey(key), await subtleAccept(key), `length ${n}`);
  }
  for (let i = 0; i < 20; i++) {
    const key = generateKey();
    assert.equal(acceptKey(key), await subtleAccept(key));
  }
  assert.equal(acceptKey("é✓"), await subtleAccept("é✓"));
});

Deno.test("checkUpgrade() accepts a valid request", () => {
  const r = checkUpgrade("GET", "HTTP/1.1", GOOD);
  assert.deepEqual(r, {
    ok: true,
    key: KEY,
    accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    protocol: null,
    extensions: null,
    deflate: null,
  });
  // Token lists, any case, optional whitespace.
  const lists = {
    ...GOOD,
    upgrade: "h2c, WebSocket",
    connection: "keep-alive ,  UPGRADE",
    "sec-websocket-version": " 13 ",
    "sec-websocket-key": ` ${KEY} `,
  };
  assert.equal(checkUpgrade("GET", "HTTP/1.1", lists).ok, true);
});

Deno.test("checkUpgrade() rejects bad method, version and upgrade headers with 400", () => {
  const cases: [string, "HTTP/1.1" | "HTTP/1.0", Record<string, string>][] = [
    ["POST", "HTTP/1.1", GOOD],
    ["get", "HTTP/1.1", GOOD],
    ["GET", "HTTP/1.0", GOOD],
    ["GET", "HTTP/1.1", { ...GOOD, upgrade: "h2c" }],
    ["GET", "HTTP/1.1", { ...GOOD, upgrade: "websockets" }],
    ["GET", "HTTP/1.1", { ...GOOD, connection: "keep-alive" }],
    ["GET", "HTTP/1.1", { ...GOOD, connection: "upgrade-insecure" }],
  ];
  const { upgrade: _u, ...noUpgrade } = GOOD;
  const { connection: _c, ...noConnection } = GOOD;
  cases.push(["GET", "HTTP/1.1", noUpgrade], ["GET", "HTTP/1.1", noConnection]);
  for (const [method, version, headers] of cases) {
    const r = checkUpgrade(method, version, headers);
    assert.equal(r.ok, false);
    assert.equal(
      !r.ok && r.status,
      400,
      `${method} ${version} ${JSON.stringify(headers)}`,
    );
    assert.ok(!r.ok && r.reason.length > 0);
  }
});

Deno.test("checkUpgrade() answers other WebSocket versions with 426", () => {
  const { "sec-websocket-version": _v, ...noVersion } = GOOD;
  for (
    const headers of [noVersion, { ...GOOD, "sec-websocket-version": "8" }, {
      ...GOOD,
      "sec-websocket-version": "13,8",
    }]
  ) {
    const r = checkUpgrade("GET", "HTTP/1.1", headers);
    assert.deepEqual(r, {
      ok: false,
      status: 426,
      reason: "Unsupported Sec-WebSocket-Version",
      headers: { "sec-websocket-version": "13" },
    });
  }
});

Deno.test("checkUpgrade() requires a canonical base64 key of 16 bytes", () => {
  const bad = [
    "",
    "dGhlIHNhbXBsZSBub25jZQ=", // 23 chars
    "dGhlIHNhbXBsZSBub25jZQ", // no padding
    "dGhlIHNhbXBsZSBub25jZR==", // non-zero trailing bits
    "dGhlIHNhbXBsZSBub25jZ-==", // base64url alphabet
    "dGhlIHNhbXBsZSBub25jZQ==AAAA", // 19 bytes
    "dGhlIHNhbXBsZSBub25jZWE=", // 17 bytes
    `${KEY},${KEY}`, // repeated header
    "dGhlIHNhbXBs ZSBub25jZQ=",
  ];
  for (const key of bad) {
    const r = checkUpgrade("GET", "HTTP/1.1", {
      ...GOOD,
      "sec-websocket-key": key,
    });
    assert.deepEqual(r, {
      ok: false,
      status: 400,
      reason: "Invalid Sec-WebSocket-Key",
    }, key);
  }
  for (
    const key of [
      "AAAAAAAAAAAAAAAAAAAAAA==",
      "/////////////////////w==",
      "+/+/+/+/+/+/+/+/+/+/+g==",
    ]
  ) {
    assert.equal(
      checkUpgrade("GET", "HTTP/1.1", { ...GOOD, "sec-websocket-key": key }).ok,
      true,
      key,
    );
  }
  const { "sec-websocket-key": _k, ...noKey } = GOOD;
  assert.equal(checkUpgrade("GET", "HTTP/1.1", noKey).ok, false);
});

Deno.test("checkUpgrade() picks the client's first offered protocol the server supports", () => {
  const pick = (
    offer: string | undefined,
    protocols?: string[],
  ): string | null => {
    const headers = offer === undefined
      ? GOOD
      : { ...GOOD, "sec-websocket-protocol": offer };
    const r = checkUpgrade("GET", "HTTP/1.1", headers, { protocols });
    assert.ok(r.ok);
    return r.protocol;
  };
  assert.equal(pick("chat, superchat", ["superchat", "chat"]), "chat");
  assert.equal(pick("superchat ,chat", ["chat", "superchat"]), "superchat");
  assert.equal(pick("mqtt, chat", ["chat"]), "chat");
  assert.equal(pick("mqtt", ["chat"]), null);
  assert.equal(
    pick("Chat", ["chat"]),
    null,
    "protocol names are case-sensitive",
  );
  assert.equal(pick(undefined, ["chat"]), null);
  assert.equal(pick("chat"), null);
  assert.equal(pick("chat", []), null);
});

Deno.test("checkUpgrade() negotiates permessage-deflate unless disabled", () => {
  const headers = {
    ...GOOD,
    "sec-websocket-extensions":
      "foo, permessage-deflate; client_max_window_bits",
  };
  const on = checkUpgrade("GET", "HTTP/1.1", headers);
  assert.ok(on.ok);
  assert.equal(on.extensions, "permessage-deflate");
  assert.equal(on.deflate?.role, "server");
  on.deflate?.close();
  const off = checkUpgrade("GET", "HTTP/1.1", headers, { deflate: false });
  assert.ok(off.ok);
  assert.equal(off.extensions, null);
  assert.equal(off.deflate, null);
  const tuned = checkUpgrade("GET", "HTTP/1.1", headers, {
    deflate: {
      clientMaxWindowBits: 10,
      serverNoContextTakeover: true,
      threshold: 100,
    },
  });
  assert.ok(tuned.ok);
  assert.equal(
    tuned.extensions,
    "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
  );
  assert.equal(tuned.deflate?.shouldCompress(99), false);
  assert.equal(tuned.deflate?.params.clientMaxWindowBits, 10);
  const unknown = checkUpgrade("GET", "HTTP/1.1", {
    ...GOOD,
    "sec-websocket-extensions": "foo; bar",
  });
  assert.ok(unknown.ok);
  assert.equal(unknown.extensions, null);
  const malformed = checkUpgrade("GET", "HTTP/1.1", {
    ...GOOD,
    "sec-websocket-extensions": ";;",
  });
  assert.ok(malformed.ok && malformed.deflate === null);
});

Deno.test("generateKey() makes distinct keys that checkUpgrade() accepts", () => {
  const keys = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const key = generateKey();
    assert.match(key, /^[A-Za-z0-9+/]{22}==$/);
    assert.equal(atob(key).length, 16);
    assert.equal(
      checkUpgrade("GET", "HTTP/1.1", { ...GOOD, "sec-websocket-key": key }).ok,
      true,
    );
    keys.add(key);
  }
  assert.equal(keys.size, 100);
});

Deno.test("clientOffer() offers permessage-deflate or nothing", () => {
  assert.equal(clientOffer(true), "permessage-deflate; client_max_window_bits");
  assert.equal(clientOffer(false), "");
});

Deno.test("checkServerHandshake() validates a 101 response", () => {
  const key = generateKey();
  const ok = {
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-accept": acceptKey(key),
  };
  assert.deepEqual(checkServerHandshake(101, ok, key, [], false), {
    ok: true,
    protocol: null,
    deflate: null,
  });
  const fails: [number, Record<string, string>, string[], boolean][] = [
    [200, ok, [], false],
    [101, { ...ok, upgrade: "h2c" }, [], false],
    [101, { ...ok, connection: "close" }, [], false],
    [
      101,
      { ...ok, "sec-websocket-accept": acceptKey(generateKey()) },
      [],
      false,
    ],
    [101, { ...ok, "sec-websocket-protocol": "chat" }, [], false],
    [101, { ...ok, "sec-websocket-protocol": "chat, superchat" }, [
      "chat",
      "superchat",
    ], false],
    [
      101,
      { ...ok, "sec-websocket-extensions": "permessage-deflate" },
      [],
      false,
    ],
    [
      101,
      { ...ok, "sec-websocket-extensions": "permessage-deflate; x" },
      [],
      true,
    ],
    [101, { ...ok, "sec-websocket-extensions": "foo" }, [], true],
  ];
  for (const [status, headers, protocols, deflate] of fails) {
    const r = checkServerHandshake(status, headers, key, protocols, deflate);
    assert.equal(r.ok, false, JSON.stringify([status, headers]));
    assert.ok(!r.ok && r.reason.length > 0);
  }
  const { "sec-websocket-accept": _a, ...noAccept } = ok;
  assert.equal(checkServerHandshake(101, noAccept, key, [], false).ok, false);
  const chat = checkServerHandshake(
    101,
    { ...ok, "sec-websocket-protocol": "chat" },
    key,
    ["x", "chat"],
    false,
  );
  assert.deepEqual(chat, { ok: true, protocol: "chat", deflate: null });
  const pmd = checkServerHandshake(
    101,
    {
      ...ok,
      "sec-websocket-extensions":
        "permessage-deflate; client_max_window_bits=12",
    },
    key,
    [],
    true,
  );
  assert.ok(pmd.ok);
  assert.equal(pmd.deflate?.role, "client");
  assert.equal(pmd.deflate?.params.clientMaxWindowBits, 12);
  pmd.deflate?.close();
});

Deno.test("client and server handshakes agree end to end", () => {
  const key = generateKey();
  const request = {
    ...GOOD,
    "sec-websocket-key": key,
    "sec-websocket-protocol": "v2, v1",
    "sec-websocket-extensions": clientOffer(true),
  };
  const server = checkUpgrade("GET", "HTTP/1.1", request, {
    protocols: ["v1", "v2"],
  });
  assert.ok(server.ok);
  const response: Record<string, string> = {
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-accept": server.accept,
  };
  if (server.protocol) response["sec-websocket-protocol"] = server.protocol;
  if (server.extensions) {
    response["sec-websocket-extensions"] = server.extensions;
  }
  const client = checkServerHandshake(101, response, key, ["v2", "v1"], true);
  assert.ok(client.ok);
  assert.equal(client.protocol, "v2");
  assert.ok(server.deflate && client.deflate);
  const toServer = new WsEncoder({ role: "client", deflate: client.deflate });
  const atServer = new WsDecoder({ role: "server", deflate: server.deflate });
  const toClient = new WsEncoder({ role: "server", deflate: server.deflate });
  const atClient = new WsDecoder({ role: "client", deflate: client.deflate });
  for (let i = 0; i < 3; i++) {
    const msg = `message ${i} `.repeat(50);
    const up = toServer.text(msg);
    assert.equal(up[0], 0xc1);
    assert.deepEqual(atServer.push(up), [{ type: "text", data: msg }]);
    assert.deepEqual(atClient.push(toClient.text(msg.toUpperCase())), [{
      type: "text",
      data: msg.toUpperCase(),
    }]);
  }
  server.deflate.close();
  client.deflate.close();
});
