// Server-Sent Events: the formatter against a parser that follows the HTML
// standard's event-stream rules, and streams over real sockets (fetch, curl,
// a raw client for HEAD and HTTP/1.0).

import assert from "node:assert/strict";
import fc from "npm:fast-check@3";
import {
  formatSse,
  type RingRequest,
  sse,
  type SseChannel,
  type SseEvent,
  type SseHandlers,
  type SseOptions,
} from "../mod.ts";
import {
  decoder,
  get,
  ringRequest,
  runCommand,
  until,
  withServer,
} from "./_helpers.ts";
import { needs, peerPath } from "./_peers.ts";

const hasCurl = needs("curl");

/** An event as a browser dispatches it. */
interface Dispatched {
  type: string;
  data: string;
  lastEventId: string;
}

/**
 * Parses an event stream the way the HTML standard says browsers do
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
 * feed text as it arrives, get the dispatched events, comments and retry.
 */
class EventStreamParser {
  events: Dispatched[] = [];
  comments: string[] = [];
  retry: number | null = null;
  #buffer = "";
  #first = true;
  #data = "";
  #type = "";
  #lastEventId = "";
  #idBuffer = "";

  push(text: string): void {
    this.#buffer += text;
    if (this.#first && this.#buffer.length > 0) {
      if (this.#buffer.charCodeAt(0) === 0xfeff) {
        this.#buffer = this.#buffer.slice(1);
      }
      this.#first = false;
    }
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.#buffer);
      // A CR at the end may be the first half of a CRLF: wait for more.
      if (
        m === null || (m[0] === "\r" && m.index === this.#buffer.length - 1)
      ) {
        return;
      }
      const line = this.#buffer.slice(0, m.index);
      this.#buffer = this.#buffer.slice(m.index + m[0].length);
      this.#line(line);
    }
  }

  #line(line: string): void {
    if (line === "") return this.#dispatch();
    if (line.startsWith(":")) {
      this.comments.push(line.slice(1));
      return;
    }
    const colon = line.indexOf(":");
    let name = line, value = "";
    if (colon >= 0) {
      name = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
    }
    if (name === "event") this.#type = value;
    else if (name === "data") this.#data += value + "\n";
    else if (name === "id") {
      if (!value.includes("\0")) this.#idBuffer = value;
    } else if (name === "retry") {
      if (/^[0-9]+$/.test(value)) this.retry = Number(value);
    }
  }

  #dispatch(): void {
    this.#lastEventId = this.#idBuffer;
    if (this.#data === "") {
      this.#type = "";
      return;
    }
    const data = this.#data.endsWith("\n")
      ? this.#data.slice(0, -1)
      : this.#data;
    this.events.push({
      type: this.#type || "message",
      data,
      lastEventId: this.#lastEventId,
    });
    this.#data = "";
    this.#type = "";
  }
}

function parse(text: string): EventStreamParser {
  const p = new EventStreamParser();
  p.push(text);
  return p;
}

/** The data as a browser sees it: every line break becomes LF. */
function normalised(data: string): string {
  return data.replace(/\r\n|\r/g, "\n");
}

Deno.test("formatSse() writes a data line per line, split at LF, CRLF and CR", () => {
  assert.equal(formatSse("hello"), "data: hello\n\n");
  assert.equal(
    formatSse("a\nb\r\nc\rd"),
    "data: a\ndata: b\ndata: c\ndata: d\n\n",
  );
  assert.equal(formatSse(""), "data: \n\n");
  assert.equal(formatSse("a\n"), "data: a\ndata: \n\n");
  assert.equal(formatSse(" lead"), "data:  lead\n\n");
  assert.equal(
    formatSse("data: x\n\nevent: y"),
    "data: data: x\ndata: \ndata: event: y\n\n",
  );
});

Deno.test("formatSse() writes event, id and retry before the data", () => {
  assert.equal(
    formatSse({ data: "d", retry: 0, id: "", event: "e" }),
    "event: e\nid: \nretry: 0\ndata: d\n\n",
  );
  assert.equal(formatSse({ id: "5" }), "id: 5\n\n");
  assert.equal(formatSse({}), "\n");
});

Deno.test("formatSse() rejects line breaks in event and id, NUL in id and a bad retry", () => {
  const typeErrors: [SseEvent, string][] = [
    [
      { event: "a\nb", data: "" },
      'An SSE event must not contain CR or LF: "a\\nb"',
    ],
    [{ event: "a\rb" }, 'An SSE event must not contain CR or LF: "a\\rb"'],
    [{ id: "1\r\n2" }, 'An SSE id must not contain CR or LF: "1\\r\\n2"'],
    [{ id: "a\0b" }, 'An SSE id must not contain NUL: "a\\u0000b"'],
    [{ id: 7 as unknown as string }, "An SSE id must be a string, got number"],
    [
      { data: { a: 1 } as unknown as string },
      "SSE data must be a string (JSON.stringify objects), got object",
    ],
  ];
  for (const [event, message] of typeErrors) {
    assert.throws(() => formatSse(event), { name: "TypeError", message });
  }
  for (const retry of [-1, 1.5, NaN, Infinity, "10" as unknown as number]) {
    assert.throws(() => formatSse({ retry }), {
      name: "RangeError",
      message:
        `An SSE retry must be a non-negative integer of ms, got ${retry}`,
    });
  }
  assert.throws(() => formatSse(null as unknown as string), TypeError);
});

