import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { Rng } from '../src/random/rng.js';

import type { BRNNParams, IORNNParams } from '../src/models/params.js';
import { nmse, NMSEAccumulator } from '../src/metrics/nmse.js';
import { hungarian } from '../src/metrics/hungarian.js';
import { parameterErrors, scaleNeuronIORNN, permuteIORNN } from '../src/metrics/parameters.js';
import { randomIORNN, randomBRNN, simulateInputs } from '../src/models/simulate.js';
import { predictIORNN } from '../src/models/iornn.js';
import { predictBRNN } from '../src/models/brnn.js';

// Always pass a message: without one, node:assert re-parses the transpiled source, which can hang under tsx.
function ok(cond: unknown, msg = 'assertion failed'): asserts cond {
  assert.ok(cond, msg);
}

describe('nmse', () => {
  test('matches the hand computation', () => {
    // y rows (dy = 2): (1,0), (3,2), (2,4); mean (2,2); Σ‖y−ȳ‖² = (1+4) + (1+0) + (0+4) = 10.
    const y = Float64Array.from([1, 0, 3, 2, 2, 4]);
    const yhat = Float64Array.from([1, 1, 3, 2, 0, 4]); // squared error 1 + 4 = 5
    assert.equal(nmse(yhat, y, 2), 0.5);
    // With the wrong (global) mean the denominator would be 10.83…: the per-coordinate mean matters.
    assert.equal(nmse(y, y, 2), 0);
  });
  test('streaming over chunks equals the one-shot value; shifted targets are handled', () => {
    const rng = new Rng(1);
    const n = 1000, dy = 3;
    const y = rng.normalArray(n * dy), yhat = rng.normalArray(n * dy);
    for (let i = 0; i < y.length; i++) y[i] += 1e6; // large offset: a naive Σy² − nȳ² would lose all digits
    for (let i = 0; i < yhat.length; i++) yhat[i] = y[i] + 0.1 * yhat[i];
    const whole = nmse(yhat, y, dy);
    const acc = new NMSEAccumulator(dy);
    for (const [a, b] of [[0, 10], [10, 11], [11, 600], [600, 1000]]) acc.add(yhat.subarray(a * dy, b * dy), y.subarray(a * dy, b * dy));
    // Means of values ≈ 1e6 carry rounding ≈ 1e6·ε ≈ 1e-10 absolute per chunk, so the two summation orders may
    // differ by ~1e-10 relative; the naive one-pass formula would be off by O(1).
    ok(Math.abs(acc.value() - whole) < 1e-8 * whole, `${acc.value()} vs ${whole}`);
    ok(Math.abs(whole - 0.01) < 0.002, `nmse ${whole}`); // E = 0.1² / 1
    assert.equal(acc.count, n);
  });
  test('errors', () => {
    assert.throws(() => nmse(Float64Array.from([1, 2]), Float64Array.from([3, 3]), 1), /zero variance/);
    assert.throws(() => nmse(Float64Array.from([1]), Float64Array.from([3, 3]), 1), /predictions have 1 values/);
    assert.throws(() => nmse(Float64Array.from([NaN, 1]), Float64Array.from([3, 4]), 1), /NaN/);
  });
});

function* permutations(n: number, m: number, prefix: number[] = []): Generator<number[]> {
  if (prefix.length === n) {
    yield prefix;
    return;
  }
  for (let j = 0; j < m; j++) if (!prefix.includes(j)) yield* permutations(n, m, [...prefix, j]);
}

