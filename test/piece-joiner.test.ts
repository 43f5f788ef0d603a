import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PieceJoiner } from '../src/learn/pieces.js';
import type { SequenceChunk } from '../src/io/dataset.js';

// A chunk of consecutive rows [r0, r1) of a long array, x = row index (so every kept row names itself), y = −row.
function rows(r0: number, r1: number, lengths: number[], flags: { continued?: boolean; continues?: boolean } = {}): SequenceChunk {
  const n = r1 - r0;
  const x = Float64Array.from({ length: n }, (_, i) => r0 + i);
  return { dx: 1, dy: 1, rows: n, x, y: x.map((v) => -v), lengths: Int32Array.from(lengths), ...flags };
}

test('PieceJoiner: one long sequence is kept up to the row cap, the sequences after it whole', () => {
  // Rows 0..2999 are one sequence in pieces of 211; the last piece also holds two short sequences (5 and 7 rows).
  const cap = 1000;
  const j = new PieceJoiner(cap);
  const L = 3000, piece = 211;
  for (let r = 0; r < L; r += piece) {
    const end = Math.min(L, r + piece);
    const last = end === L;
    const lengths = last ? [end - r, 5, 7] : [end - r];
    j.add(rows(r, last ? end + 12 : end, lengths, { continued: r > 0, continues: !last }), r > 0, !last);
  }
  const out = j.chunks();
  assert.equal(out.length, 2);
  // The long sequence: exactly rows 0..cap−1, in order.
  assert.deepEqual(Array.from(out[0].lengths), [cap]);
  assert.deepEqual(Array.from(out[0].x), Array.from({ length: cap }, (_, i) => i));
  assert.deepEqual(Array.from(out[0].y), Array.from({ length: cap }, (_, i) => -i));
  // The two short sequences of the last piece, whole.
  assert.deepEqual(Array.from(out[1].lengths), [5, 7]);
  assert.deepEqual(Array.from(out[1].x), Array.from({ length: 12 }, (_, i) => L + i));
  for (const c of out) assert.ok(!c.continued && !c.continues);
});

test('PieceJoiner without a cap joins every piece (as before)', () => {
  const j = new PieceJoiner();
  j.add(rows(0, 10, [10], { continues: true }), false, true);
  j.add(rows(10, 25, [15], { continued: true, continues: true }), true, true);
  j.add(rows(25, 30, [5], { continued: true }), true, false);
  const out = j.chunks();
  assert.equal(out.length, 1);
  assert.deepEqual(Array.from(out[0].lengths), [30]);
  assert.deepEqual(Array.from(out[0].x), Array.from({ length: 30 }, (_, i) => i));
});