Deno.test("formatSse() output parses back, by the HTML standard's rules, to the event sent", () => {
  // No CR, LF or NUL in names and ids; data may hold anything.
  const name = fc.string({ unit: "binary" }).filter((s) => !/[\r\n\0]/.test(s));
  const data = fc.oneof(
    fc.string({ unit: "binary" }),
    fc.array(
      fc.constantFrom(
        "a",
        " ",
        ":",
        "\n",
        "\r",
        "\r\n",
        "data:",
        "é",
        "\u{1f600}",
      ),
    )
      .map((parts) => parts.join("")),
  );
  fc.assert(
    fc.property(
      fc.option(name, { nil: undefined }),
      name,
      data,
      (event, id, d) => {
        const p = parse(formatSse({ event, id, data: d }));
        assert.deepEqual(p.events, [{
          type: event || "message",
          data: normalised(d),
          lastEventId: id,
        }]);
      },
    ),
    { numRuns: 500 },
  );
  // A stream of several events and comments, fed one char at a time.
  const p = new EventStreamParser();
  const text = formatSse({ retry: 3000 }) + formatSse("one") +
    ": a comment\n\n" + formatSse({ event: "two", id: "2", data: "x\r\ny" });
  for (const ch of text) p.push(ch);
  assert.equal(p.retry, 3000);
  assert.deepEqual(p.comments, [" a comment"]);
  assert.deepEqual(p.events, [
    { type: "message", data: "one", lastEventId: "" },
    { type: "two", data: "x\ny", lastEventId: "2" },
  ]);
});

/** Reads a fetch body into a parser until `done` holds; then cancels it. */
async function readEvents(
  res: Response,
  done: (p: EventStreamParser) => boolean,
): Promise<EventStreamParser> {
  const p = new EventStreamParser();
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  try {
    while (!done(p)) {
      const { value, done: end } = await reader.read();
      if (end) break;
      p.push(value);
    }
  } finally {
    await reader.cancel();
  }
  return p;
}

Deno.test("sse() streams events that a spec parser reads as they arrive", async () => {
  let stream: SseChannel | null = null;
  const closes: string[] = [];
  await withServer(
    (req) =>
      sse(req, {
        onOpen(ch) {
          stream = ch;
          ch.send("first");
        },
        onClose: (_ch, status) => closes.push(status),
      }),
    {},
    async (t) => {
      const res = await fetch(`http://127.0.0.1:${t.port}/events`);
      assert.equal(res.status, 200);
      assert.equal(
        res.headers.get("content-type"),
        "text/event-stream; charset=utf-8",
      );
      assert.equal(res.headers.get("cache-control"), "no-cache");
      assert.equal(res.headers.get("x-accel-buffering"), "no");
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      const p = new EventStreamParser();
      const next = async (n: number) => {
        while (p.events.length < n) p.push((await reader.read()).value!);
      };
      await next(1);
      // each later event is sent after the previous one was read
      stream!.send({ event: "update", id: "2", data: "line 1\nline 2" });
      await next(2);
      stream!.send(new TextEncoder().encode("bytes é"));
      await next(3);
      assert.equal(stream!.comment("not an event"), true);
      stream!.send({ body: "from a channel message" }, true);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        p.push(value);
      }
      assert.deepEqual(p.events, [
        { type: "message", data: "first", lastEventId: "" },
        { type: "update", data: "line 1\nline 2", lastEventId: "2" },
        { type: "message", data: "bytes é", lastEventId: "2" },
        { type: "message", data: "from a channel message", lastEventId: "2" },
      ]);
      assert.deepEqual(p.comments, [" not an event"]);
      await until(() => closes.length === 1, "onClose");
      assert.deepEqual(closes, ["server-close"]);
      assert.equal(stream!.isOpen, false);
      assert.equal(stream!.send("late"), false);
    },
  );
});

Deno.test("sse() sends what onOpen sent with the head, after a retry field", async () => {
  await withServer(
    (req) =>
      sse(req, {
        onOpen(ch) {
          ch.send("a");
          ch.send({ event: "b", data: "b" });
          ch.close();
          assert.equal(ch.isOpen, false);
          assert.equal(ch.send("after close"), false);
        },
      }, { retry: 2500 }),
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(get("/"));
      const r = await c.readResponse();
      // closed in onOpen: one complete response
      assert.equal(r.header("content-length"), String(r.body.length));
      assert.equal(r.text, "retry: 2500\n\ndata: a\n\nevent: b\ndata: b\n\n");
    },
  );
});

