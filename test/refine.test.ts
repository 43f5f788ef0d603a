import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from '../src/linalg/matrix.js';
import { makeChunk, type SequenceChunk } from '../src/io/dataset.js';
import type { BRNNParams, IORNNParams, RNNParams } from '../src/models/params.js';
import { Rng } from '../src/random/rng.js';
import {
  fitOutputLayer,
  ioRNNJacobian,
  lossAndGradient,
  meanSquaredError,
  packParams,
  refine,
  unpackParams,
} from '../src/learn/refine.js';

// ------------------------------------------------------------------------------------------------
// Local, independent simulator and predictor (straightforward nested loops; no code shared with refine).

const polyEval = (c: readonly number[], z: number) => c.reduce((acc, ck, k) => acc + ck * z ** k, 0);

/** Noise-free outputs of a model on a chunk; Infinity entries if the states exceed 1e6. */
function predict(p: RNNParams, c: SequenceChunk): Float64Array {
  const dh = p.A1.rows, dx = c.dx, dy = p.A2.cols;
  const dz = p.kind === 'brnn' ? p.B1.rows : 0;
  const cf = p.activation.coefficients!;
  const cb = p.kind === 'brnn' ? (p.activationBackward ?? p.activation).coefficients! : cf;
  const out = new Float64Array(c.rows * dy);
  let r0 = 0;
  for (const L of c.lengths) {
    const Z: number[][] = Array.from({ length: L + 1 }, () => new Array(dz).fill(0));
    if (p.kind === 'brnn') {
      for (let t = L - 1; t >= 0; t--) {
        for (let j = 0; j < dz; j++) {
          let u = 0;
          for (let k = 0; k < dx; k++) u += p.B1.get(j, k) * c.x[(r0 + t) * dx + k];
          for (let k = 0; k < dz; k++) u += p.V.get(j, k) * Z[t + 1][k];
          Z[t][j] = polyEval(cb, u);
        }
      }
    }
    let h = new Array(dh).fill(0);
    for (let t = 0; t < L; t++) {
      const hn = new Array(dh).fill(0);
      for (let j = 0; j < dh; j++) {
        let u = 0;
        for (let k = 0; k < dx; k++) u += p.A1.get(j, k) * c.x[(r0 + t) * dx + k];
        for (let k = 0; k < dh; k++) u += p.U.get(j, k) * h[k];
        hn[j] = polyEval(cf, u);
      }
      h = hn;
      const s = [...h, ...Z[t]];
      const bad = s.some((v) => !(Math.abs(v) <= 1e6));
      for (let i = 0; i < dy; i++) {
        let v = p.b ? p.b[i] : 0;
        for (let j = 0; j < s.length; j++) v += p.A2.get(j, i) * s[j];
        out[(r0 + t) * dy + i] = bad ? Infinity : v;
      }
    }
    r0 += L;
  }
  return out;
}

function mse(p: RNNParams, c: SequenceChunk): number {
  const yh = predict(p, c);
  let s = 0;
  for (let a = 0; a < yh.length; a++) s += (yh[a] - c.y[a]) ** 2;
  return Number.isFinite(s) ? s / yh.length : Infinity;
}

function randMatrix(rng: Rng, r: number, c: number, scale: number): Matrix {
  const m = new Matrix(r, c);
  for (let a = 0; a < m.data.length; a++) m.data[a] = scale * rng.normal();
  return m;
}

/** Rows of A1 normalised to 1 (docs/method.md §2 gauge), ‖U‖ small (§6 stability). */
function plantedIORNN(rng: Rng, dx: number, dh: number, dy: number, coefficients: number[], uScale = 0.15): IORNNParams {
  const A1 = randMatrix(rng, dh, dx, 1);
  for (let j = 0; j < dh; j++) {
    let n = 0;
    for (let k = 0; k < dx; k++) n += A1.get(j, k) ** 2;
    for (let k = 0; k < dx; k++) A1.set(j, k, A1.get(j, k) / Math.sqrt(n));
  }
  return { kind: 'iornn', A1, U: randMatrix(rng, dh, dh, uScale), A2: randMatrix(rng, dh, dy, 1), activation: { coefficients } };
}

