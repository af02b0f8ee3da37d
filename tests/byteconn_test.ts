// ByteConn (_byteconn.ts), the socket helper under every connection, over a
// real loopback socket pair: the read buffer (compaction, growth, shrinking),
// the head search resuming across reads, the WebSocket chunk reader and its
// keep(), and write-all on partial writes;
// and the two ways a read reaches the socket (Deno's read op, conn.read()).

import assert from "node:assert/strict";
import { _useCoreReads, ByteConn, rawReader } from "../_byteconn.ts";
import { request, runServer } from "../mod.ts";
import { bytes, latin1, sleep } from "./_helpers.ts";

/** A connected loopback pair: `local` for the ByteConn, `peer` to drive it. */
interface Pair {
  local: Deno.Conn;
  peer: Deno.TcpConn;
  close(): void;
}

async function pair(): Promise<Pair> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const connecting = Deno.connect({ hostname: "127.0.0.1", port });
  const local = await listener.accept();
  const peer = await connecting;
  listener.close();
  peer.setNoDelay(true);
  return {
    local,
    peer,
    close() {
      for (const c of [local, peer]) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
    },
  };
}

/** Runs `fn` with a ByteConn of `small` bytes on one end of a fresh pair. */
async function withConn(
  small: number,
  fn: (bc: ByteConn, peer: Deno.TcpConn) => Promise<void>,
): Promise<void> {
  const p = await pair();
  try {
    await fn(new ByteConn(p.local, small), p.peer);
  } finally {
    p.close();
  }
}

async function send(peer: Deno.Conn, data: string | Uint8Array): Promise<void> {
  const b = typeof data === "string" ? bytes(data) : data;
  let off = 0;
  while (off < b.length) off += await peer.write(b.subarray(off));
}

/** Reads with fill() until the buffer holds `n` unconsumed bytes. */
async function fillTo(bc: ByteConn, n: number): Promise<void> {
  while (bc.end - bc.start < n) {
    if ((await bc.fill()) === null) throw new Error("EOF in fillTo");
  }
}

/** The unconsumed bytes as latin1 text. */
function pending(bc: ByteConn): string {
  return latin1(bc.buf.subarray(bc.start, bc.end));
}

// ---------------------------------------------------------------------------
// room(), shrink()

Deno.test("room() starts an empty buffer over and returns all of it", async () => {
  await withConn(64, async (bc, peer) => {
    assert.equal(bc.room(), bc.buf);
    await send(peer, "abcdef");
    await fillTo(bc, 6);
    bc.start = 6; // consumed
    const r = bc.room();
    assert.equal(r, bc.buf, "an empty buffer is reused from its start");
    assert.equal(bc.start, 0);
    assert.equal(bc.end, 0);
  });
});

Deno.test("room() returns the space after end when min bytes fit", async () => {
  await withConn(64, async (bc, peer) => {
    await send(peer, "abcdef");
    await fillTo(bc, 6);
    bc.start = 2;
    const before = bc.buf;
    const r = bc.room(10);
    assert.equal(bc.buf, before);
    assert.equal(r.length, 64 - 6);
    assert.equal(r.byteOffset, 6);
    assert.equal(bc.start, 2, "no compaction while there is room");
    assert.equal(pending(bc), "cdef");
  });
});

Deno.test("room() compacts a partly consumed buffer in place before growing it", async () => {
  await withConn(32, async (bc, peer) => {
    const data = "0123456789abcdefghijklmnopqrstuv"; // 32 bytes: full
    await send(peer, data);
    await fillTo(bc, 32);
    bc.start = 20;
    const before = bc.buf;
    const r = bc.room(8);
    assert.equal(bc.buf, before, "compacted, not grown");
    assert.equal(bc.start, 0);
    assert.equal(bc.end, 12);
    assert.equal(pending(bc), "klmnopqrstuv");
    assert.equal(r.length, 20);
    // the next read lands right after the kept bytes
    await send(peer, "XYZ");
    await fillTo(bc, 15);
    assert.equal(pending(bc), "klmnopqrstuvXYZ");
  });
});

