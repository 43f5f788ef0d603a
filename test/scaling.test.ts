import { test } from 'node:test';
import assert from 'node:assert/strict';
import { foldScaling, scaleChunk, scalingFromJSON, scalingFromMoments, scalingToJSON, unscaleOutputs } from '../src/models/scaling.js';
import { predict } from '../src/models/brnn.js';
import { randomBRNN, randomIORNN, simulateIORNN, simulateInputs } from '../src/models/simulate.js';
import { makeChunk, memorySource } from '../src/io/dataset.js';
import { fitRNN } from '../src/learn/fit.js';
import { scaledSource, scalingOf, standardisationPass } from '../src/learn/standardise.js';
import { modelFromJSON, modelToJSON } from '../src/models/serialize.js';
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

test('standardisationPass: column means and variances over several chunks equal the brute-force ones; scaledSource yields the standardised chunks', async () => {
  const c = voltsChunk(6, 3, 2, [40, 7, 120, 33]);
  // Four chunks of one sequence each: the per-chunk sums are merged (Chan's rule), compared with one pass over all rows.
  const parts = [0, 40, 47, 167, 200].slice(0, -1).map((r0, k, a) => {
    const r1 = [40, 47, 167, 200][k];
    void a;
    return makeChunk(3, 2, c.x.slice(r0 * 3, r1 * 3), c.y.slice(r0 * 2, r1 * 2), [r1 - r0]);
  });
  const m = await standardisationPass(memorySource(parts));
  const bx = columnMoments(c.x, 3), by = columnMoments(c.y, 2);
  const close = (a: Float64Array, b: Float64Array) => a.every((v, i) => Math.abs(v - b[i]) < 1e-12 * (1 + Math.abs(b[i])));
  assert.ok(close(m.x.mean, bx.mean) && close(m.x.variance, bx.variance), 'x moments');
  assert.ok(close(m.y.mean, by.mean) && close(m.y.variance, by.variance), 'y moments');
  assert.equal(m.rows, 200);
  const s = scalingOf(m)!;
  let k = 0;
  for await (const z of scaledSource(memorySource(parts), s).chunks()) assert.deepEqual(Array.from(z.x), Array.from(scaleChunk(parts[k++], s).x));
  // A constant column cannot be standardised: no scaling (the learner's own checks then name the column).
  const flat = makeChunk(1, 1, new Float64Array(10).fill(2), Float64Array.from({ length: 10 }, (_, i) => i), [10]);
  assert.equal(scalingOf(await standardisationPass(memorySource(flat))), null);
});

for (const act of ['linear', 'tanh'] as const) {
  test(`fitRNN standardises inside the learner (${act}): data in "volts" (x·300 + 7, y·2e-3 − 0.4) give the rescaled predictions of the unit-scale fit, through the model file`, async () => {
    // Planted tanh / linear IO-RNN with dh = 2 > dx = 1 (the linear route for tanh).
    const truth = { ...randomIORNN({ dx: 1, dh: 2, dy: 1, seed: 11, uNorm: 0.5 }), activation: { name: act } } as ReturnType<typeof randomIORNN>;
    const inputs = simulateInputs({ dx: 1, nSeq: 40, seqLength: 200, rho: 0.5, seed: 12 });
    const unit = simulateIORNN(truth, inputs, { seed: 13, noise: 0.02 });
    const test_ = simulateIORNN(truth, simulateInputs({ dx: 1, nSeq: 10, seqLength: 200, rho: 0.5, seed: 14 }), { seed: 15, noise: 0 });
    const volts = (c: typeof unit) => makeChunk(1, 1, c.x.map((v) => 300 * v + 7), c.y.map((v) => 2e-3 * v - 0.4), c.lengths);
    const opts = { activation: { name: act }, hidden: 2, seed: 1 } as const;
    const a = await fitRNN(unit, opts);
    const b = await fitRNN(volts(unit), opts);
    const ya = predict(a.params, test_);
    // Through the model file: the stored inputShift is applied by predict after loading.
    const loaded = modelFromJSON(JSON.parse(JSON.stringify(modelToJSON(b.params, { inputModel: b.inputModel.toJSON(), diagnostics: b.diagnostics }))));
    const yb = predict(loaded.params, volts(test_));
    let diff = 0, res = 0, tot = 0;
    const ym = test_.y.reduce((s, v) => s + v, 0) / test_.y.length;
    for (let i = 0; i < ya.length; i++) {
      // Both fits see the same standardised data up to rounding (standardisation removes any affine map of a
      // column), so their predictions agree to far below the noise (0.02): 1e-6 in unit-scale output units.
      diff = Math.max(diff, Math.abs((yb[i] + 0.4) / 2e-3 - ya[i]));
      res += (ya[i] - test_.y[i]) ** 2;
      tot += (test_.y[i] - ym) ** 2;
    }
    assert.ok(diff < 1e-6, `max difference ${diff}`);
    // And the fit is a real one: held-out NMSE against the noise-free planted outputs.
    assert.ok(res / tot < 0.05, `held-out NMSE ${res / tot}`);
    const d = b.diagnostics as { standardisation?: { scaling: { x: { shift: number[]; scale: number[] } } } };
    assert.ok(d.standardisation && Math.abs(d.standardisation.scaling.x.shift[0] - 7) < 300 * 0.5, 'scaling stored in the diagnostics');
    assert.ok(loaded.params.inputShift && loaded.params.inputShift.length === 1, 'input shift stored in the model file');
    // The stored input model speaks volts: its mean is the input mean in volts (x̄ ≈ 7 + 300·mean of a zero-mean input).
    assert.ok(Math.abs(b.inputModel.mean[0] - 7) < 300 * 0.5, `input model mean ${b.inputModel.mean[0]}`);
  });
}