/** nSeq sequences of length L, Gaussian inputs with std sx, outputs of the model plus N(0, noise²). */
function simulate(p: RNNParams, rng: Rng, nSeq: number, L: number, sx: number, noise: number): SequenceChunk {
  const dx = p.A1.cols, dy = p.A2.cols, rows = nSeq * L;
  const x = new Float64Array(rows * dx);
  for (let a = 0; a < x.length; a++) x[a] = sx * rng.normal();
  const base = makeChunk(dx, dy, x, new Float64Array(rows * dy), new Array(nSeq).fill(L));
  const y = predict(p, base);
  for (let a = 0; a < y.length; a++) y[a] += noise * rng.normal();
  return makeChunk(dx, dy, x, y, base.lengths);
}

function perturb<T extends RNNParams>(p: T, rng: Rng, rel: number): T {
  const th = packParams(p);
  for (let a = 0; a < th.length; a++) th[a] += rel * rng.normal() * (Math.abs(th[a]) + 0.1);
  return unpackParams(p, th);
}

/** Subset of sequences (by global index) of a single chunk. */
function pickSequences(c: SequenceChunk, idx: number[]): SequenceChunk {
  const starts: number[] = [];
  let r = 0;
  for (const L of c.lengths) { starts.push(r); r += L; }
  const xs: number[] = [], ys: number[] = [], lens: number[] = [];
  for (const i of idx) {
    const L = c.lengths[i];
    xs.push(...c.x.subarray(starts[i] * c.dx, (starts[i] + L) * c.dx));
    ys.push(...c.y.subarray(starts[i] * c.dy, (starts[i] + L) * c.dy));
    lens.push(L);
  }
  return makeChunk(c.dx, c.dy, Float64Array.from(xs), Float64Array.from(ys), lens);
}

function complement(n: number, idx: number[]): number[] {
  const s = new Set(idx);
  return Array.from({ length: n }, (_, i) => i).filter((i) => !s.has(i));
}

const SQUARE = [0, 0, 1];
const CUBIC = [0.2, 0.1, -0.4, 0.7]; // cubic with lower-order terms (docs/method.md §4)

// ------------------------------------------------------------------------------------------------
// Exact derivatives against central finite differences of the independent predictor.

/** Central-difference Jacobian of the predictor's outputs; step 1e-5 ⇒ truncation O(1e-10), rounding O(1e-11). */
function fdJacobian(p: RNNParams, c: SequenceChunk): Matrix {
  const th = packParams(p);
  const n = c.rows * p.A2.cols;
  const J = new Matrix(n, th.length);
  const eps = 1e-5;
  for (let a = 0; a < th.length; a++) {
    const tp = th.slice(), tm = th.slice();
    tp[a] += eps;
    tm[a] -= eps;
    const yp = predict(unpackParams(p, tp), c), ym = predict(unpackParams(p, tm), c);
    for (let r = 0; r < n; r++) J.set(r, a, (yp[r] - ym[r]) / (2 * eps));
  }
  return J;
}

function relErr(a: Matrix, b: Matrix): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.data.length; i++) {
    num = Math.max(num, Math.abs(a.data[i] - b.data[i]));
    den = Math.max(den, Math.abs(b.data[i]));
  }
  return num / den;
}

function plantedBRNN(rng: Rng, dx: number, dh: number, dz: number, dy: number, cf: number[], cb: number[]): BRNNParams {
  const f = plantedIORNN(rng, dx, dh, dy, cf);
  const bwd = plantedIORNN(rng, dx, dz, dy, cb);
  return {
    kind: 'brnn', A1: f.A1, U: f.U, B1: bwd.A1, V: bwd.U,
    A2: randMatrix(rng, dh + dz, dy, 1), b: Float64Array.from(rng.normalArray(dy)),
    activation: { coefficients: cf }, activationBackward: { coefficients: cb },
  };
}