describe('hungarian', () => {
  test('optimal against brute force over all assignments (n ≤ 6, also rectangular and maximise)', () => {
    const rng = new Rng(5);
    for (let n = 1; n <= 6; n++) {
      for (const m of [n, n + 1]) {
        for (let rep = 0; rep < 6; rep++) {
          // Integer costs with ties on some reps, real costs on others.
          const C = new Matrix(n, m, rng.normalArray(n * m));
          if (rep % 2 === 0) for (let i = 0; i < C.data.length; i++) C.data[i] = Math.floor(C.data[i] * 2);
          for (const maximize of [false, true]) {
            let best = maximize ? -Infinity : Infinity;
            for (const p of permutations(n, m)) {
              let s = 0;
              for (let i = 0; i < n; i++) s += C.get(i, p[i]);
              best = maximize ? Math.max(best, s) : Math.min(best, s);
            }
            const r = hungarian(C, { maximize });
            assert.equal(new Set(r.assignment).size, n);
            let s = 0;
            for (let i = 0; i < n; i++) s += C.get(i, r.assignment[i]);
            ok(Math.abs(s - r.cost) < 1e-12, 'cost field');
            ok(Math.abs(s - best) < 1e-12, `n=${n} m=${m} rep=${rep} max=${maximize}: ${s} vs ${best}`);
          }
        }
      }
    }
  });
  test('bad input', () => {
    assert.throws(() => hungarian([[1, 2], [3, 4], [5, 6]]), /rows ≤ columns/);
    assert.throws(() => hungarian([[NaN]]), /non-finite/);
  });
});