Deno.test("room() doubles a full buffer until min bytes fit, keeping its bytes", async () => {
  await withConn(16, async (bc, peer) => {
    await send(peer, "0123456789abcdef");
    await fillTo(bc, 16);
    bc.start = 4;
    const r = bc.room(40); // 12 live + 40 needs 52: 16 -> 32 -> 64
    assert.equal(bc.buf.length, 64);
    assert.equal(bc.start, 0);
    assert.equal(pending(bc), "456789abcdef");
    assert.ok(r.length >= 40);
    const r1 = bc.room(); // full again? no: 52 bytes free
    assert.equal(r1.length, 52);
    // a full buffer with nothing consumed grows by doubling
    await send(peer, "x".repeat(52));
    await fillTo(bc, 64);
    assert.equal(bc.end, 64);
    bc.room();
    assert.equal(bc.buf.length, 128);
    assert.equal(pending(bc), "456789abcdef" + "x".repeat(52));
  });
});

Deno.test({
  name: "room() makes room for min bytes in an empty buffer too",
  async fn() {
    await withConn(16, (bc) => {
      const r = bc.room(64);
      assert.ok(r.length >= 64, `room(64) gave ${r.length} bytes`);
      return Promise.resolve();
    });
  },
});

Deno.test("shrink() gives a grown buffer back only once it is empty", async () => {
  await withConn(16, async (bc, peer) => {
    await send(peer, "x".repeat(100));
    await fillTo(bc, 100);
    assert.ok(bc.buf.length >= 100);
    const grown = bc.buf;
    bc.start = 50;
    bc.shrink();
    assert.equal(bc.buf, grown, "bytes still wait: no shrink");
    assert.equal(pending(bc), "x".repeat(50));
    bc.start = bc.end;
    bc.shrink();
    assert.equal(bc.buf.length, 16);
    assert.equal(bc.start, 0);
    assert.equal(bc.end, 0);
    // a small buffer is left alone
    const small = bc.buf;
    bc.shrink();
    assert.equal(bc.buf, small);
    // and still works
    await send(peer, "abc");
    await fillTo(bc, 3);
    assert.equal(pending(bc), "abc");
  });
});

// ---------------------------------------------------------------------------
// headEnd(), resetScan()

const HEAD = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

Deno.test("headEnd() resumes across reads wherever the blank line is split", async () => {
  const body = HEAD.slice(0, -4);
  // k bytes of the blank line's CRLFCRLF in the first read, the rest later
  for (let k = 0; k < 4; k++) {
    await withConn(1024, async (bc, peer) => {
      const first = body + "\r\n\r\n".slice(0, k);
      await send(peer, first);
      await fillTo(bc, first.length);
      assert.equal(bc.headEnd(), -1, `split at ${k}`);
      assert.equal(bc.headEnd(), -1, `split at ${k}, asked again`);
      await send(peer, "\r\n\r\n".slice(k) + "BODY");
      await fillTo(bc, HEAD.length + 4);
      assert.equal(bc.headEnd(), HEAD.length, `split at ${k}`);
    });
  }
});

Deno.test("headEnd() finds the end of a head sent one byte per read", async () => {
  await withConn(1024, async (bc, peer) => {
    for (let i = 0; i < HEAD.length; i++) {
      await send(peer, HEAD[i]);
      await fillTo(bc, i + 1);
      const he = bc.headEnd();
      assert.equal(he, i === HEAD.length - 1 ? HEAD.length : -1, `byte ${i}`);
    }
  });
});

Deno.test("headEnd() finds a second head after the first is consumed, split or not", async () => {
  for (let k = 0; k <= 4; k++) {
    await withConn(1024, async (bc, peer) => {
      const second = "GET /2 HTTP/1.1\r\nHost: b\r\n\r\n";
      const cut = second.length - 4 + k;
      await send(peer, HEAD + second.slice(0, cut));
      await fillTo(bc, HEAD.length + cut);
      const he = bc.headEnd();
      assert.equal(he, HEAD.length);
      bc.start = he;
      bc.resetScan();
      assert.equal(bc.headEnd(), k === 4 ? HEAD.length + second.length : -1);
      if (k === 4) return;
      await send(peer, second.slice(cut));
      await fillTo(bc, second.length);
      assert.equal(bc.headEnd(), HEAD.length + second.length, `split ${k}`);
    });
  }
});