for (const [name, coef] of [['z²', SQUARE], ['cubic with lower-order terms', CUBIC]] as const) {
  test(`IO-RNN exact Jacobian (RTRL) matches central finite differences, σ = ${name}`, () => {
    const rng = new Rng(11);
    const p0 = plantedIORNN(rng, 3, 2, 2, [...coef], 0.3);
    const p: IORNNParams = { ...p0, b: Float64Array.from([0.3, -0.2]) };
    const c = simulate(p, rng, 3, 6, 0.7, 0.1); // sequences of unequal position, h0 = 0 at each start
    const { J, residual, blowup } = ioRNNJacobian(p, c);
    assert.equal(blowup, false);
    assert.equal(J.cols, 3 * 2 + 4 + 2 * 2 + 2);
    const err = relErr(J, fdJacobian(p, c));
    assert.ok(err < 1e-6, `relative error ${err}`);
    // U columns must matter (otherwise the recursion part of the test would be vacuous).
    let uMax = 0;
    for (let r = 0; r < J.rows; r++) for (let a = 6; a < 10; a++) uMax = Math.max(uMax, Math.abs(J.get(r, a)));
    assert.ok(uMax > 1e-2, 'uMax > 1e-2');
    const yh = predict(p, c);
    for (let r = 0; r < residual.length; r++) assert.ok(Math.abs(residual[r] - (yh[r] - c.y[r])) < 1e-12 * (1 + Math.abs(c.y[r])), 'Math.abs(residual[r] - (yh[r] - c.y[r])) < 1e-12 * (1 + Math.abs(c.y[r]))');
  });

  test(`BRNN exact Jacobian (forward + backward sensitivities) matches finite differences, σ = ${name}`, () => {
    const rng = new Rng(12);
    const p = plantedBRNN(rng, 3, 2, 2, 2, [...coef], [0, 0.5, 1]);
    const c = simulate(p, rng, 2, 5, 0.7, 0.1);
    const { J, blowup } = ioRNNJacobian(p, c);
    assert.equal(blowup, false);
    const err = relErr(J, fdJacobian(p, c));
    assert.ok(err < 1e-6, `relative error ${err}`);
    // Columns of V (θ layout A1 6, U 4, B1 6, V 4, …) must be non-trivial, so the backward recursion is tested.
    let vMax = 0;
    for (let r = 0; r < J.rows; r++) for (let a = 16; a < 20; a++) vMax = Math.max(vMax, Math.abs(J.get(r, a)));
    assert.ok(vMax > 1e-3, `V columns ${vMax}`);
  });

  test(`BPTT gradient equals finite differences of the SSE and 2Jᵀr, σ = ${name}`, () => {
    const rng = new Rng(13);
    for (const p of [plantedIORNN(rng, 3, 3, 2, [...coef], 0.2) as RNNParams, plantedBRNN(rng, 2, 2, 1, 2, [...coef], [...coef])]) {
      const c = simulate(p, rng, 3, 7, 0.5, 0.1);
      assert.ok(Number.isFinite(mse(p, c)), 'test setup: the model must be stable on these inputs');
      const { gradient, sse, mse: m } = lossAndGradient(p, c);
      assert.ok(Math.abs(m - mse(p, c)) < 1e-12 * (1 + m), 'Math.abs(m - mse(p, c)) < 1e-12 * (1 + m)');
      assert.ok(Math.abs(sse - m * c.rows * c.dy) < 1e-9 * sse, 'Math.abs(sse - m * c.rows * c.dy) < 1e-9 * sse');
      const th = packParams(p);
      const eps = 1e-6;
      let gmax = 0;
      for (let a = 0; a < th.length; a++) gmax = Math.max(gmax, Math.abs(gradient[a]));
      for (let a = 0; a < th.length; a++) {
        const tp = th.slice(), tm = th.slice();
        tp[a] += eps;
        tm[a] -= eps;
        const n = c.rows * c.dy;
        const fd = (mse(unpackParams(p, tp), c) - mse(unpackParams(p, tm), c)) * n / (2 * eps);
        assert.ok(Math.abs(fd - gradient[a]) < 1e-6 * gmax, `param ${a}: fd ${fd} vs bptt ${gradient[a]}`);
      }
      const { J, residual } = ioRNNJacobian(p, c);
      for (let a = 0; a < th.length; a++) {
        let v = 0;
        for (let r = 0; r < J.rows; r++) v += 2 * J.get(r, a) * residual[r];
        assert.ok(Math.abs(v - gradient[a]) < 1e-10 * gmax, 'Math.abs(v - gradient[a]) < 1e-10 * gmax');
      }
    }
  });
}

