// The intrusive set the server keeps its open connections in.

import assert from "node:assert/strict";
import { type Linked, LinkedSet } from "../server/_linked.ts";

class Item implements Linked {
  linkPrev: Linked | null = null;
  linkNext: Linked | null = null;
  linked = false;
  constructor(readonly id: number) {}
}

const ids = (s: LinkedSet<Item>): number[] => [...s].map((x) => x.id);

Deno.test("LinkedSet: insertion order, size, and add/delete of members and strangers", () => {
  const s = new LinkedSet<Item>();
  const items = [0, 1, 2, 3].map((i) => new Item(i));
  for (const x of items) s.add(x);
  s.add(items[1]); // already in: no-op
  assert.deepEqual(ids(s), [0, 1, 2, 3]);
  assert.equal(s.size, 4);
  assert.equal(s.delete(items[0]), true); // head
  assert.equal(s.delete(items[3]), true); // tail
  assert.equal(s.delete(items[3]), false); // gone already
  assert.equal(s.delete(new Item(9)), false); // never in
  assert.deepEqual(ids(s), [1, 2]);
  assert.equal(s.size, 2);
  s.add(items[0]);
  assert.deepEqual(ids(s), [1, 2, 0]);
  for (const x of [...s]) s.delete(x);
  assert.equal(s.size, 0);
  assert.deepEqual(ids(s), []);
});

Deno.test("LinkedSet: a removed item keeps no link to the others", () => {
  const s = new LinkedSet<Item>();
  const [a, b, c] = [1, 2, 3].map((i) => new Item(i));
  s.add(a);
  s.add(b);
  s.add(c);
  s.delete(b);
  assert.equal(b.linkPrev, null);
  assert.equal(b.linkNext, null);
  assert.equal(b.linked, false);
  assert.equal(a.linkNext, c);
  assert.equal(c.linkPrev, a);
});

Deno.test("LinkedSet: the loop may delete the item it is on, and sees items added meanwhile", () => {
  const s = new LinkedSet<Item>();
  for (let i = 0; i < 6; i++) s.add(new Item(i));
  const seen: number[] = [];
  for (const x of s) {
    seen.push(x.id);
    if (x.id % 2 === 0) s.delete(x);
    if (x.id === 5) s.add(new Item(6));
  }
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(ids(s), [1, 3, 5]);
  assert.equal(s.size, 3);
});
