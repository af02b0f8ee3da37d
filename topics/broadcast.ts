// Hubs in the workers of one process: each worker's hubs take a name of
// their own, and a BroadcastChannel of that name joins them.

import { describe } from "../_describe.ts";
import { WORKER_GROUP } from "../_hooks.ts";
import type { TopicMessage, Transport } from "./types.ts";

// The names of the auto-wired hubs of this worker. (On globalThis: the app
// may load this module from another URL than a library it uses.)
const NAMES: unique symbol = Symbol.for("httpkit.topics.names");

function liveNames(): Set<string> {
  const g = globalThis as Record<symbol, Set<string> | undefined>;
  return g[NAMES] ??= new Set();
}

function claimName(name: string): string {
  const live = liveNames();
  let claimed = name;
  for (let k = 2; live.has(claimed); k++) claimed = `${name}#${k}`;
  live.add(claimed);
  return claimed;
}

/**
 * A transport between the workers of one process: a `BroadcastChannel` of
 * the given name. Hubs inside a server's `workers` use one on their own
 * (one per hub `name`); this is for hubs in Web Workers of your own, which
 * pass the same name.
 *
 * Every worker gets every message and delivers it to its local subscribers
 * of the topic, if any (a `BroadcastChannel` has no per-topic filter);
 * the publishing hub's own channel does not get it back.
 *
 * @param name The `BroadcastChannel` name the hubs share.
 * @returns The transport.
 *
 * @example Two hubs joined by a BroadcastChannel
 * ```ts
 * import { broadcastTransport, Topics } from "@httpkit/httpkit";
 *
 * const a = new Topics({ transport: broadcastTransport("my-app-topics") });
 * const b = new Topics({ transport: broadcastTransport("my-app-topics") });
 * a.publish("news", "reaches the subscribers of b too");
 * await a.close();
 * await b.close();
 * ```
 */
export function broadcastTransport(name: string): Transport {
  if (typeof name !== "string") {
    throw new TypeError(
      `broadcastTransport takes a name string: received ${describe(name)}`,
    );
  }
  let bc: BroadcastChannel | null = null;
  return {
    open(link) {
      bc = new BroadcastChannel(name);
      bc.onmessage = (e: MessageEvent<[string, TopicMessage]>) => {
        const [topic, message] = e.data;
        link.deliver(topic, message);
      };
    },
    subscribe() {},
    unsubscribe() {},
    publish(topic, message) {
      bc?.postMessage([topic, message]);
    },
    close() {
      bc?.close();
      bc = null;
      return Promise.resolve();
    },
  };
}

/**
 * The transport of a hub made without one: inside a server's `workers`, a
 * BroadcastChannel to the hub of the same `name` in the other workers (the
 * name claimed among this worker's hubs, and given back when the transport
 * closes); elsewhere none.
 */
export function workerTransport(name: string | undefined): Transport | null {
  const group = (globalThis as Record<symbol, unknown>)[WORKER_GROUP];
  if (typeof group !== "string") return null;
  const claimed = claimName(name ?? "topics");
  const bc = broadcastTransport(`httpkit.topics/${group}/${claimed}`);
  return {
    ...bc,
    close(): Promise<void> {
      liveNames().delete(claimed);
      return bc.close();
    },
  };
}
