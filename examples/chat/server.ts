// A chat room on channels, with three transports to pick from:
//   WebSocket        GET /ws    (asChannel on an upgrade request)
//   long-polling     GET /poll  (asChannel, one `send(msg, true)` per poll)
//   server-sent      GET /sse   (asChannel, `send(event, false)` per message)
// Poll and SSE clients post their messages to POST /send.
//
//   deno run --allow-net --allow-read examples/chat/server.ts [port]
//
// then open http://localhost:8090/?transport=ws (or poll, or sse).

import { asChannel, type Channel, runServer } from "../../mod.ts";
import type { RingRequest, RingResponse } from "../../mod.ts";

/** One chat message. */
interface Message {
  id: number;
  name: string;
  text: string;
}

const HISTORY = 100;
const POLL_TIMEOUT = 25_000;

const history: Message[] = [];
let lastId = 0;
const sockets = new Set<Channel>();
const streams = new Set<Channel>();
const polls = new Map<Channel, number>();

function post(name: string, text: string): Message {
  const msg = {
    id: ++lastId,
    name: name.slice(0, 40),
    text: text.slice(0, 2000),
  };
  history.push(msg);
  if (history.length > HISTORY) history.shift();
  const json = JSON.stringify(msg);
  for (const ch of sockets) ch.send(json);
  for (const ch of streams) ch.send(`id: ${msg.id}\ndata: ${json}\n\n`, false);
  for (const ch of polls.keys()) answerPoll(ch, [msg]);
  return msg;
}

function answerPoll(ch: Channel, messages: Message[]): void {
  polls.delete(ch);
  ch.send({
    status: 200,
    headers: {
      "content-type": "application/json",
      "cache-control": "no-store",
    },
    body: JSON.stringify({ last: lastId, messages }),
  }, true);
}

function parse(body: Uint8Array | null): { name: string; text: string } | null {
  try {
    const v = JSON.parse(new TextDecoder().decode(body ?? new Uint8Array()));
    if (typeof v?.name === "string" && typeof v?.text === "string") return v;
  } catch {
    // not JSON
  }
  return null;
}

const page = await Deno.readTextFile(new URL("./index.html", import.meta.url));

function handler(req: RingRequest): RingResponse {
  const method = req.requestMethod;
  switch (req.uri) {
    case "/":
      return {
        headers: { "content-type": "text/html; charset=utf-8" },
        body: page,
      };
    case "/ws":
      return asChannel(req, {
        onOpen: (ch) => sockets.add(ch),
        onReceive(_ch, data) {
          const m = typeof data === "string"
            ? parse(new TextEncoder().encode(data))
            : null;
          if (m !== null) post(m.name, m.text);
        },
        onClose: (ch) => sockets.delete(ch),
      });
    case "/sse":
      return asChannel(req, {
        onOpen(ch) {
          streams.add(ch);
          ch.send({
            status: 200,
            headers: {
              "content-type": "text/event-stream",
              "cache-control": "no-store",
            },
            body: ": connected\n\n",
          }, false);
        },
        onClose: (ch) => streams.delete(ch),
      });
    case "/poll": {
      const since = Number(
        new URLSearchParams(req.queryString ?? "").get("since") ?? -1,
      );
      return asChannel(req, {
        onOpen(ch) {
          const newer = history.filter((m) => m.id > since);
          if (since < 0 || newer.length > 0) return answerPoll(ch, newer);
          polls.set(ch, since);
          const timer = setTimeout(() => {
            if (polls.has(ch)) answerPoll(ch, []);
          }, POLL_TIMEOUT);
          Deno.unrefTimer(timer);
        },
        onClose: (ch) => polls.delete(ch),
      });
    }
    case "/send": {
      if (method !== "post") return { status: 405, headers: { allow: "POST" } };
      const m = parse(req.body);
      if (m === null) {
        return { status: 400, body: "Expected {name, text} JSON" };
      }
      post(m.name, m.text);
      return { status: 204 };
    }
  }
  return { status: 404, body: "Not Found" };
}

const port = Number(Deno.args[0] ?? 8090);
const server = runServer(handler, { port });
console.log(`Chat on http://localhost:${server.port}/?transport=ws|poll|sse`);