// ------------------------------------------------------------------------------------------------
// Output layer by regression.

test('fitOutputLayer recovers A2 and b exactly from noise-free data and reports conditioning', () => {
  const rng = new Rng(21);
  const p: IORNNParams = { ...plantedIORNN(rng, 3, 3, 2, SQUARE), b: Float64Array.from([0.5, -1]) };
  const c = simulate(p, rng, 20, 10, 0.6, 0);
  const wrong: IORNNParams = { ...p, A2: randMatrix(rng, 3, 2, 1), b: undefined };
  const fit = fitOutputLayer(wrong, c);
  for (let a = 0; a < 6; a++) assert.ok(Math.abs(fit.A2.data[a] - p.A2.data[a]) < 1e-8, 'Math.abs(fit.A2.data[a] - p.A2.data[a]) < 1e-8');
  assert.ok(Math.abs(fit.b[0] - 0.5) < 1e-8 && Math.abs(fit.b[1] + 1) < 1e-8, 'Math.abs(fit.b[0] - 0.5) < 1e-8 && Math.abs(fit.b[1] + 1) < 1e-8');
  assert.ok(fit.cond > 1 && Number.isFinite(fit.cond), 'fit.cond > 1 && Number.isFinite(fit.cond)');
  // A duplicated neuron makes the design singular: cond = ∞ (or huge), rank deficiency flagged, still a finite fit.
  const A1 = p.A1.clone();
  for (let k = 0; k < 3; k++) A1.set(2, k, A1.get(1, k));
  const U = new Matrix(3, 3);
  const dup = fitOutputLayer({ ...p, A1, U }, c);
  assert.ok(dup.rankDeficient && dup.cond > 1e6, 'dup.rankDeficient && dup.cond > 1e6');
  assert.ok(dup.A2.data.every(Number.isFinite), 'dup.A2.data.every(Number.isFinite)');
});

// ------------------------------------------------------------------------------------------------
// Refinement.

test('LM refinement from a perturbed model converges to the noise floor (train MSE ≈ σ²)', () => {
  const rng = new Rng(31);
  const truth = plantedIORNN(rng, 3, 3, 3, SQUARE);
  const noise = 0.1;
  const data = simulate(truth, rng, 200, 20, 0.6, noise);
  const start = perturb(truth, rng, 0.15);
  for (const [vp, cf] of [[true, 1], [false, 1], [true, 0.25]] as const) {
    const { params, diagnostics: d } = refine(start, data, { method: 'lm', variableProjection: vp, seed: 1, curvatureFraction: cf });
    assert.equal(d.method, 'lm');
    // Exact Gauss–Newton uses all 3200 training rows; the subsampled curvature 40 of 160 sequences.
    assert.equal(d.curvatureRows, cf === 1 ? 3200 : 800);
    assert.ok(d.trainLossEnd < 0.5 * d.trainLossStart, `vp=${vp}: ${d.trainLossStart} → ${d.trainLossEnd}`);
    // Expected train MSE at the LS optimum: σ²(1 − P/N) with P = 30, N = 9600 ⇒ within ~1% of σ².
    assert.ok(Math.abs(d.trainLossEnd / noise ** 2 - 1) < 0.1, `vp=${vp}: train MSE ${d.trainLossEnd}`);
    assert.equal(d.keptStart, false);
    // The reported losses are those of the returned model (checked with the independent predictor).
    const train = pickSequences(data, complement(200, d.validationSequences));
    const val = pickSequences(data, d.validationSequences);
    assert.equal(d.validationSequences.length, 40);
    assert.ok(Math.abs(mse(params, train) - d.trainLossEnd) < 1e-9, 'Math.abs(mse(params, train) - d.trainLossEnd) < 1e-9');
    assert.ok(Math.abs(mse(params, val) - (d.valLossEnd as number)) < 1e-9, 'Math.abs(mse(params, val) - (d.valLossEnd as number)) < 1e-9');
    // Noise-free prediction error is small compared with the output variance.
    const clean = simulate(truth, new Rng(99), 50, 20, 0.6, 0);
    let vy = 0, mean = 0;
    for (const v of clean.y) mean += v / clean.y.length;
    for (const v of clean.y) vy += (v - mean) ** 2 / clean.y.length;
    assert.ok(mse(params, clean) < 0.01 * vy, `nmse ${mse(params, clean) / vy}`);
  }
});

