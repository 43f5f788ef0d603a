import { test } from 'node:test';
import assert from 'node:assert/strict';
import { foldScaling, scaleChunk, scalingFromJSON, scalingFromMoments, scalingToJSON, unscaleOutputs } from '../src/models/scaling.js';
import { predict } from '../src/models/brnn.js';
import { randomBRNN, randomIORNN, simulateIORNN, simulateInputs } from '../src/models/simulate.js';
import { makeChunk, memorySource } from '../src/io/dataset.js';
import { fitRNN } from '../src/learn/fit.js';
import { VAR1Stats } from '../src/input/fit.js';
import { scalingFromPass, scaleVAR1Stats, scaledSource } from '../src/learn/standardise.js';
import { Rng } from '../src/random/rng.js';

/** Data "in volts": every column has its own offset and scale, far from unit variance. */
function voltsChunk(seed: number, dx: number, dy: number, lengths: number[]) {
  const rng = new Rng(seed);
  const rows = lengths.reduce((a, b) => a + b, 0);
  const x = new Float64Array(rows * dx), y = new Float64Array(rows * dy);
  for (let r = 0; r < rows; r++) {
    for (let a = 0; a < dx; a++) x[r * dx + a] = 1.5 * (a + 1) + 0.03 * (a + 1) * rng.normal();
    for (let i = 0; i < dy; i++) y[r * dy + i] = -0.2 + 4e-3 * (i + 1) * rng.normal();
  }
  return makeChunk(dx, dy, x, y, lengths);
}

function columnMoments(v: Float64Array, d: number) {
  const n = v.length / d, mean = new Float64Array(d), variance = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let a = 0; a < d; a++) mean[a] += v[r * d + a] / n;
  for (let r = 0; r < n; r++) for (let a = 0; a < d; a++) variance[a] += (v[r * d + a] - mean[a]) ** 2 / n;
  return { mean, variance };
}

function shifted(chunk: ReturnType<typeof voltsChunk>, shift: Float64Array) {
  const x = chunk.x.slice();
  for (let r = 0; r < chunk.rows; r++) for (let a = 0; a < chunk.dx; a++) x[r * chunk.dx + a] -= shift[a];
  return makeChunk(chunk.dx, chunk.dy, x, chunk.y, chunk.lengths);
}

test('scaleChunk standardises every column exactly (mean 0, variance 1) and unscaleOutputs inverts it', () => {
  const c = voltsChunk(1, 3, 2, [40, 60, 100]);
  const s = scalingFromMoments(columnMoments(c.x, 3), columnMoments(c.y, 2));
  const z = scaleChunk(c, s);
  for (const [v, d] of [[z.x, 3], [z.y, 2]] as const) {
    const m = columnMoments(v, d);
    for (let a = 0; a < d; a++) {
      assert.ok(Math.abs(m.mean[a]) < 1e-12, `mean ${m.mean[a]}`);
      assert.ok(Math.abs(m.variance[a] - 1) < 1e-12, `variance ${m.variance[a]}`);
    }
  }
  const back = unscaleOutputs(z.y.slice(), s);
  for (let i = 0; i < back.length; i++) assert.ok(Math.abs(back[i] - c.y[i]) < 1e-15 * 8);
});

test('folded parameters on (x − shift) predict exactly what scale → predict → unscale gives (IO-RNN and BRNN)', () => {
  const c = voltsChunk(2, 3, 2, [30, 50]);
  const s = scalingFromMoments(columnMoments(c.x, 3), columnMoments(c.y, 2));
  for (const params of [
    { ...randomIORNN({ dx: 3, dh: 4, dy: 2, seed: 7, activation: '0,1,0.3,-0.2', uNorm: 0.4 }), b: Float64Array.from([0.3, -0.1]) },
    randomBRNN({ dx: 3, dh: 2, dz: 2, dy: 2, seed: 8, activation: '0,1,0,-0.3', uNorm: 0.3 }),
  ]) {
    const viaScaled = unscaleOutputs(predict(params, scaleChunk(c, s)), s);
    const f = foldScaling(params, s);
    const viaFolded = predict(f.params, shifted(c, f.inputShift));
    let err = 0, ref = 0;
    for (let i = 0; i < viaScaled.length; i++) {
      err = Math.max(err, Math.abs(viaScaled[i] - viaFolded[i]));
      ref = Math.max(ref, Math.abs(viaScaled[i]));
    }
    // Same recursion; only the order of the rounding differs (A1 (x/s) vs (A1/s) x): relative 1e-12.
    assert.ok(err < 1e-12 * ref, `${params.kind}: ${err} vs scale ${ref}`);
    // And folding really changes the matrices (not a no-op that would pass trivially).
    assert.ok(Math.abs(f.params.A1.data[0] - params.A1.data[0]) > 1e-3);
  }
});

