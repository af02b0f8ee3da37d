// Pure pieces of the client: parameter encoding and body preparation.

import assert from "node:assert/strict";
import { formEncode, paramString, prepareBody } from "../client/_encode.ts";
import { ClientError } from "../client/errors.ts";

Deno.test("formEncode() encodes like application/x-www-form-urlencoded", () => {
  assert.equal(formEncode("a b&c=d/é!*"), "a+b%26c%3Dd%2F%C3%A9%21%2A");
});

Deno.test("paramString() writes arrays by style and nested maps with brackets", () => {
  const p = { a: [1, 2], m: { x: "1", y: { z: true } }, skip: null, s: "v" };
  assert.equal(
    paramString(p),
    "a=1&a=2&m%5Bx%5D=1&m%5By%5D%5Bz%5D=true&s=v",
  );
  assert.equal(paramString({ a: [1, 2] }, "array"), "a%5B%5D=1&a%5B%5D=2");
  assert.equal(paramString({ a: [1, 2] }, "indexed"), "a%5B0%5D=1&a%5B1%5D=2");
  assert.equal(paramString({}), "");
});

Deno.test("prepareBody() picks bytes or a stream, and refuses two body options", async () => {
  const s = await prepareBody("hé", undefined, undefined, undefined);
  assert.equal(s.kind, "bytes");
  assert.deepEqual(
    s.kind === "bytes" ? s.bytes : null,
    new TextEncoder().encode("hé"),
  );
  const it = await prepareBody(["a", "b"], undefined, undefined, undefined);
  assert.equal(it.kind, "stream");
  assert.equal(it.kind === "stream" ? it.length : 0, -1);
  const big = await prepareBody(
    new Blob([new Uint8Array(100_000)]),
    undefined,
    undefined,
    undefined,
  );
  assert.equal(big.kind === "stream" ? big.length : 0, 100_000);
  await assert.rejects(
    prepareBody("x", { a: 1 }, undefined, undefined),
    (e) => e instanceof ClientError && e.code === "bad-option",
  );
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    prepareBody(42 as any, undefined, undefined, undefined),
    (e) => e instanceof ClientError && e.code === "unsupported-body",
  );
});

Deno.test("prepareBody() builds multipart with escaped names and a boundary", async () => {
  const b = await prepareBody(undefined, undefined, [
    { name: 'a"b', content: "v" },
    { name: "f", content: new Uint8Array([1]), filename: "x\r\ny.txt" },
  ], undefined);
  assert.equal(b.kind, "bytes");
  if (b.kind !== "bytes") return;
  const boundary = /boundary=(\S+)/.exec(b.contentType!)![1];
  const text = new TextDecoder().decode(b.bytes);
  assert.ok(text.startsWith(`--${boundary}\r\n`));
  assert.ok(text.endsWith(`--${boundary}--\r\n`));
  assert.match(text, /name="a\\"b"/);
  assert.match(text, /filename="x%0D%0Ay.txt"/);
  assert.match(text, /Content-Type: application\/octet-stream/);
});