test('L-BFGS on BPTT gradients also reaches the noise floor', () => {
  const rng = new Rng(32);
  const truth = plantedIORNN(rng, 3, 3, 3, SQUARE);
  const noise = 0.1;
  const data = simulate(truth, rng, 200, 20, 0.6, noise);
  const start = perturb(truth, rng, 0.15);
  const { diagnostics: d } = refine(start, data, { method: 'lbfgs', seed: 1, maxIter: 400 });
  assert.equal(d.method, 'lbfgs');
  assert.ok(Math.abs(d.trainLossEnd / noise ** 2 - 1) < 0.1, `train MSE ${d.trainLossEnd} (start ${d.trainLossStart})`);
});

test('BRNN refinement lowers the loss to the noise floor', () => {
  const rng = new Rng(33);
  const truth = plantedBRNN(rng, 3, 2, 1, 2, SQUARE, SQUARE);
  const noise = 0.1;
  const data = simulate(truth, rng, 150, 15, 0.6, noise);
  const start = perturb(truth, rng, 0.1);
  const { params, diagnostics: d } = refine(start, data, { seed: 2 });
  assert.equal(params.kind, 'brnn');
  assert.equal(d.method, 'lm');
  assert.ok(d.trainLossStart > 1.5 * noise ** 2, 'd.trainLossStart > 1.5 * noise ** 2');
  assert.ok(Math.abs(d.trainLossEnd / noise ** 2 - 1) < 0.1, `train MSE ${d.trainLossStart} → ${d.trainLossEnd}`);
  const val = pickSequences(data, d.validationSequences);
  assert.ok(Math.abs(mse(params, val) - (d.valLossEnd as number)) < 1e-9, 'Math.abs(mse(params, val) - (d.valLossEnd as number)) < 1e-9');
  const lb = refine(start, data, { seed: 2, method: 'lbfgs' }).diagnostics;
  assert.ok(Math.abs(lb.trainLossEnd / noise ** 2 - 1) < 0.1, `L-BFGS train MSE ${lb.trainLossStart} → ${lb.trainLossEnd}`);
});

test('early stopping: the returned model has the best validation loss seen, and START is kept when better', () => {
  const rng = new Rng(41);
  const truth = plantedIORNN(rng, 3, 3, 3, CUBIC, 0.1);
  // Tiny training set (8 sequences of 6 steps, 30 parameters) and large noise ⇒ refinement overfits.
  const data = simulate(truth, rng, 10, 6, 0.6, 0.5);
  const seen: (number | null)[] = [];
  const { params, diagnostics: d } = refine(truth, data, {
    method: 'lm', validationFraction: 0.2, seed: 3, maxIter: 30, tol: 0, patience: 30, onIteration: (i) => seen.push(i.valLoss),
  });
  const val = pickSequences(data, d.validationSequences);
  const vals = seen.filter((v): v is number => v !== null);
  assert.ok(vals.length >= 3, 'vals.length >= 3');
  // The validation loss went up at some point (overfitting), so the selection is not trivial.
  assert.ok(Math.max(...vals) > Math.min(...vals) * 1.05, `validation losses ${vals}`);
  const best = Math.min(d.valLossStart as number, ...vals);
  assert.ok(Math.abs(mse(params, val) - best) < 1e-9 * (1 + best), `${mse(params, val)} vs best ${best}`);
  // Starting from the truth, nothing fitted on 8 sequences beats it on held-out data.
  assert.equal(d.keptStart, true);
  assert.equal(params, truth);
});