Deno.test("headEnd() resumes correctly after room() compacts the buffer under a split head", async () => {
  // 8-byte first head, then 24 bytes of a 26-byte head ending in "\r\n":
  // the 32-byte buffer is full, so the next read compacts it.
  const first = "A: b\r\n\r\n";
  const second = "GET /abcdefgh HTTP/1.1\r\n\r\n";
  assert.equal(second.length, 26);
  await withConn(32, async (bc, peer) => {
    await send(peer, first + second.slice(0, 24));
    await fillTo(bc, 32);
    assert.equal(bc.headEnd(), 8);
    bc.start = 8;
    bc.resetScan();
    assert.equal(bc.headEnd(), -1);
    await send(peer, second.slice(24) + "tail");
    await fillTo(bc, 26 + 4); // room() compacts: start goes to 0
    assert.equal(bc.start, 0);
    assert.equal(bc.buf.length, 32);
    assert.equal(bc.headEnd(), 26);
    assert.equal(pending(bc), second + "tail");
  });
});

// ---------------------------------------------------------------------------
// readChunk(), keep()

Deno.test("readChunk() returns the bytes left in the buffer first, then fresh reads", async () => {
  await withConn(1024, async (bc, peer) => {
    await send(peer, HEAD + "left over");
    await fillTo(bc, HEAD.length + 9);
    bc.start = bc.headEnd();
    const left = await bc.readChunk();
    assert.ok(left !== null);
    assert.equal(latin1(left), "left over");
    assert.equal(bc.start, 0);
    assert.equal(bc.end, 0);
    // the leftover is a copy: reading on does not change it
    await send(peer, "fresh bytes");
    const fresh = await bc.readChunk();
    assert.ok(fresh !== null);
    assert.equal(latin1(fresh), "fresh bytes");
    assert.equal(latin1(left), "left over");
    peer.closeWrite();
    assert.equal(await bc.readChunk(), null);
  });
});

Deno.test("readChunk() reuses its buffer for the next read unless keep() is called", async () => {
  await withConn(1024, async (bc, peer) => {
    await send(peer, "aaaa");
    const a = (await bc.readChunk())!;
    await send(peer, "bbbb");
    const b = (await bc.readChunk())!;
    // not kept: the next read went into the same memory
    assert.equal(a.buffer, b.buffer);
    assert.equal(latin1(a), "bbbb");
    bc.keep();
    await send(peer, "cccc");
    const c = (await bc.readChunk())!;
    assert.notEqual(c.buffer, b.buffer, "a kept view's memory is not reused");
    assert.equal(latin1(b), "bbbb");
    assert.equal(latin1(c), "cccc");
    // keeping the newest view protects it too, after several reads
    bc.keep();
    const later: string[] = [];
    for (const s of ["dddd", "eeee", "ffff"]) {
      await send(peer, s);
      later.push(latin1((await bc.readChunk())!));
    }
    assert.deepEqual(later, ["dddd", "eeee", "ffff"]);
    assert.equal(latin1(b), "bbbb");
    assert.equal(latin1(c), "cccc");
  });
});

Deno.test("readChunk() keeps a kept view intact when the buffer grew after it", async () => {
  await withConn(16, async (bc, peer) => {
    await send(peer, "0123456789abcdef"); // fills 16: the buffer doubles
    const a = (await bc.readChunk())!;
    assert.equal(latin1(a), "0123456789abcdef");
    bc.keep();
    await send(peer, "x".repeat(20));
    let got = "";
    while (got.length < 20) got += latin1((await bc.readChunk())!);
    assert.equal(got, "x".repeat(20));
    assert.equal(latin1(a), "0123456789abcdef");
  });
});

Deno.test("readChunk() doubles while reads fill the buffer, up to 64 KiB, and shrinks back when quiet", async () => {
  await withConn(16, async (bc, peer) => {
    const total = 1024 * 1024;
    const data = new Uint8Array(total).map((_, i) => (i * 31) & 0xff);
    const writing = send(peer, data);
    let got = 0;
    let largest = 0;
    const sizes = new Set<number>();
    while (got < total) {
      const before = bc.buf.length;
      const chunk = (await bc.readChunk())!;
      assert.ok(chunk.length <= before, "a chunk fits the buffer it came from");
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i] !== ((got + i) * 31 & 0xff)) {
          assert.fail(`byte ${got + i} differs`);
        }
      }
      got += chunk.length;
      if (chunk.length === before && before < 64 * 1024) {
        assert.equal(bc.buf.length, before * 2, "a full read doubles");
      }
      largest = Math.max(largest, bc.buf.length);
      sizes.add(bc.buf.length);
    }
    await writing;
    assert.equal(got, total);
    assert.equal(largest, 64 * 1024, `sizes seen: ${[...sizes]}`);
    // a quiet peer: a small read gives the large buffer back
    await send(peer, "ping");
    const small = (await bc.readChunk())!;
    assert.equal(latin1(small), "ping");
    assert.equal(bc.buf.length, 16);
  });
});

