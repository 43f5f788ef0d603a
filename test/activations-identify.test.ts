/**
 * Spectral start for smooth activations (src/learn/identify/smooth.ts) on planted models: the order m chosen from
 * the data, the directions, and the acceptance scenario end to end (start + refinement with the true σ),
 * measured against the planted model's noise-free held-out outputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { fitVAR1Sync } from '../src/input/fit.js';
import { predictIORNN } from '../src/models/iornn.js';
import { randomIORNN, simulateInputs, simulateIORNN } from '../src/models/simulate.js';
import { refine } from '../src/learn/refine.js';
import { nmse } from '../src/metrics/nmse.js';
import { activationDerivative, chooseOrder, smoothDirections } from '../src/learn/identify/smooth.js';
import { identifySmooth, memoryRunner, orderMoments, pass2InMemory } from '../src/learn/identify/smooth-moments.js';
import { tanhData } from '../bench/activations-data.js';

test('activationDerivative: closed forms agree with central differences of σ (tanh, sigmoid, softplus; m = 1..3)', () => {
  // Central differences of the (m−1)-th derivative, h = 1e-5: truncation ≈ h²·|σ^(m+2)|/6 < 1e-10.
  for (const name of ['tanh', 'sigmoid', 'softplus'] as const)
    for (const z of [-2.3, -0.4, 0, 0.7, 3.1])
      for (let m = 1; m <= 3; m++) {
        const h = 1e-5;
        const fd = (activationDerivative({ name }, z + h, m - 1) - activationDerivative({ name }, z - h, m - 1)) / (2 * h);
        assert.ok(Math.abs(fd - activationDerivative({ name }, z, m)) < 1e-8, `${name} m=${m} z=${z}`);
      }
});

test('order rule: m = 3 for tanh with symmetric pre-activations, m = 2 when a nonzero input mean biases them; directions recovered', async () => {
  const truth = randomIORNN({ dx: 4, dh: 2, dy: 3, uNorm: 0.5, seed: 7, activation: { name: 'tanh' } });
  for (const [mean, want] of [[[0, 0, 0, 0], 3], [[1.2, -1, 0.9, 1.1], 2]] as const) {
    const inp = simulateInputs({ dx: 4, nSeq: 3000, seqLength: 20, rho: 0.4, mu: mean, seed: 3 });
    const tr = simulateIORNN(truth, inp, { noise: 0.05, seed: 4 });
    const model = fitVAR1Sync(tr).model;
    const mom = await orderMoments(memoryRunner([tr]), model, pass2InMemory([tr], model), 4, 3, { hidden: 2 });
    const ord = chooseOrder(mom, 2);
    assert.equal(ord.m, want, `mean ${mean}: ${ord.reason}`);
    // Directions up to sign and order: best |cos| per true neuron. Tolerance 0.98 (cos 11°) at 6e4 rows: the order-3
    // moment's noise at this n (measured |cos| ≥ 0.995 over seeds).
    const dir = smoothDirections(mom, ord.m, 2, 0);
    for (let j = 0; j < 2; j++) {
      let best = 0;
      for (let k = 0; k < 2; k++) {
        let c = 0;
        for (let a = 0; a < 4; a++) c += truth.A1.get(j, a) * dir.A1.get(k, a);
        best = Math.max(best, Math.abs(c));
      }
      assert.ok(best > 0.98, `mean ${mean}, neuron ${j}: |cos| = ${best}`);
    }
  }
});

test('acceptance: planted tanh IO-RNN (dx 5, dh 3, dy 4, VAR(1) unit-variance inputs, 5% noise, 1e5 rows) → held-out NMSE ≤ 1e-3', async () => {
  const { truth, train, held } = tanhData(1, 1e5);
  const id = await identifySmooth([train], fitVAR1Sync(train).model, { activation: { name: 'tanh' }, hidden: 3 });
  assert.equal(id.order.m, 3, id.order.reason);
  const start = id.starts[0];
  const clean = predictIORNN(truth, held);
  const fitted = refine(start.params, [train]).params;
  const e = nmse(predictIORNN(fitted, held), clean, 4);
  assert.ok(e <= 1e-3, `held-out NMSE ${e}`);
  // The U = 0 model is far worse here (≈ 0.1): the recurrence matters, so the check is not passed by a feed-forward fit.
  const ff = refine({ ...fitted, U: new Matrix(3, 3) }, [train], { refineOutputOnly: true }).params;
  assert.ok(nmse(predictIORNN(ff, held), clean, 4) > 0.03);
});

test('linearRegimeStart: a tanh start from a linear realization matches the linear model to first order (dh = 4 > dx = 2)', async () => {
  // Exactness of the construction, not of a learner: tanh(z) = z − z³/3 + …, so if the start is exact to first
  // order its output error is O(τ²) relative (τ: target pre-activation sd) and the NMSE falls like τ⁴: halving τ
  // divides it by ≈ 16. Any first-order mistake (a wrong scale of A1, U or A2) would leave an NMSE that does not
  // fall with τ. Bounds: ratio in [10, 22] (higher-order terms shift it slightly), and small at τ = 0.025 (τ: every
  // state's pre-activation RMS).
  const { plantedLinear } = await import('../bench/linear-planted.js');
  const { linearRegimeStart } = await import('../src/learn/linear-start.js');
  const lin = plantedLinear(4);
  const inp = simulateInputs({ dx: 2, nSeq: 50, seqLength: 200, rho: 0.5, seed: 5 });
  const y = predictIORNN(lin, inp);
  const ch = { ...inp, dy: 2, y };
  const at = (tau: number) => nmse(predictIORNN(linearRegimeStart(lin, [ch], { activation: { name: 'tanh' }, target: tau }).params, inp), y, 2);
  const e1 = at(0.05), e2 = at(0.025);
  assert.ok(e1 / e2 > 10 && e1 / e2 < 22, `NMSE ${e1} (τ = 0.05) and ${e2} (τ = 0.025): ratio ${e1 / e2}`);
  // Absolute size: every state's RMS is at τ, so the per-step relative deviation is (5/3)τ⁴ ≈ 6.5e-7, amplified by
  // the recursion's memory (≈ 1/(1 − ρ²) steps for pole radius ρ); measured 1.4e-5 here, 3e-5 bounds it.
  assert.ok(e2 < 3e-5, `τ = 0.025: NMSE ${e2}`);
});