test('early stopping picks an intermediate iterate when validation first falls then rises', () => {
  // Start far from the truth with little data: the first steps help on validation, later ones overfit.
  let checked = 0;
  for (let seed = 0; seed < 6 && checked === 0; seed++) {
    const rng = new Rng(50 + seed);
    const truth = plantedIORNN(rng, 3, 3, 3, SQUARE, 0.1);
    const data = simulate(truth, rng, 12, 8, 0.6, 0.4);
    const start = perturb(truth, rng, 0.5);
    const vals: number[] = [];
    const { params, diagnostics: d } = refine(start, data, {
      method: 'lm', variableProjection: false, seed, maxIter: 40, tol: 0, patience: 40,
      onIteration: (i) => { if (i.valLoss !== null) vals.push(i.valLoss); },
    });
    const iBest = vals.indexOf(Math.min(...vals));
    if (iBest === 0 || iBest === vals.length - 1) continue; // not the case we want; try another seed
    const val = pickSequences(data, d.validationSequences);
    const best = Math.min(d.valLossStart as number, ...vals);
    assert.ok(Math.abs(mse(params, val) - best) < 1e-9 * (1 + best), 'Math.abs(mse(params, val) - best) < 1e-9 * (1 + best)');
    assert.ok(mse(params, val) < vals[vals.length - 1], 'mse(params, val) < vals[vals.length - 1]');
    checked++;
  }
  assert.equal(checked, 1, 'no seed produced a validation curve with an interior minimum');
});

test('refinement never returns a model that blows up on the held-out split', () => {
  const rng = new Rng(61);
  const truth = plantedIORNN(rng, 2, 2, 2, SQUARE, 0.1);
  // The true model is stable on these sequences, but 4× its recurrence is not.
  const data = simulate(truth, rng, 60, 30, 0.5, 0.05);
  assert.ok(Number.isFinite(mse(truth, data)), 'test setup: the true model must be stable on the data');
  const bad: IORNNParams = { ...truth, U: new Matrix(2, 2, truth.U.data.map((v) => 4 * v)) };
  assert.equal(mse(bad, data), Infinity, 'test setup: the start model should blow up');
  for (const method of ['lm', 'lbfgs'] as const) {
    const { params, diagnostics: d } = refine(bad, data, { method, seed: 4, maxIter: 30 });
    assert.equal(d.startStabilized, true);
    assert.equal(d.keptStart, false);
    const val = pickSequences(data, d.validationSequences);
    const train = pickSequences(data, complement(60, d.validationSequences));
    for (const part of [val, train]) {
      const yh = predict(params, part);
      assert.ok(yh.every(Number.isFinite), `${method}: returned model blows up`);
    }
    assert.ok(Number.isFinite(d.valLossEnd as number) && (d.valLossEnd as number) < 1, 'Number.isFinite(d.valLossEnd as number) && (d.valLossEnd as number) < 1');
  }
});

test('trial steps whose states blow up are rejected, and the result is stable on both splits', () => {
  // A planted model near the edge of stability and a far start: some trial steps leave the stable
  // region (found by a seed scan; the assertion on the blow-up count keeps the test from going vacuous).
  const rng = new Rng(104);
  const truth = plantedIORNN(rng, 2, 2, 2, SQUARE, 0.1);
  const data = simulate(truth, rng, 60, 30, 0.5, 0.05);
  const start = perturb(truth, rng, 0.6);
  assert.ok(Number.isFinite(mse(start, data)), 'test setup: the start must be stable');
  for (const [method, vp] of [['lm', true], ['lm', false], ['lbfgs', false]] as const) {
    const { params, diagnostics: d } = refine(start, data, { method, variableProjection: vp, seed: 4 });
    const blowups = d.history.reduce((a, h) => a + h.blowups, 0);
    assert.ok(blowups > 0, `${method}/${vp}: no trial step blew up, the test is vacuous`);
    const val = pickSequences(data, d.validationSequences);
    const train = pickSequences(data, complement(60, d.validationSequences));
    assert.ok(Number.isFinite(mse(params, val)) && Number.isFinite(mse(params, train)), 'Number.isFinite(mse(params, val)) && Number.isFinite(mse(params, train))');
    assert.ok(Math.abs(mse(params, val) - (d.valLossEnd as number)) < 1e-9, 'Math.abs(mse(params, val) - (d.valLossEnd as number)) < 1e-9');
    assert.ok(d.trainLossEnd < d.trainLossStart, 'd.trainLossEnd < d.trainLossStart');
  }
});

