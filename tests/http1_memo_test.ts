// HeadMemo (http1/memo.ts): the last head parsed, reused only for the very
// same bytes, handed out as copies, with its end relative to where the new
// head starts.

import assert from "node:assert/strict";
import { parseRequestHead, type RequestHead } from "../http1/head.ts";
import { HeadMemo } from "../http1/memo.ts";
import { bytes } from "./_helpers.ts";

const LIMITS = { maxLine: 8192, maxHeaderBytes: 64 * 1024 };

const HEAD = "GET /items?page=2 HTTP/1.1\r\nHost: example.com\r\n" +
  "Accept: */*\r\nX-Id: 1234\r\n\r\n";

/** A memo that holds `text` parsed at offset 0, and the head it parsed. */
function memoOf(text: string): [HeadMemo<RequestHead>, RequestHead] {
  const b = bytes(text);
  const head = parseRequestHead(b, 0, b.length, LIMITS);
  const memo = new HeadMemo<RequestHead>();
  memo.set(b, 0, b.length, head);
  return [memo, head];
}

/** `text` with its byte at `i` replaced by `c`. */
function change(text: string, i: number, c: string): string {
  return text.slice(0, i) + c + text.slice(i + 1);
}

Deno.test("HeadMemo.get() misses before anything is kept", () => {
  const memo = new HeadMemo<RequestHead>();
  const b = bytes(HEAD);
  assert.equal(memo.get(b, 0, b.length), null);
});

Deno.test("HeadMemo.get() hits for byte-identical heads", () => {
  const [memo, head] = memoOf(HEAD);
  const b = bytes(HEAD);
  const hit = memo.get(b, 0, b.length);
  assert.ok(hit !== null);
  assert.deepEqual(hit, head);
});

Deno.test("HeadMemo.get() misses for a head of the same length one byte apart: start, middle, end", () => {
  const [memo] = memoOf(HEAD);
  const id = HEAD.indexOf("1234");
  const cases: [string, string][] = [
    ["first byte", change(HEAD, 0, "P")], // "PET": same length
    ["path", change(HEAD, 5, "J")],
    ["middle", change(HEAD, HEAD.length >> 1, "Z")],
    ["header value", change(HEAD, id + 3, "5")],
    ["last value byte", change(HEAD, HEAD.length - 5, "9")],
    ["blank line", change(HEAD, HEAD.length - 2, "\n")],
    ["last byte", change(HEAD, HEAD.length - 1, "\r")],
    ["case of a name", change(HEAD, HEAD.indexOf("Accept"), "a")],
  ];
  for (const [what, text] of cases) {
    assert.equal(text.length, HEAD.length, what);
    assert.notEqual(text, HEAD, what);
    const b = bytes(text);
    assert.equal(memo.get(b, 0, b.length), null, what);
  }
  // and still hits for the kept bytes afterwards
  const b = bytes(HEAD);
  assert.ok(memo.get(b, 0, b.length) !== null);
});

Deno.test("HeadMemo.get() misses for heads of another length", () => {
  const [memo] = memoOf(HEAD);
  const longer = HEAD.replace("1234", "12345");
  const shorter = HEAD.replace("1234", "123");
  for (const text of [longer, shorter]) {
    const b = bytes(text);
    assert.equal(memo.get(b, 0, b.length), null, JSON.stringify(text));
  }
  // fewer bytes than the kept head has arrived: not a hit yet
  const partial = bytes(HEAD.slice(0, -1));
  assert.equal(memo.get(partial, 0, partial.length), null);
});

Deno.test("HeadMemo.get() hits when the same head is followed by more bytes", () => {
  const [memo] = memoOf(HEAD);
  const b = bytes(HEAD + "body bytes" + HEAD);
  const hit = memo.get(b, 0, b.length);
  assert.ok(hit !== null);
  assert.equal(hit.headEnd, HEAD.length);
});