// ---------------------------------------------------------------------------
// write(), progress()

Deno.test("write() delivers a large buffer whole to a slow reader and calls progress() on partial writes", async () => {
  const p = await pair();
  try {
    let progress = 0;
    class Counting extends ByteConn {
      override progress(): void {
        progress++;
      }
    }
    const bc = new Counting(p.local, 1024);
    const size = 8 * 1024 * 1024;
    const data = new Uint8Array(size).map((_, i) => (i * 7 + (i >> 13)) & 0xff);
    const written = bc.write(data);
    const got = new Uint8Array(size);
    let have = 0;
    let reads = 0;
    while (have < size) {
      const n = await p.peer.read(got.subarray(have, have + 64 * 1024));
      if (n === null) break;
      have += n;
      // a slow reader: the writer's socket buffer fills up meanwhile
      if (++reads % 16 === 0) await sleep(2);
    }
    await written;
    assert.equal(have, size);
    for (let i = 0; i < size; i++) {
      if (got[i] !== data[i]) assert.fail(`byte ${i} differs`);
    }
    assert.ok(progress >= 1, "partial writes must report progress");
  } finally {
    p.close();
  }
});

Deno.test("write() and close(): close is idempotent and later writes fail", async () => {
  await withConn(64, async (bc, peer) => {
    await bc.write(bytes("hello"));
    const buf = new Uint8Array(16);
    const n = await peer.read(buf);
    assert.equal(latin1(buf.subarray(0, n!)), "hello");
    bc.close();
    assert.equal(bc.closed, true);
    bc.close();
    assert.equal(await peer.read(buf), null);
    await assert.rejects(() => bc.write(bytes("more")));
  });
});

Deno.test("rawReader() reads through Deno's read op on the Deno this project pins", () => {
  // Were it gone, every connection would read through conn.read() and pay
  // its old-space churn again (bench/tenured.ts): this says so loudly.
  assert.equal(_useCoreReads(true), true);
});

for (const core of [true, false]) {
  const way = core ? "the read op" : "conn.read()";
  Deno.test(`rawReader() through ${way}: bytes, 0 at EOF, an error on a closed socket`, async () => {
    _useCoreReads(core);
    const p = await pair();
    try {
      let viaConn = 0;
      const connRead = p.local.read.bind(p.local);
      p.local.read = (dst) => {
        viaConn++;
        return connRead(dst);
      };
      const read = rawReader(p.local);
      await send(p.peer, "hello");
      const dst = new Uint8Array(16);
      const n = await read(dst);
      assert.equal(latin1(dst.subarray(0, n)), "hello");
      p.peer.close();
      assert.equal(await read(dst), 0);
      p.local.close();
      await assert.rejects(read(dst), Deno.errors.BadResource);
      assert.equal(viaConn, core ? 0 : 3);
    } finally {
      _useCoreReads(true);
      p.close();
    }
  });

  Deno.test(`a server and client reading through ${way} exchange requests and bodies`, async () => {
    _useCoreReads(core);
    const big = new Uint8Array(300_000).map((_, i) => i % 251);
    const server = runServer((req) => ({
      status: 200,
      body: req.body ?? "empty",
    }), { ip: "127.0.0.1", port: 0 });
    try {
      const url = `http://127.0.0.1:${server.port}/`;
      for (let i = 0; i < 3; i++) {
        const r = await request({
          url,
          method: "POST",
          body: big,
          as: "bytes",
        });
        assert.equal(r.error, undefined);
        assert.deepEqual(r.body, big);
      }
    } finally {
      _useCoreReads(true);
      await server.stop();
    }
  });
}

Deno.test("rawReader() reads a socket without Deno's resource id through its read()", async () => {
  const calls: number[] = [];
  let left = 2;
  const conn = {
    read(dst: Uint8Array): Promise<number | null> {
      calls.push(dst.length);
      if (left-- === 0) return Promise.resolve(null);
      dst[0] = 7;
      return Promise.resolve(1);
    },
  } as unknown as Deno.Conn;
  const read = rawReader(conn);
  const dst = new Uint8Array(4);
  assert.equal(await read(dst), 1);
  assert.equal(dst[0], 7);
  assert.equal(await read(dst), 1);
  assert.equal(await read(dst), 0);
  assert.deepEqual(calls, [4, 4, 4]);
});
