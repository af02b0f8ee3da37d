// The shared byte helpers: concat and the growing buffer a chunked body is
// read whole into (property tests, fixed seed).

import assert from "node:assert/strict";
import fc from "npm:fast-check@3";
import { concat, Growing } from "../_bytes.ts";

const pieces = fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 40 });

Deno.test("Growing holds exactly what was pushed, in order, whatever the piece sizes", () => {
  fc.assert(
    fc.property(pieces, fc.integer({ min: 0, max: 4096 }), (ps, initial) => {
      const g = new Growing(initial);
      for (const p of ps) g.push(p);
      assert.deepEqual(g.bytes, concat(ps));
    }),
    { seed: 17, numRuns: 300 },
  );
});

Deno.test("Growing never allocates past its max while the total stays within it", () => {
  fc.assert(
    fc.property(pieces, (ps) => {
      const total = ps.reduce((n, p) => n + p.length, 0);
      const g = new Growing(16, total);
      for (const p of ps) g.push(p);
      assert.equal(g.bytes.length, total);
      assert.equal(g.bytes.buffer.byteLength, total);
    }),
    { seed: 18, numRuns: 300 },
  );
});