test('a dead neuron (zero Jacobian columns) does not stop LM or L-BFGS', () => {
  const rng = new Rng(81);
  const truth = plantedIORNN(rng, 3, 3, 2, SQUARE);
  const data = simulate(truth, rng, 40, 10, 0.6, 0.05);
  // Neuron 2 of the start is dead: a1 = 0 and U_2· = 0 ⇒ u ≡ 0, h ≡ σ(0) = 0, σ'(0) = 0.
  const start = perturb(truth, rng, 0.1);
  for (let k = 0; k < 3; k++) { start.A1.set(2, k, 0); start.U.set(2, k, 0); }
  // The dead neuron is a stationary point (all its derivatives vanish), so every method should reach
  // the same best 2-neuron fit; agreement within 1% shows each actually optimised.
  const ends: number[] = [];
  for (const [method, vp] of [['lm', true], ['lm', false], ['lbfgs', false]] as const) {
    const { params, diagnostics: d } = refine(start, data, { method, variableProjection: vp, seed: 5 });
    assert.ok(d.trainLossEnd < 0.2 * d.trainLossStart, `${method}/${vp}: ${d.trainLossStart} → ${d.trainLossEnd}`);
    assert.ok(packParams(params).every(Number.isFinite), 'packParams(params).every(Number.isFinite)');
    ends.push(d.trainLossEnd);
  }
  assert.ok(Math.max(...ends) < 1.01 * Math.min(...ends), `final losses ${ends}`);
});

test('noise-free data started at the truth: stops at once, nothing non-finite', () => {
  const rng = new Rng(91);
  const truth: IORNNParams = { ...plantedIORNN(rng, 3, 2, 2, SQUARE), b: new Float64Array(2) };
  const data = simulate(truth, rng, 20, 10, 0.6, 0);
  for (const method of ['lm', 'lbfgs'] as const) {
    const { params, diagnostics: d } = refine(truth, data, { method, variableProjection: false });
    assert.ok(d.iterations <= 2, `${method}: ${d.iterations} iterations`);
    assert.ok(d.trainLossEnd < 1e-20 && (d.valLossEnd as number) < 1e-20, 'd.trainLossEnd < 1e-20 && (d.valLossEnd as number) < 1e-20');
    assert.ok(packParams(params).every(Number.isFinite), 'packParams(params).every(Number.isFinite)');
  }
});

test('refineOutputOnly refits A2, b only and input errors are reported', () => {
  const rng = new Rng(71);
  const truth = plantedIORNN(rng, 3, 2, 2, SQUARE);
  const data = simulate(truth, rng, 30, 10, 0.6, 0.05);
  const start: IORNNParams = { ...truth, A2: randMatrix(rng, 2, 2, 1) };
  const { params, diagnostics: d } = refine(start, data, { refineOutputOnly: true });
  assert.equal(d.method, 'output-only');
  assert.deepEqual(Array.from(params.A1.data), Array.from(truth.A1.data));
  assert.ok(d.trainLossEnd < 0.01 && d.trainLossStart > 0.05, 'd.trainLossEnd < 0.01 && d.trainLossStart > 0.05');
  assert.throws(() => refine(start, makeChunk(4, 2, new Float64Array(8), new Float64Array(4), [2])), /dx = 4/);
  assert.throws(() => refine(start, data, { validationFraction: 1 }), /validationFraction/);
  assert.throws(() => refine(start, data, { method: 'adam' as 'lm' }), /unknown method/);
  assert.equal(meanSquaredError(truth, data) < 0.01, true);
});