Deno.test("HeadMemo.get() gives a headEnd relative to the start given", () => {
  const [memo] = memoOf(HEAD);
  for (const offset of [0, 1, 7, 100, 1000]) {
    const b = bytes("x".repeat(offset) + HEAD + "tail");
    const hit = memo.get(b, offset, b.length);
    assert.ok(hit !== null, `offset ${offset}`);
    assert.equal(hit.headEnd, offset + HEAD.length, `offset ${offset}`);
    // the bytes up to headEnd are the head
    assert.equal(
      new TextDecoder().decode(b.subarray(offset, hit.headEnd)),
      HEAD,
    );
  }
  // a head kept at an offset is found at another
  const memo2 = new HeadMemo<RequestHead>();
  const at = bytes("....." + HEAD);
  memo2.set(at, 5, at.length, parseRequestHead(at, 5, at.length, LIMITS));
  const b = bytes(HEAD);
  assert.equal(memo2.get(b, 0, b.length)?.headEnd, HEAD.length);
  // the start given is where the comparison begins
  const shifted = bytes("GET " + HEAD);
  assert.equal(memo2.get(shifted, 0, shifted.length), null);
  assert.equal(memo2.get(shifted, 4, shifted.length)?.headEnd, 4 + HEAD.length);
});

Deno.test("HeadMemo.get() hands out copies: changing a returned head's headers changes no later hit", () => {
  const [memo, head] = memoOf(HEAD);
  const b = bytes(HEAD);
  const first = memo.get(b, 0, b.length)!;
  first.headers["x-id"] = "changed";
  first.headers["x-added"] = "yes";
  delete first.headers["accept"];
  first.method = "POST";
  const second = memo.get(b, 0, b.length)!;
  assert.notEqual(second, first);
  assert.notEqual(second.headers, first.headers);
  assert.equal(second.headers["x-id"], "1234");
  assert.equal(second.headers["x-added"], undefined);
  assert.equal(second.headers["accept"], "*/*");
  assert.equal(second.method, "GET");
  // nor does changing the head that was given to set()
  head.headers["x-id"] = "given";
  assert.equal(memo.get(b, 0, b.length)!.headers["x-id"], "1234");
});

Deno.test("HeadMemo.set() copies the bytes: the buffer they came from may be reused", () => {
  const b = bytes(HEAD);
  const head = parseRequestHead(b, 0, b.length, LIMITS);
  const memo = new HeadMemo<RequestHead>();
  memo.set(b, 0, b.length, head);
  b.fill(0x41); // the connection reads something else into its buffer
  assert.equal(memo.get(b, 0, b.length), null);
  const again = bytes(HEAD);
  assert.ok(memo.get(again, 0, again.length) !== null);
});

Deno.test("HeadMemo.set() keeps heads up to 1 KiB and no larger", () => {
  const base = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: \r\n\r\n";
  const pad = (n: number) => base.replace("X-Pad: ", "X-Pad: " + "p".repeat(n));
  const at1024 = pad(1024 - base.length);
  const at1025 = pad(1025 - base.length);
  assert.equal(at1024.length, 1024);
  assert.equal(at1025.length, 1025);
  const [memo] = memoOf(at1024);
  const b1024 = bytes(at1024);
  assert.ok(memo.get(b1024, 0, b1024.length) !== null, "1024 bytes are kept");

  const big = new HeadMemo<RequestHead>();
  const b1025 = bytes(at1025);
  big.set(b1025, 0, b1025.length, parseRequestHead(b1025, 0, 1025, LIMITS));
  assert.equal(big.get(b1025, 0, b1025.length), null, "1025 bytes are not");

  // a large head leaves the kept one as it was
  const [memo2] = memoOf(HEAD);
  memo2.set(b1025, 0, b1025.length, parseRequestHead(b1025, 0, 1025, LIMITS));
  assert.equal(memo2.get(b1025, 0, b1025.length), null);
  const small = bytes(HEAD);
  assert.ok(memo2.get(small, 0, small.length) !== null);
});

Deno.test("HeadMemo.set() replaces the kept head with the newest", () => {
  const other = HEAD.replace("/items", "/others");
  const [memo] = memoOf(HEAD);
  const b = bytes(other);
  memo.set(b, 0, b.length, parseRequestHead(b, 0, b.length, LIMITS));
  const old = bytes(HEAD);
  assert.equal(memo.get(old, 0, old.length), null);
  assert.equal(memo.get(b, 0, b.length)?.path, "/others");
});
