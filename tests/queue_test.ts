// The send queue behind every channel: order, copying, limits and drain.

import assert from "node:assert/strict";
import { WriteQueue } from "../_queue.ts";

/** A writer that records what it is given and finishes when told. */
function slowWriter(): {
  write: (b: Uint8Array) => Promise<void>;
  written: Uint8Array[];
  release: () => void;
} {
  const written: Uint8Array[] = [];
  let wake: (() => void) | null = null;
  return {
    written,
    write(b) {
      written.push(b.slice());
      return new Promise((r) => (wake = r));
    },
    release() {
      const w = wake;
      wake = null;
      w?.();
    },
  };
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

function joined(parts: Uint8Array[]): number[] {
  return parts.flatMap((p) => [...p]);
}

Deno.test("WriteQueue writes small and large items in order, merging the small ones", async () => {
  const w = slowWriter();
  const q = new WriteQueue(w.write, 1 << 24, (e) => {
    throw e;
  });
  const big = new Uint8Array(40_000).map((_, i) => i & 0xff);
  const expected: number[] = [];
  const add = (b: Uint8Array): void => {
    assert.ok(q.push(b));
    expected.push(...b);
  };
  add(new Uint8Array([1]));
  // Queued in the same turn: the writes start in a microtask, so the small
  // items go out merged, then the large one, then the last small one.
  add(new Uint8Array([2, 3]));
  add(new Uint8Array([4]));
  add(big);
  add(new Uint8Array([5]));
  assert.equal(q.bufferedAmount, 5 + big.length);
  assert.equal(w.written.length, 0, "nothing is written synchronously");
  await Promise.resolve();
  // Queued while the first write is under way: merged into the next one.
  add(new Uint8Array([6]));
  add(new Uint8Array([7, 8]));
  for (let i = 0; i < 10 && q.bufferedAmount > 0; i++) {
    w.release();
    await tick();
  }
  await q.drained();
  assert.equal(q.bufferedAmount, 0);
  assert.deepEqual(joined(w.written), expected);
  assert.deepEqual(w.written.map((b) => b.length), [4, big.length, 1, 3]);
});

Deno.test("WriteQueue.pushCopy copies head and body, so callers may reuse them", async () => {
  const w = slowWriter();
  const q = new WriteQueue(w.write, 1 << 24, (e) => {
    throw e;
  });
  const head = new Uint8Array([0x82, 3]);
  const body = new Uint8Array([7, 8, 9]);
  q.pushCopy(head, body);
  q.pushCopy(head, body);
  head.fill(0);
  body.fill(0);
  for (let i = 0; i < 5; i++) {
    w.release();
    await tick();
  }
  assert.deepEqual(joined(w.written), [0x82, 3, 7, 8, 9, 0x82, 3, 7, 8, 9]);
});

Deno.test("WriteQueue refuses past its limit unless forced, and reports a failed write once", async () => {
  let fail = false;
  const errors: unknown[] = [];
  const q = new WriteQueue(
    () => fail ? Promise.reject(new Error("gone")) : new Promise(() => {}),
    100,
    (e) => errors.push(e),
  );
  assert.ok(q.push(new Uint8Array(80)));
  assert.equal(q.push(new Uint8Array(30)), false);
  assert.ok(q.push(new Uint8Array(30), true));
  assert.equal(q.bufferedAmount, 110);
  await tick(); // q's first write starts (and never ends)

  fail = true;
  const q2 = new WriteQueue(
    () => Promise.reject(new Error("gone")),
    100,
    (e) => errors.push(e),
  );
  q2.push(new Uint8Array(1));
  q2.push(new Uint8Array(1));
  await tick();
  assert.equal(errors.length, 1);
  assert.ok(q2.failed);
  assert.equal(q2.push(new Uint8Array(1)), false);
  await q2.drained();
});