describe('parameterErrors', () => {
  const maxRel = (a: Float64Array, b: Float64Array) => {
    let m = 0, s = 0;
    for (let i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]));
      s = Math.max(s, Math.abs(b[i]));
    }
    return m / s;
  };
  for (const act of ['z2', 'z3'] as const) {
    test(`permuted / rescaled / sign-flipped copy (σ = ${act}): same outputs, error ≈ 0`, () => {
      const truth = randomIORNN({ dx: 5, dh: 4, dy: 4, uNorm: 0.3, seed: 8, activation: act });
      // Truth not in the unit gauge either, to exercise both gaugings.
      let t2 = scaleNeuronIORNN(truth, 1, 1.7);
      let est = permuteIORNN(t2, [2, 0, 3, 1]);
      const alphas = [-0.5, 2.2, -1, 0.8];
      for (let j = 0; j < 4; j++) est = scaleNeuronIORNN(est, j, alphas[j]);
      // Independent check that these are symmetries: predictions agree.
      const x = simulateInputs({ dx: 5, nSeq: 20, seqLength: 10, rho: 0.5, sigma: 0.4, seed: 2 });
      ok(maxRel(predictIORNN(est, x), predictIORNN(t2, x)) < 1e-12, 'symmetry changes the outputs');
      const e = parameterErrors(est, t2);
      for (const k of ['A1', 'U', 'A2'] as const) ok(e[k] < 1e-13, `${k} error ${e[k]}`);
      assert.deepEqual(Array.from(e.permutation), [1, 3, 0, 2]);
      assert.equal(e.symmetry, 'monomial');
      // Aligned estimate is a model with the same outputs, in the unit gauge.
      ok(maxRel(predictIORNN(e.aligned as IORNNParams, x), predictIORNN(t2, x)) < 1e-12, 'aligned model outputs');
      for (let j = 0; j < 4; j++) ok(Math.abs(Math.hypot(...e.aligned.A1.row(j)) - 1) < 1e-14, 'gauge');
      t2 = truth;
    });
  }
  test('perturbed estimate: errors positive and of the size of the perturbation', () => {
    const truth = randomIORNN({ dx: 4, dh: 4, dy: 4, uNorm: 0.3, seed: 9 });
    const rng = new Rng(3);
    const U = truth.U.clone();
    for (let i = 0; i < U.data.length; i++) U.data[i] += 0.01 * rng.normal();
    const A2 = truth.A2.clone();
    A2.data[5] += 0.05;
    const e = parameterErrors({ ...truth, U, A2 }, truth);
    ok(e.A1 < 1e-15, `A1 ${e.A1}`);
    // ‖ΔU‖_F ≈ 0.01·4 = 0.04 vs ‖U‖_F ∈ [0.3, 0.6]: relative error in [0.03, 0.25].
    ok(e.U > 0.03 && e.U < 0.25, `U ${e.U}`);
    const expectA2 = 0.05 / Math.sqrt(truth.A2.data.reduce((s, v) => s + v * v, 0));
    ok(Math.abs(e.A2 - expectA2) < 1e-12, `A2 ${e.A2} vs ${expectA2}`);
  });
  test('general σ (no scale symmetry): permutation only; rescaling is an error', () => {
    const truth = randomIORNN({ dx: 4, dh: 3, dy: 3, seed: 4, activation: '0,0.1,0.5,1' });
    const est = permuteIORNN(truth, [1, 2, 0]);
    const e = parameterErrors(est, truth);
    ok(e.A1 < 1e-15 && e.U < 1e-15 && e.A2 < 1e-15, 'permuted copy');
    assert.equal(e.symmetry, 'none');
    const A1 = truth.A1.clone();
    for (let i = 0; i < 4; i++) A1.data[i] *= 1.1;
    ok(parameterErrors({ ...truth, A1 }, truth).A1 > 0.01, 'rescaled row must count as error');
    assert.throws(() => scaleNeuronIORNN(truth, 0, 2), /not a symmetry/);
    // Odd σ: the sign flip is a symmetry (and the outputs agree).
    const odd = randomIORNN({ dx: 4, dh: 3, dy: 3, seed: 4, activation: '0,0.3,0,1' });
    const flipped = scaleNeuronIORNN(odd, 1, -1);
    const x = simulateInputs({ dx: 4, nSeq: 5, seqLength: 6, rho: 0.3, sigma: 0.4, seed: 1 });
    ok(maxRel(predictIORNN(flipped, x), predictIORNN(odd, x)) < 1e-13, 'odd flip outputs');
    const eo = parameterErrors(flipped, odd);
    ok(eo.A1 < 1e-15 && eo.U < 1e-15 && eo.A2 < 1e-15, 'odd flip error');
  });
  test('BRNN: forward and backward neurons matched separately', () => {
    const truth = randomBRNN({ dx: 6, dh: 2, dz: 3, dy: 6, uNorm: 0.3, seed: 6 });
    // Build an equivalent BRNN: permute / rescale backward neurons via an IO-RNN view of (B1, V, A2 rows).
    const bwd: IORNNParams = { kind: 'iornn', A1: truth.B1, U: truth.V, A2: new Matrix(3, 6, truth.A2.data.slice(2 * 6)), activation: truth.activation };
    let b2 = permuteIORNN(bwd, [2, 0, 1]);
    b2 = scaleNeuronIORNN(scaleNeuronIORNN(b2, 0, -1.5), 2, 0.6);
    const fwd: IORNNParams = { kind: 'iornn', A1: truth.A1, U: truth.U, A2: new Matrix(2, 6, truth.A2.data.slice(0, 12)), activation: truth.activation };
    const f2 = scaleNeuronIORNN(permuteIORNN(fwd, [1, 0]), 1, -0.7);
    const A2 = new Matrix(5, 6);
    A2.data.set(f2.A2.data);
    A2.data.set(b2.A2.data, 12);
    const est: BRNNParams = { ...truth, A1: f2.A1, U: f2.U, B1: b2.A1, V: b2.U, A2 };
    const x = simulateInputs({ dx: 6, nSeq: 10, seqLength: 8, rho: 0.5, sigma: 0.4, seed: 3 });
    ok(maxRel(predictBRNN(est, x), predictBRNN(truth, x)) < 1e-12, 'equivalent BRNN');
    const e = parameterErrors(est, truth);
    for (const k of ['A1', 'U', 'A2', 'B1', 'V'] as const) ok(e[k]! < 1e-13, `${k} ${e[k]}`);
    assert.deepEqual(Array.from(e.permutationBackward!), [1, 2, 0]);
    const V = truth.V.clone();
    V.data[0] += 0.1;
    ok(parameterErrors({ ...truth, V }, truth).V! > 0.05, 'perturbed V');
  });
  test('shape / kind mismatches throw', () => {
    const a = randomIORNN({ dx: 4, dh: 3, dy: 3, seed: 1 });
    const b = randomIORNN({ dx: 4, dh: 2, dy: 3, seed: 1 });
    assert.throws(() => parameterErrors(a, b), /A1 of the estimate is 3x4, of the truth 2x4/);
    assert.throws(() => parameterErrors(a, randomBRNN({ dx: 4, dh: 1, dz: 1, dy: 3, seed: 1 })), /estimate is iornn, truth is brnn/);
    assert.throws(() => parameterErrors({ ...a, activation: { coefficients: [0, 0, 0, 1] } }, a), /different activations/);
  });
});

