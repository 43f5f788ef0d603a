import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeChunk, memorySource, type SequenceChunk } from '../src/io/dataset.js';
import { SpillSource } from '../src/io/spill.js';

// The spill's read-ahead (`--workers N ≥ 2`) reads later passes on the I/O thread: every replayed chunk must be the
// chunk first delivered, value for value, with its flags and sequence offset, also after a pass that stopped early.

function chunks(): SequenceChunk[] {
  const out: SequenceChunk[] = [];
  let v = 0;
  for (let k = 0; k < 7; k++) {
    const lengths = [3 + k, 1, 5];
    const rows = lengths.reduce((a, b) => a + b, 0);
    const x = Float64Array.from({ length: rows * 2 }, () => Math.sin(++v) * 1e3);
    const y = Float64Array.from({ length: rows }, () => Math.cos(++v) / 7);
    const c = makeChunk(2, 1, x, y, lengths);
    // A piece that continues into the next chunk, and the next chunk continuing it.
    out.push(k === 2 ? { ...c, continues: true } : k === 3 ? { ...c, continued: true } : c);
  }
  return out;
}

const view = (c: SequenceChunk) => [Array.from(c.x), Array.from(c.y), Array.from(c.lengths), !!c.continued, !!c.continues, (c as { sequenceOffset?: number }).sequenceOffset];

async function all(src: SpillSource, stopAfter = Infinity): Promise<SequenceChunk[]> {
  const got: SequenceChunk[] = [];
  for await (const c of src.chunks()) {
    if (got.length >= stopAfter) break;
    got.push(c);
  }
  return got;
}

test('spill: the read-ahead replay gives the chunks of the first pass, also after a pass that stopped early', async () => {
  const given = chunks();
  const sources = [new SpillSource(memorySource(given)), new SpillSource(memorySource(given), { readAhead: true })];
  try {
    const first = await Promise.all(sources.map((s) => all(s)));
    for (const f of first) assert.deepEqual(f.map((c) => view(c).slice(0, 5)), given.map((c) => view(c).slice(0, 5)));
    const [plain, ahead] = [await all(sources[0]), await all(sources[1])];
    assert.equal(ahead.length, given.length);
    assert.deepEqual(ahead.map(view), plain.map(view));
    // Offsets count a continued sequence once: 3 sequences per chunk, one of them shared by chunks 2 and 3.
    assert.deepEqual(ahead.map((c) => (c as { sequenceOffset?: number }).sequenceOffset), [0, 3, 6, 8, 11, 14, 17]);
    assert.equal((await all(sources[1], 2)).length, 2);
    assert.deepEqual((await all(sources[1])).map(view), plain.map(view));
  } finally {
    for (const s of sources) s.close();
  }
});