test('a model fitted on standardised data, folded back, predicts volts like scale → predict → unscale', async () => {
  // Planted z² IO-RNN on unit-variance inputs, then everything re-expressed in "volts".
  const truth = randomIORNN({ dx: 2, dh: 2, dy: 2, seed: 3, uNorm: 0.2 });
  const inputs = simulateInputs({ dx: 2, nSeq: 100, seqLength: 50, rho: 0.3, seed: 4, sigma: 0.5 });
  const clean = simulateIORNN(truth, inputs, { seed: 5, noise: 0.05 });
  const x = clean.x.map((v, i) => 2 + (i % 2 === 0 ? 0.05 : 0.2) * v), y = clean.y.map((v, i) => (i % 2 === 0 ? 0.01 : 3) * v - 0.5);
  const volts = makeChunk(2, 2, x, y, clean.lengths);
  const s = scalingFromMoments(columnMoments(volts.x, 2), columnMoments(volts.y, 2));
  const fit = await fitRNN(scaleChunk(volts, s), { hidden: 2, seed: 1 });
  const a = unscaleOutputs(predict(fit.params, scaleChunk(volts, s)), s);
  const f = foldScaling(fit.params, s);
  const b = predict(f.params, shifted(volts, f.inputShift));
  const ym = columnMoments(volts.y, 2).mean;
  let err = 0;
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]) / s.yScale[i % 2]);
  // Outputs differ per column by a factor 300: compare in each column's own units, relative 1e-11.
  assert.ok(err < 1e-11, `max diff (in output standard deviations) ${err}`);
  // The fit is meaningful in volts: explains most of the output variance (per column, NMSE).
  for (let c = 0; c < 2; c++) {
    let res = 0, tot = 0;
    for (let i = c; i < a.length; i += 2) {
      res += (a[i] - volts.y[i]) ** 2;
      tot += (volts.y[i] - ym[c]) ** 2;
    }
    assert.ok(res / tot < 0.5, `column ${c}: in-sample NMSE ${res / tot}`);
  }
});

test('scaling JSON round trip is exact; bad JSON and constant columns are refused with a named reason', () => {
  const s = scalingFromMoments({ mean: [1.25, -3], variance: [0.01, 4] }, { mean: [0.1], variance: [2.5e-5] });
  const back = scalingFromJSON(JSON.parse(JSON.stringify(scalingToJSON(s))));
  assert.deepEqual(back, s);
  assert.throws(() => scalingFromJSON({ x: { shift: [0], scale: [0] }, y: { shift: [0], scale: [1] } }, 'm.json'), /m\.json: "scaling" "x\.scale" has an entry that is not a positive/);
  assert.throws(() => scalingFromJSON({ x: { shift: [0], scale: [1] } }), /no "y" object/);
  assert.throws(() => scalingFromMoments({ mean: [5], variance: [0] }, { mean: [0], variance: [1] }, { x: ['V1'] }), /column "V1" has variance 0/);
});

test('pass-1 statistics mapped to standardised units equal the statistics of the standardised chunks', async () => {
  const c = voltsChunk(6, 3, 2, [40, 7, 120, 33]);
  const raw = new VAR1Stats(3).add(c);
  const s = scalingFromPass(raw, columnMoments(c.y, 2));
  const direct = new VAR1Stats(3).add(scaleChunk(c, s));
  const mapped = scaleVAR1Stats(raw, s);
  const close = (a: Float64Array, b: Float64Array) => a.every((v, i) => Math.abs(v - b[i]) < 1e-10 * (1 + Math.abs(b[i])));
  assert.ok(close(mapped.mean, direct.mean));
  assert.ok(close(mapped.M2, direct.M2));
  assert.ok(close(mapped.pairMean, direct.pairMean));
  assert.ok(close(mapped.pairM2, direct.pairM2));
  assert.equal(mapped.m, direct.m);
  // Standardised x has unit variance by construction (M2/n on the diagonal).
  for (let a = 0; a < 3; a++) assert.ok(Math.abs(mapped.M2[a * 4] / mapped.n - 1) < 1e-12);
  // And a scaled source yields the standardised chunks.
  const src = scaledSource(memorySource(c), s);
  for await (const z of src.chunks()) assert.deepEqual(Array.from(z.x), Array.from(scaleChunk(c, s).x));
});
