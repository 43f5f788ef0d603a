/**
 * The smooth learner's streaming moment passes (src/learn/identify/smooth-moments.ts) and its `--hidden auto` rank
 * rule, on planted tanh IO-RNNs whose number of neurons is known.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeChunk, type SequenceChunk } from '../src/io/dataset.js';
import { fitVAR1Sync } from '../src/input/fit.js';
import { randomIORNN, simulateIORNN } from '../src/models/simulate.js';
import { fitRNN } from '../src/learn/fit.js';
import { OptionError } from '../src/io/errors.js';
import { Rng } from '../src/random/rng.js';
import { memoryRunner, orderMoments, pass2InMemory } from '../src/learn/identify/smooth-moments.js';
import { varInputs } from '../bench/activations-data.js';

/** Planted tanh IO-RNN with dh neurons (dx 5, dy 4, ‖U‖₂ 0.7), VAR(1) unit-variance inputs, 5% output noise. */
function planted(dh: number, rows: number, seed: number): SequenceChunk {
  const truth = randomIORNN({ dx: 5, dh, dy: 4, uNorm: 0.7, seed: 200 + seed + 10 * dh, activation: { name: 'tanh' } });
  return simulateIORNN(truth, varInputs(5, rows / 20, 20, 0.5, 40 + seed), { noise: 0.05, seed: 50 + seed });
}

/** Split a chunk into pieces of whole sequences (sizes cycling through `sizes`). */
function split(c: SequenceChunk, sizes: number[]): SequenceChunk[] {
  const out: SequenceChunk[] = [];
  let k = 0, row = 0, i = 0;
  while (k < c.lengths.length) {
    const n = Math.min(sizes[i++ % sizes.length], c.lengths.length - k);
    const lens = Array.from(c.lengths.slice(k, k + n));
    const rows = lens.reduce((a, b) => a + b, 0);
    out.push(makeChunk(c.dx, c.dy, c.x.slice(row * c.dx, (row + rows) * c.dx), c.y.slice(row * c.dy, (row + rows) * c.dy), lens));
    k += n;
    row += rows;
  }
  return out;
}

test('streaming: the T3 halves and the scale-fit sample do not depend on how the sequences are chunked', async () => {
  // The moments are sums over sequences; the halves and the sample are chosen by global sequence index. So any
  // chunking gives the same sums up to rounding (1e-12 relative) and the same sampled rows (exactly).
  const tr = planted(2, 4000, 1);
  const model = fitVAR1Sync(tr).model;
  const p2 = pass2InMemory([tr], model);
  const whole = await orderMoments(memoryRunner([tr]), model, p2, 5, 4, { hidden: 2, sampleRows: 500 });
  const pieces = await orderMoments(memoryRunner(split(tr, [3, 17, 1, 40])), model, p2, 5, 4, { hidden: 2, sampleRows: 500 });
  for (const h of [0, 1]) {
    const a = whole.T3[h], b = pieces.T3[h];
    const scale = Math.max(...Array.from(a, Math.abs));
    for (let e = 0; e < a.length; e++) assert.ok(Math.abs(a[e] - b[e]) <= 1e-12 * scale, `half ${h} entry ${e}: ${a[e]} vs ${b[e]}`);
  }
  const rowsOf = (s: SequenceChunk[]) => s.flatMap((c) => Array.from(c.y));
  assert.deepEqual(rowsOf(pieces.sample), rowsOf(whole.sample));
  assert.ok(whole.sample.reduce((n, c) => n + c.rows, 0) <= 520);
  // Pass 2 in memory is also chunking-invariant (T2 halves by global index).
  const p2b = pass2InMemory(split(tr, [5, 2]), model);
  for (const h of [0, 1]) for (let e = 0; e < p2.T2[h].length; e++) assert.ok(Math.abs(p2.T2[h][e] - p2b.T2[h][e]) <= 1e-12 * Math.max(1, Math.abs(p2.T2[h][e])));
});

test('--hidden auto with tanh picks the planted number of neurons (dh = 2 and 3; dx 5, dy 4, 5e4 rows) through the pipeline', async () => {
  // Measured at 2e4 and 1e5 rows over 3 seeds each for dh = 1..4: kept components stand 2.4–27× above T3's noise
  // floor, the first dropped one ≤ 1.2× (threshold 2×); T2 shows nothing for tanh (E σ″ = 0 for symmetric inputs).
  for (const dh of [2, 3]) {
    const r = await fitRNN(planted(dh, 5e4, 2), { activation: { name: 'tanh' }, hidden: 'auto', seed: 1, refine: false });
    assert.equal(r.learner, 'smooth');
    const d = r.diagnostics as Extract<typeof r.diagnostics, { learner: 'smooth' }>;
    assert.equal(d.smooth.hidden.auto, true);
    assert.equal(d.smooth.hidden.chosen, dh, d.smooth.hidden.rank?.rule);
    assert.equal(r.params.A1.rows, dh);
    assert.equal(d.smooth.hidden.rank?.rank2, 0, 'tanh with zero-mean inputs: E[y ⊗ S2] has no component');
    assert.equal(d.smooth.order?.m, 3);
  }
});

test('--hidden auto with tanh on outputs independent of the inputs: an OptionError, not a model', async () => {
  const inp = varInputs(5, 500, 20, 0.5, 3);
  const rng = new Rng(4);
  const data = makeChunk(5, 4, inp.x, Float64Array.from({ length: inp.rows * 4 }, () => rng.normal()), inp.lengths);
  await assert.rejects(fitRNN(data, { activation: { name: 'tanh' }, hidden: 'auto', seed: 1, refine: false }), (e: unknown) => {
    assert.ok(e instanceof OptionError);
    assert.match(e.message, /auto: no singular value of E\[y ⊗ S2\] or E\[r ⊗ S3\] stands above/);
    return true;
  });
});
