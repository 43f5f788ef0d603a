import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { chooseStart, linearRegimeStart, linearRouteStart, sampleMSE } from '../src/learn/linear-start.js';
import { forwardIORNN, predictIORNN } from '../src/models/iornn.js';
import { simulateInputs } from '../src/models/simulate.js';
import type { IORNNParams } from '../src/models/params.js';
import { makeChunk } from '../src/io/dataset.js';
import { Rng } from '../src/random/rng.js';

// A planted linear IO-RNN with more states than inputs (dh = 4 > dx = 1), poles 0.9 and 0.8·e^{±0.6i}, 0.5 — a
// lightly damped resonance like an oscillator's. Input: VAR(1), ρ = 0.5, variance 3 (far from unit scale on purpose).
const LIN: IORNNParams = {
  kind: 'iornn',
  A1: Matrix.from([[1], [0.5], [-0.3], [0.8]]),
  U: Matrix.from([
    [0.9, 0, 0, 0],
    [0, 0.8 * Math.cos(0.6), -0.8 * Math.sin(0.6), 0],
    [0, 0.8 * Math.sin(0.6), 0.8 * Math.cos(0.6), 0],
    [0, 0, 0, 0.5],
  ]),
  A2: Matrix.from([[0.7], [-1.2], [0.4], [2]]),
  b: Float64Array.from([0.3]),
  activation: { coefficients: [0, 1] },
};
const X = simulateInputs({ dx: 1, nSeq: 20, seqLength: 500, rho: 0.5, sigma: Math.sqrt(3), seed: 4 });
const SAMPLE = [makeChunk(1, 1, X.x, predictIORNN(LIN, X), X.lengths)];

function nmse(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (const v of b) m += v / b.length;
  let e = 0, t = 0;
  for (let i = 0; i < a.length; i++) {
    e += (a[i] - b[i]) ** 2;
    t += (b[i] - m) ** 2;
  }
  return e / t;
}

test('linear-regime start: exact for σ = identity, every state at the target RMS', () => {
  const s = linearRegimeStart(LIN, SAMPLE, { activation: { coefficients: [0, 1] }, target: 0.3 });
  const { hidden, yhat } = forwardIORNN(s.params, SAMPLE[0]);
  for (let j = 0; j < 4; j++) {
    let ss = 0;
    for (let r = 0; r < SAMPLE[0].rows; r++) ss += hidden[r * 4 + j] ** 2;
    assert.ok(Math.abs(Math.sqrt(ss / SAMPLE[0].rows) - 0.3) < 1e-12, `state ${j}`);
  }
  // Same input–output map (a change of state basis): predictions agree to rounding.
  assert.ok(nmse(yhat, SAMPLE[0].y) < 1e-24);
});

test('linear-regime start with σ(z) = z − z³/3 (tanh to third order) predicts like the linear model, error ∝ s⁴', () => {
  const cubic = { coefficients: [0, 1, 0, -1 / 3] };
  const e = [0.2, 0.1].map((target) => nmse(predictIORNN(linearRegimeStart(LIN, SAMPLE, { activation: cubic, target }).params, SAMPLE[0]), SAMPLE[0].y));
  // Per step the mean-square deviation is (5/3)s⁴ relative (Gaussian pre-activations); the recursion (pole 0.9)
  // carries it over ≈ 1/(1−0.9²) ≈ 5 steps: < 10·(5/3)·s⁴ = 2.7e-2 at s = 0.2 is a safe bound.
  assert.ok(e[0] < 10 * (5 / 3) * 0.2 ** 4, `NMSE at s=0.2: ${e[0]}`);
  assert.ok(e[0] > 0, 'the cubic term must change something');
  // Halving s divides the error by ≈ 2⁴ = 16 (the leading term is s⁴); ≥ 8 allows for the next order.
  assert.ok(e[0] / e[1] > 8, `ratio ${e[0] / e[1]}`);
});

test('chooseStart picks the lowest-error candidate, skips blow-ups and failures, and falls back when all fail', () => {
  const cubic = { coefficients: [0, 1, 0, -1 / 3] };
  const good = () => linearRegimeStart(LIN, SAMPLE, { activation: cubic }).params;
  // An explosive start: U = 3·I with a cubic σ escapes on the first large input.
  const bad = (): IORNNParams => ({ ...LIN, U: Matrix.from([[3, 0, 0, 0], [0, 3, 0, 0], [0, 0, 3, 0], [0, 0, 0, 3]]), A1: Matrix.from([[5], [5], [5], [5]]), activation: cubic });
  const zeroU: IORNNParams = { ...LIN, U: new Matrix(4, 4), activation: cubic };
  const r = chooseStart(
    [
      { name: 'spectral', build: bad, why: 'moment estimate' },
      { name: 'linear-realization', build: good, why: 'K > dx: linear realization in the linear regime' },
      { name: 'broken', build: () => { throw new Error('dh > dx: not identifiable'); }, why: '' },
    ],
    SAMPLE,
    { name: 'feed-forward (U = 0)', params: zeroU },
  );
  assert.equal(r.choice.used, 'linear-realization');
  assert.match(r.choice.reason, /K > dx: linear realization/);
  assert.match(r.choice.reason, /spectral failed: .*blow|escap|diverg/i);
  assert.match(r.choice.reason, /broken failed: dh > dx/);
  assert.ok(r.choice.candidates.find((c) => c.name === 'linear-realization')!.mse! < 0.05 * sampleMSE(zeroU, SAMPLE) + 1e-3);
  const f = chooseStart([{ name: 'spectral', build: bad, why: '' }], SAMPLE, { name: 'feed-forward (U = 0)', params: zeroU });
  assert.equal(f.params, zeroU);
  assert.match(f.choice.reason, /fell back to the stable feed-forward \(U = 0\) start/);
});

test('linearRouteStart takes the largest scale whose start reproduces the linear model, and says so', () => {
  const cubic = { coefficients: [0, 1, 0, -1 / 3] };
  // Outputs with noise (so the linear model's own MSE is the noise variance, not 0): y + N(0, 0.3²), seeded.
  const rng = new Rng(8);
  const noisy = [makeChunk(1, 1, SAMPLE[0].x, SAMPLE[0].y.map((v) => v + 0.3 * rng.normal()), SAMPLE[0].lengths)];
  const r = linearRouteStart(LIN, noisy, { activation: cubic, targets: [1.5, 0.8, 0.2, 0.05], tolerance: 1.25 });
  // Independent check of the rule: every larger scale tried failed the tolerance, the chosen one passed it.
  const chosen = r.tried.findIndex((t) => t.target === r.target);
  assert.ok(chosen >= 0);
  assert.ok(r.tried[chosen].mse <= 1.25 * r.linearMse);
  for (let k = 0; k < chosen; k++) assert.ok(r.tried[k].mse > 1.25 * r.linearMse, `s=${r.tried[k].target} should have failed`);
  assert.ok(chosen > 0, 'with s = 1.5 the cubic σ is far from linear: the first candidate must fail');
  assert.match(r.reason, /largest pre-activation RMS s = /);
  assert.equal(r.params.activation, cubic);
});
