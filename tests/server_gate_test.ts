import assert from "node:assert/strict";
import { type GateEntry, ReadGate } from "../server/_gate.ts";

function entry(): GateEntry {
  return { gateAt: -1, gatePrev: null, gateNext: null };
}

Deno.test("ReadGate admits reads synchronously while slots are free", () => {
  const gate = new ReadGate(2, 20);
  const a = entry(), b = entry();
  assert.equal(gate.acquire(a), undefined);
  assert.equal(gate.acquire(b), undefined);
  assert.equal(gate.used, 2);
  gate.release(a);
  gate.release(b);
  assert.equal(gate.used, 0);
  gate.release(b); // a second release of the same entry changes nothing
  assert.equal(gate.used, 0);
  gate.dispose();
});

Deno.test("ReadGate hands a freed slot to the oldest waiter, in FIFO order", async () => {
  const gate = new ReadGate(1, 1000);
  const holder = entry();
  assert.equal(gate.acquire(holder), undefined);
  const order: string[] = [];
  const waiters = ["w1", "w2", "w3"].map((name) => {
    const e = entry();
    const p = gate.acquire(e);
    assert.ok(p instanceof Promise, "a full gate makes readers wait");
    return p!.then(() => {
      order.push(name);
      return e;
    });
  });
  gate.release(holder);
  const first = await waiters[0];
  gate.release(first);
  const second = await waiters[1];
  gate.release(second);
  const third = await waiters[2];
  gate.release(third);
  assert.deepEqual(order, ["w1", "w2", "w3"]);
  assert.equal(gate.used, 0);
  gate.dispose();
});

Deno.test("ReadGate takes a slot back from a read that stays pending (an idle peer)", async () => {
  const gate = new ReadGate(1, 20);
  const idle = entry();
  gate.acquire(idle);
  const waiter = entry();
  // The gate's sweep timer is unref'd (a server's sockets keep the process
  // alive); here a plain timer does.
  const keepAlive = setTimeout(() => {}, 2000);
  const t0 = performance.now();
  await gate.acquire(waiter);
  const waited = performance.now() - t0;
  clearTimeout(keepAlive);
  assert.ok(waited >= 5 && waited < 1000, `waited ${waited} ms`);
  assert.equal(idle.gateAt, -1, "the idle holder lost its slot");
  gate.release(idle); // its read completes later: no double release
  assert.equal(gate.used, 1);
  gate.release(waiter);
  assert.equal(gate.used, 0);
  gate.dispose();
});
