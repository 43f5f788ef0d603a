import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import { ScaledInputModel } from '../src/input/scaled.js';
import { inputModelFromJSON } from '../src/input/model.js';
import { fitRNN } from '../src/learn/fit.js';
import { OptionError } from '../src/io/errors.js';
import { makeChunk } from '../src/io/dataset.js';
import { randomIORNN, simulateIORNN, simulateInputs } from '../src/models/simulate.js';

test('ScaledInputModel: scores and precision of an i.i.d. Gaussian seen through x = c + D x̃ equal the closed form Σ⁻¹(x − μ), Σ = DΣ̃D, μ = c + Dμ̃', () => {
  const St = Matrix.from([[1.5, 0.4], [0.4, 0.8]]), mt = [0.3, -0.2];
  const c = Float64Array.from([5, -1]), d = Float64Array.from([200, 0.01]);
  const m = new ScaledInputModel(GaussianVAR1.iid(mt, St), c, d);
  // Closed form in the data's units (2×2 inverse by hand).
  const S = [[d[0] * d[0] * 1.5, d[0] * d[1] * 0.4], [d[0] * d[1] * 0.4, d[1] * d[1] * 0.8]];
  const det = S[0][0] * S[1][1] - S[0][1] * S[1][0];
  const P = [[S[1][1] / det, -S[0][1] / det], [-S[1][0] / det, S[0][0] / det]];
  const mu = [c[0] + d[0] * mt[0], c[1] + d[1] * mt[1]];
  assert.ok(Math.abs(m.mean[0] - mu[0]) < 1e-12 * 100 && Math.abs(m.mean[1] - mu[1]) < 1e-15 * 10);
  const x = Float64Array.from([7, -1.01, 3, -0.99, 5.5, -1.002]);
  const out = new Float64Array(6);
  m.scoreSequence(x, 3, out);
  for (let t = 0; t < 3; t++)
    for (let a = 0; a < 2; a++) {
      const want = P[a][0] * (x[2 * t] - mu[0]) + P[a][1] * (x[2 * t + 1] - mu[1]);
      // Relative 1e-9: the two routes round differently, and the columns' scales differ by 2e4.
      assert.ok(Math.abs(out[2 * t + a] - want) <= 1e-9 * Math.abs(want) + 1e-12, `t=${t} a=${a}: ${out[2 * t + a]} vs ${want}`);
    }
  const B = m.precisionBlock(1, 1, 3)!;
  for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) assert.ok(Math.abs(B.get(a, b) - P[a][b]) <= 1e-9 * Math.abs(P[a][b]));
  assert.equal(m.precisionBlock(0, 0, 3), m.precisionBlock(2, 2, 3), 'equal blocks are the same object (Wick grouping)');
  // JSON round trip through the registry gives the same scores.
  const back = inputModelFromJSON(JSON.parse(JSON.stringify(m.toJSON())));
  const out2 = new Float64Array(6);
  back.scoreSequence(x, 3, out2);
  assert.deepEqual(Array.from(out2), Array.from(out));
});

test('fitRNN --input-model varp: order chosen by BIC in the diagnostics, the stored input model is the VAR(p) in the data units; inputOrder only with varp', async () => {
  const truth = { ...randomIORNN({ dx: 1, dh: 2, dy: 1, seed: 21, uNorm: 0.5 }), activation: { name: 'linear' as const } };
  const raw = simulateIORNN(truth, simulateInputs({ dx: 1, nSeq: 20, seqLength: 300, rho: 0.7, seed: 22 }), { seed: 23, noise: 0.02 });
  const data = makeChunk(1, 1, raw.x.map((v) => 3 + 10 * v), raw.y, raw.lengths);
  const r = await fitRNN(data, { activation: { name: 'linear' }, hidden: 2, inputModel: 'varp', seed: 1 });
  const im = r.diagnostics.inputModel as { kind?: string; order?: number; bic?: (number | null)[] };
  assert.equal(im.kind, 'varp');
  // The input is an AR(1) (rho 0.7): BIC must not pick order 0, and every order's BIC is reported.
  assert.ok(typeof im.order === 'number' && im.order >= 1, `order ${im.order}`);
  assert.equal(im.bic?.length, 9);
  const json = r.inputModel.toJSON() as { kind: string; inner: { kind: string } };
  assert.equal(json.kind, 'scaled');
  assert.equal(json.inner.kind, 'gaussian-varp');
  assert.ok(Math.abs(r.inputModel.mean[0] - 3) < 10 * 0.5, `input mean in data units ${r.inputModel.mean[0]}`);
  await assert.rejects(fitRNN(data, { activation: { name: 'linear' }, hidden: 2, inputOrder: 2 }), (e) => e instanceof OptionError && /inputOrder only applies to inputModel varp/.test(e.message));
});
