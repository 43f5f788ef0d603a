import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { makeChunk, sliceSequences } from '../src/io/dataset.js';
import { Rng } from '../src/random/rng.js';
import { accumulateStatesLS, forwardIORNN, BlowUpError } from '../src/models/iornn.js';
import { randomIORNN, simulateInputs } from '../src/models/simulate.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import { T2Accumulator } from '../src/moments/single.js';
import { momentPass } from '../src/moments/accumulator.js';

/**
 * The fused fast paths of the learner's passes against the plain computations they replace (independent
 * ground truth: the straightforward formulas on the same data).
 */

function bruteNormal(hidden: Float64Array, y: Float64Array, rows: number, dh: number, dy: number) {
  const m = dh + 1, G = new Float64Array(m * m), C = new Float64Array(m * dy);
  for (let r = 0; r < rows; r++) {
    const g = [...hidden.subarray(r * dh, (r + 1) * dh), 1];
    for (let a = 0; a < m; a++) {
      for (let b = 0; b < m; b++) G[a * m + b] += g[a] * g[b];
      for (let i = 0; i < dy; i++) C[a * dy + i] += g[a] * y[r * dy + i];
    }
  }
  return { G, C };
}

test('accumulateStatesLS equals the normal equations built from predicted hidden states (model and U = 0 copy)', () => {
  const p = randomIORNN({ dx: 3, dh: 2, dy: 3, uNorm: 0.3, seed: 4, activation: { coefficients: [0.1, -0.2, 1] } });
  const inputs = simulateInputs({ dx: 3, nSeq: 40, seqLength: [1, 9], rho: 0.5, sigma: 0.5, seed: 3 });
  const rng = new Rng(8);
  const chunk = makeChunk(3, 3, inputs.x, rng.normalArray(inputs.rows * 3), inputs.lengths);
  const m = 3;
  const acc = { G: new Float64Array(m * m), C: new Float64Array(m * 3) };
  const ff = { G: new Float64Array(m * m), C: new Float64Array(m * 3) };
  assert.equal(accumulateStatesLS(p, chunk, acc.G, acc.C, { feedforward: ff }), null);
  const check = (got: { G: Float64Array; C: Float64Array }, params: typeof p, label: string): void => {
    const want = bruteNormal(forwardIORNN(params, chunk).hidden, chunk.y, chunk.rows, 2, 3);
    for (let a = 0; a < m; a++)
      for (let b = a; b < m; b++) assert.ok(Math.abs(got.G[a * m + b] - want.G[a * m + b]) <= 1e-12 * (1 + Math.abs(want.G[a * m + b])), `${label} G[${a},${b}]`);
    for (let k = 0; k < want.C.length; k++) assert.ok(Math.abs(got.C[k] - want.C[k]) <= 1e-12 * (1 + Math.abs(want.C[k])), `${label} C[${k}]`);
  };
  check(acc, p, 'model');
  check(ff, { ...p, U: new Matrix(2, 2) }, 'U = 0');
  // A model that escapes: the error names the sequence and step, and the U = 0 sums still cover the chunk.
  const wild = { ...p, U: Matrix.from([[40, 0], [0, 40]]) };
  const ff2 = { G: new Float64Array(m * m), C: new Float64Array(m * 3) };
  const e = accumulateStatesLS(wild, chunk, new Float64Array(m * m), new Float64Array(m * 3), { feedforward: ff2 });
  assert.ok(e instanceof BlowUpError, 'blow-up reported');
  check(ff2, { ...p, U: new Matrix(2, 2) }, 'U = 0 after a blow-up');
});

test('T2 with a sequence mask equals T2 of the selected sequences copied out', () => {
  const model = new GaussianVAR1([0.1, -0.1], Matrix.from([[0.5, 0.1], [0, 0.4]]), Matrix.from([[1, 0.2], [0.2, 0.8]]));
  const rng = new Rng(2);
  const lengths = [3, 1, 5, 2, 4, 6];
  const rows = lengths.reduce((a, b) => a + b, 0);
  const chunk = makeChunk(2, 2, rng.normalArray(rows * 2), rng.normalArray(rows * 2), lengths);
  const masked = new T2Accumulator(model, 2);
  masked.sequenceMask = Uint8Array.from([1, 0, 1, 0, 1, 0]);
  momentPass(model, chunk, [masked]);
  const copied = new T2Accumulator(model, 2);
  for (const k of [0, 2, 4]) momentPass(model, sliceSequences(chunk, k, k + 1), [copied]);
  assert.equal(masked.count, copied.count);
  const a = masked.result(), b = copied.result();
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-13 * (1 + Math.abs(b[i])), `entry ${i}: ${a[i]} vs ${b[i]}`);
});