Deno.test("sse() sends keep-alive comments on a quiet stream and stops them when the client leaves", async () => {
  const closes: string[] = [];
  await withServer(
    (req) =>
      sse(req, {
        onClose: (_ch, status) => closes.push(status),
      }, { keepAlive: 10 }),
    {},
    async (t) => {
      const res = await fetch(`http://127.0.0.1:${t.port}/quiet`);
      const p = await readEvents(res, (p) => p.comments.length >= 2);
      assert.deepEqual(p.comments.slice(0, 2), [" keep-alive", " keep-alive"]);
      assert.deepEqual(p.events, []);
      // the reader was cancelled: the server sees the client go, and the
      // test's sanitizers see no interval left behind
      await until(() => closes.length === 1, "onClose");
      assert.deepEqual(closes, ["client-close"]);
    },
  );
});

Deno.test("sse() with keepAlive 0 starts no timer", async () => {
  let stream: SseChannel | null = null;
  await withServer(
    (req) => sse(req, { onOpen: (ch) => (stream = ch) }, { keepAlive: 0 }),
    {},
    async (t) => {
      const res = await fetch(`http://127.0.0.1:${t.port}/`);
      await until(() => stream !== null, "onOpen");
      stream!.send("only", true);
      assert.equal(await res.text(), "data: only\n\n");
    },
  );
});

Deno.test("sse() answers HEAD with the stream's head and keeps the connection usable", async () => {
  let opened = 0;
  await withServer(
    (req) =>
      req.uri === "/next"
        ? { body: "next" }
        : sse(req, { onOpen: () => opened++ }),
    {},
    async (t) => {
      const c = await t.connect();
      await c.write("HEAD /events HTTP/1.1\r\nHost: x\r\n\r\n" + get("/next"));
      const head = await c.readResponse({ head: true });
      assert.equal(head.status, 200);
      assert.equal(
        head.header("content-type"),
        "text/event-stream; charset=utf-8",
      );
      const next = await c.readResponse();
      assert.equal(next.text, "next");
      assert.equal(opened, 0);
    },
  );
});

Deno.test("sse() over HTTP/1.0 streams without chunked coding and ends with the connection", async () => {
  await withServer(
    (req) =>
      sse(req, {
        onOpen(ch) {
          ch.send("one");
          setTimeout(() => ch.send("two", true), 0);
        },
      }),
    {},
    async (t) => {
      const c = await t.connect();
      await c.write("GET /events HTTP/1.0\r\n\r\n");
      const head = await c.readHead();
      assert.match(head, /^HTTP\/1\.[01] 200 /);
      assert.doesNotMatch(head, /transfer-encoding/i);
      const body = decoder.decode(await c.readToEnd());
      assert.equal(body, "data: one\n\ndata: two\n\n");
    },
  );
});

Deno.test("sse() hands Last-Event-ID to the channel and merges headers over the defaults", async () => {
  let last: string | null = "unset";
  const options: SseOptions = {
    headers: {
      "Cache-Control": "no-store",
      "access-control-allow-origin": "*",
    },
  };
  await withServer(
    (req) =>
      sse(req, {
        onOpen(ch) {
          last = ch.lastEventId;
          ch.send("x", true);
        },
      }, options),
    {},
    async (t) => {
      const res = await fetch(`http://127.0.0.1:${t.port}/`, {
        headers: { "last-event-id": "41" },
      });
      assert.equal(res.headers.get("cache-control"), "no-store");
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
      assert.equal(
        res.headers.get("content-type"),
        "text/event-stream; charset=utf-8",
      );
      await res.text();
      assert.equal(last, "41");
    },
  );
});

Deno.test("sse() rejects bad options and answers a WebSocket upgrade with 400", () => {
  const req: RingRequest = ringRequest();
  for (const keepAlive of [-1, NaN, Infinity]) {
    assert.throws(() => sse(req, {}, { keepAlive }), {
      name: "RangeError",
      message:
        `sse: keepAlive must be a non-negative number of ms, got ${keepAlive}`,
    });
  }
  assert.throws(() => sse(req, {}, { retry: -5 }), RangeError);
  assert.throws(
    () => sse(req, {}, { keepalive: 0 } as SseOptions),
    {
      name: "TypeError",
      message: 'sse: unknown option "keepalive" (did you mean "keepAlive"?)',
    },
  );
  const res = sse(ringRequest({ websocket: true }), {});
  assert.equal(res.status, 400);
});

hasCurl.test("sse() streams events to curl -N as they come", async () => {
  const handlers: SseHandlers = {
    onOpen(ch) {
      let n = 0;
      const next = () => {
        n++;
        ch.send({ id: String(n), data: `event ${n}` }, n === 3);
        if (n < 3) setTimeout(next, 0);
      };
      next();
    },
  };
  await withServer((req) => sse(req, handlers), {}, async (t) => {
    const out = await runCommand(peerPath("curl"), [
      "-sS",
      "-N",
      "-i",
      "--max-time",
      "10",
      `http://127.0.0.1:${t.port}/events`,
    ]);
    assert.equal(out.code, 0, out.stderr);
    const [head, body] = out.stdout.split("\r\n\r\n");
    assert.match(head, /^content-type: text\/event-stream; charset=utf-8$/im);
    assert.match(head, /^transfer-encoding: chunked$/im);
    assert.equal(
      body,
      "id: 1\ndata: event 1\n\nid: 2\ndata: event 2\n\nid: 3\ndata: event 3\n\n",
    );
  });
});
