// A chat room on topics: WebSocket, long-poll and server-sent-events
// clients all in one room, every channel subscribed to the topic "room".
//   WebSocket        GET /ws    (asChannel on an upgrade request)
//   long-polling     GET /poll  (asChannel; the next message is the response)
//   server-sent      GET /sse   (sse(); one event per message)
// Poll and SSE clients post their messages to POST /send.
//
//   deno run --allow-net --allow-read examples/chat/server.ts [port]
//
// then open http://localhost:8090/?transport=ws (or poll, or sse).
//
// Several processes share the room through Redis (see start.sh, which runs
// two of them behind HAProxy):
//
//   deno run -A examples/chat/server.ts 9001 --name=app1 --redis=/tmp/redis.sock
//
// --redis takes a Unix socket path or a redis:// URL. Every response names
// the process in an `x-chat-process` header, and a WebSocket's first message
// is {"process": name}.

import {
  asChannel,
  type Channel,
  defaultTopics,
  publish,
  runServer,
  sse,
  subscribe,
  Topics,
} from "../../mod.ts";
import type { RingRequest, RingResponse } from "../../mod.ts";

/** One chat message. */
interface Message {
  id: string;
  name: string;
  text: string;
  /** The process that took it. */
  via: string;
}

const HISTORY = 100;
const POLL_TIMEOUT = 25_000;

const args = Deno.args.filter((a) => !a.startsWith("--"));
const flag = (name: string): string | undefined =>
  Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const port = Number(args[0] ?? 8090);
const name = flag("name") ?? `chat-${port}`;
const redis = flag("redis");

if (redis !== undefined) {
  // Only this mode loads the Redis client (npm), so the one-process chat
  // needs nothing but the core.
  const { redisTransport } = await import("../../topics/redis.ts");
  const url = /^rediss?:\/\//.test(redis);
  const hub = defaultTopics(
    new Topics({
      transport: redisTransport(url ? { url: redis } : { path: redis }),
    }),
  );
  await hub.ready;
}

// The history every process keeps, from the room itself: a channel of our
// own, subscribed like the others, records every message, wherever it was
// posted.
const history: Message[] = [];
const recorder: Channel = {
  send(data) {
    const json = typeof data === "string" ? data : null;
    if (json === null) return false;
    history.push(JSON.parse(json));
    if (history.length > HISTORY) history.shift();
    return true;
  },
  close: () => false,
  ping: () => false,
  isOpen: true,
  isWebSocket: false,
  remoteAddr: "history",
  bufferedAmount: 0,
  drained: () => Promise.resolve(),
};
subscribe(recorder, "room");

function post(from: string, text: string): void {
  const msg: Message = {
    id: `${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`,
    name: from.slice(0, 40),
    text: text.slice(0, 2000),
    via: name,
  };
  publish("room", JSON.stringify(msg));
}

// Messages after the one with id `since` (all of them when it is unknown).
function after(since: string): Message[] {
  const i = history.findIndex((m) => m.id === since);
  return i < 0 ? history.slice() : history.slice(i + 1);
}

function parse(body: Uint8Array | string | null): {
  name: string;
  text: string;
} | null {
  try {
    const v = JSON.parse(
      typeof body === "string"
        ? body
        : new TextDecoder().decode(body ?? new Uint8Array()),
    );
    if (typeof v?.name === "string" && typeof v?.text === "string") return v;
  } catch {
    // not JSON
  }
  return null;
}

const page = await Deno.readTextFile(new URL("./index.html", import.meta.url));
const HEADERS = { "x-chat-process": name };

function handler(req: RingRequest): RingResponse {
  const method = req.requestMethod;
  switch (req.uri) {
    case "/":
      return {
        headers: { ...HEADERS, "content-type": "text/html; charset=utf-8" },
        body: page,
      };
    case "/health":
      return { headers: HEADERS, body: "ok\n" };
    case "/ws":
      return asChannel(req, {
        onOpen(ch) {
          ch.send(JSON.stringify({ process: name }));
          subscribe(ch, "room");
        },
        onReceive(_ch, data) {
          const m = parse(typeof data === "string" ? data : null);
          if (m !== null) post(m.name, m.text);
        },
      });
    case "/sse":
      return sse(req, {
        onOpen(ch) {
          ch.send({ event: "process", data: name });
          subscribe(ch, "room");
        },
      }, { headers: HEADERS });
    case "/poll": {
      // ?since=<id of the last message seen>; none or -1: answer at once
      // with the history. The answer is {last, messages} from the history,
      // or a message itself when one is published while the poll waits.
      const since = new URLSearchParams(req.queryString ?? "").get("since") ??
        "-1";
      const newer = since === "-1" ? history.slice() : after(since);
      if (since === "-1" || newer.length > 0) {
        return {
          headers: {
            ...HEADERS,
            "content-type": "application/json",
            "cache-control": "no-store",
          },
          body: JSON.stringify({
            last: history.at(-1)?.id ?? "0",
            messages: newer,
          }),
        };
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const answer = (ch: Channel, messages: Message[]): void => {
        ch.send({
          headers: { ...HEADERS, "content-type": "application/json" },
          body: JSON.stringify({
            last: messages.at(-1)?.id ?? since,
            messages,
          }),
        });
      };
      return asChannel(req, {
        onOpen(ch) {
          // Posted since the handler looked: answer with it at once.
          const missed = after(since);
          if (missed.length > 0) return answer(ch, missed);
          subscribe(ch, "room");
          timer = setTimeout(() => answer(ch, []), POLL_TIMEOUT);
          Deno.unrefTimer(Number(timer));
        },
        onClose: () => clearTimeout(timer),
      });
    }
    case "/send": {
      if (method !== "post") {
        return { status: 405, headers: { ...HEADERS, allow: "POST" } };
      }
      const m = parse(req.body);
      if (m === null) {
        return {
          status: 400,
          headers: HEADERS,
          body: "Expected {name, text} JSON",
        };
      }
      post(m.name, m.text);
      return { status: 204, headers: HEADERS };
    }
  }
  return { status: 404, headers: HEADERS, body: "Not Found" };
}

const server = runServer(handler, { port });
console.log(
  `Chat (${name}${
    redis === undefined ? "" : ", through Redis"
  }) on http://localhost:${server.port}/?transport=ws|poll|sse`,
);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server.stop({ timeout: 1000 });
  await defaultTopics().close();
  Deno.exit(0);
}
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
