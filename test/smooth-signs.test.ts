/**
 * Neuron signs for σ without sign symmetry (src/learn/identify/smooth-signs.ts). Ground truth: the odd symmetry of
 * tanh (a flipped neuron gives the same outputs exactly) and planted sigmoid RNNs (the truth's sign pattern is known).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { randomIORNN, simulateIORNN } from '../src/models/simulate.js';
import { predictIORNN } from '../src/models/iornn.js';
import { nmse } from '../src/metrics/nmse.js';
import { fitRNN } from '../src/learn/fit.js';
import type { IORNNParams } from '../src/models/params.js';
import { chooseSigns, flipNeurons } from '../src/learn/identify/smooth-signs.js';
import { varInputs } from '../bench/activations-data.js';

/** Planted sigmoid IO-RNN (dx 5, dh 3, dy 4, ‖U‖₂ 0.7, A1 doubled so σ is used over its curved range). */
function plantedSigmoid(seed: number): IORNNParams {
  const t = randomIORNN({ dx: 5, dh: 3, dy: 4, uNorm: 0.7, seed: 300 + seed, activation: { name: 'sigmoid' } });
  return { ...t, A1: new Matrix(3, 5, t.A1.data.map((v) => v * 2)) };
}

test('flipNeurons is the odd symmetry: for tanh the flipped model predicts the same outputs (1e-10); for sigmoid it does not', () => {
  const inp = varInputs(5, 30, 20, 0.5, 1);
  const tanh = randomIORNN({ dx: 5, dh: 3, dy: 4, uNorm: 0.7, seed: 5, activation: { name: 'tanh' } });
  const data = simulateIORNN(tanh, inp, { noise: 0, seed: 2 });
  const y = predictIORNN(tanh, inp);
  const f = flipNeurons(tanh, [1, -1, -1], [data]);
  const yf = predictIORNN(f, inp);
  for (let e = 0; e < y.length; e++) assert.ok(Math.abs(y[e] - yf[e]) < 1e-10, `entry ${e}`);
  // Sigmoid: σ(−z) = 1 − σ(z) adds U_{·j} to the pre-activations (a hidden bias), so even the refitted output layer
  // leaves an error clearly above rounding.
  const sig = plantedSigmoid(1);
  const ds = simulateIORNN(sig, inp, { noise: 0, seed: 2 });
  const e = nmse(predictIORNN(flipNeurons(sig, [1, -1, 1], [ds]), inp), predictIORNN(sig, inp), 4);
  assert.ok(e > 1e-4, `flipped sigmoid NMSE ${e}`);
});

test('chooseSigns recovers the planted sign pattern of a sigmoid RNN from a start with a wrong sign', () => {
  const truth = plantedSigmoid(1);
  const sample = [simulateIORNN(truth, varInputs(5, 150, 20, 0.5, 3), { noise: 0.05, seed: 4 })];
  // Start: the truth with neuron 1 flipped and every weight perturbed by 10% (a start near, not at, the truth).
  const wrong = flipNeurons(truth, [1, -1, 1], sample);
  const perturb = (m: Matrix) => new Matrix(m.rows, m.cols, m.data.map((v, e) => v * (1 + 0.1 * Math.sin(7 * e + 1))));
  const start = { ...wrong, A1: perturb(wrong.A1), U: perturb(wrong.U) };
  const c = chooseSigns(start, sample);
  assert.deepEqual(c.signs, [1, -1, 1]);
  assert.equal(c.tried.length, 8);
  const kept = c.tried.find((t) => t.signs[1] === -1 && t.signs[0] === 1 && t.signs[2] === 1)!.loss;
  for (const t of c.tried) if (t !== c.tried.find((u) => u.loss === kept)) assert.ok(t.loss > kept, `pattern ${t.signs}: ${t.loss} vs ${kept}`);
});

test('sigmoid through the pipeline (5e4 rows, 5% noise): held-out NMSE at the noise floor, where the unsigned start stalled', async () => {
  // Seed 1 is the case where the previous learner's start had one wrong sign and refined only to 1.2e-3 (measured);
  // with the sign search it reaches 7.8e-6, the same as a refinement started from the planted model (7.8e-6).
  const truth = plantedSigmoid(1);
  const train = simulateIORNN(truth, varInputs(5, 2500, 20, 0.5, 61), { noise: 0.05, seed: 71 });
  const held = varInputs(5, 500, 20, 0.5, 81);
  const r = await fitRNN(train, { activation: { name: 'sigmoid' }, hidden: 3, seed: 1 });
  const e = nmse(predictIORNN(r.params as IORNNParams, held), predictIORNN(truth, held), 4);
  assert.ok(e < 1e-4, `held-out NMSE ${e}`);
});
