import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix, matmul, matmulNT } from '../src/linalg/matrix.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import { VAR1Stats, fitVAR1, fitVAR1Sync } from '../src/input/fit.js';
import { inputModelFromJSON } from '../src/input/model.js';
import { makeChunk, memorySource, splitChunk } from '../src/io/dataset.js';
import { Rng } from '../src/random/rng.js';

const dx = 3;
const TRUE_F = Matrix.from([
  [0.5, 0.2, 0.0],
  [-0.1, 0.4, 0.2],
  [0.1, 0.0, 0.6],
]);
const TRUE_Q = Matrix.from([
  [1.0, 0.3, 0.1],
  [0.3, 0.8, -0.2],
  [0.1, -0.2, 0.5],
]);
const TRUE_MU = [2, -1, 0.5];

function lengthsFor(rng: Rng, rows: number, lo: number, hi: number): number[] {
  const out: number[] = [];
  let total = 0;
  while (total < rows) {
    const L = lo + rng.int(hi - lo + 1);
    out.push(L);
    total += L;
  }
  return out;
}

function simulateChunk(model: GaussianVAR1, rng: Rng, lengths: number[]) {
  const x = model.simulate(rng, lengths);
  return makeChunk(model.dx, 0, x, new Float64Array(0), lengths);
}

function relErr(A: Matrix, B: Matrix): number {
  let n = 0, d = 0;
  for (let i = 0; i < A.data.length; i++) {
    n += (A.data[i] - B.data[i]) ** 2;
    d += B.data[i] ** 2;
  }
  return Math.sqrt(n / d);
}

test('stationary Σ solves Σ = FΣFᵀ + Q', () => {
  const m = new GaussianVAR1(TRUE_MU, TRUE_F, TRUE_Q);
  const R = matmulNT(matmul(TRUE_F, m.Sigma), TRUE_F);
  for (let i = 0; i < 9; i++) assert.ok(Math.abs(R.data[i] + TRUE_Q.data[i] - m.Sigma.data[i]) < 1e-12);
  assert.equal(m.order, 1);
});

test('fitted VAR(1) parameters converge to the truth (error falls ≈ n^−1/2; μ ≠ 0; sequences of length 2–40)', () => {
  const truth = new GaussianVAR1(TRUE_MU, TRUE_F, TRUE_Q);
  const errs: number[] = [];
  for (const [seed, rows] of [[1, 20000], [2, 320000]] as const) {
    const rng = new Rng(seed);
    const c = simulateChunk(truth, rng, lengthsFor(rng, rows, 2, 40));
    const fit = fitVAR1Sync(c);
    const m = fit.model;
    const eF = relErr(m.F, TRUE_F), eQ = relErr(m.Q, TRUE_Q), eS = relErr(m.Sigma, truth.Sigma);
    let eMu = 0;
    for (let a = 0; a < dx; a++) eMu = Math.max(eMu, Math.abs(m.mean[a] - TRUE_MU[a]));
    errs.push(eF);
    // Standard errors at 2e4 rows are ≈ 1/√2e4 ≈ 0.007 per entry; allow ~6× that.
    const tol = 0.05 * Math.sqrt(20000 / rows);
    assert.ok(eF < tol && eQ < tol && eS < 2 * tol && eMu < 2 * tol, `rows=${rows}: F ${eF}, Q ${eQ}, Σ ${eS}, μ ${eMu}`);
    assert.deepEqual(fit.warnings, []);
    assert.ok(fit.diagnostics.spectralRadius < 1 && fit.diagnostics.maxAbsSkewness < 0.1 && fit.diagnostics.maxAbsExcessKurtosis < 0.2);
  }
  assert.ok(errs[1] < 0.5 * errs[0], `F error should shrink ≈4× for 16× the data: ${errs}`);
});

test('i.i.d. fit: μ and Σ from all steps, F = 0, every P_t = Σ⁻¹', () => {
  const rng = new Rng(4);
  const truth = GaussianVAR1.iid(TRUE_MU, TRUE_Q);
  const c = simulateChunk(truth, rng, lengthsFor(rng, 50000, 1, 10));
  const fit = fitVAR1Sync(c, { iid: true });
  assert.equal(fit.model.order, 0);
  assert.ok(relErr(fit.model.Sigma, TRUE_Q) < 0.03);
  assert.equal(fit.diagnostics.kind, 'iid');
});

test('streaming statistics are mergeable: merged halves equal one pass; DataSource and arrays agree', async () => {
  const rng = new Rng(8);
  const truth = new GaussianVAR1(TRUE_MU, TRUE_F, TRUE_Q);
  const c = simulateChunk(truth, rng, lengthsFor(rng, 20000, 1, 30));
  const whole = new VAR1Stats(dx).add(c).toState();
  const parts = splitChunk(c, 5);
  const a = new VAR1Stats(dx);
  for (const p of parts.slice(0, 2)) a.add(p);
  const b = new VAR1Stats(dx);
  for (const p of parts.slice(2)) b.add(p);
  const merged = VAR1Stats.fromState(dx, a.toState()).merge(VAR1Stats.fromState(dx, b.toState())).toState();
  for (let i = 0; i < whole.length; i++) assert.ok(Math.abs(merged[i] - whole[i]) <= 1e-12 * Math.max(1, Math.abs(whole[i])), `state[${i}] ${merged[i]} vs ${whole[i]}`);
  const f1 = fitVAR1Sync(c);
  const f2 = await fitVAR1(memorySource(parts));
  assert.ok(relErr(f2.model.F, f1.model.F) < 1e-10);
  assert.ok(relErr(f2.model.Q, f1.model.Q) < 1e-10);
});

test('bad inputs get clear errors', async () => {
  const rng = new Rng(5);
  const truth = new GaussianVAR1(TRUE_MU, TRUE_F, TRUE_Q);
  // non-finite
  const c = simulateChunk(truth, rng, [10, 10]);
  c.x[7] = NaN;
  assert.throws(() => fitVAR1Sync(c), /non-finite value \(NaN\) at row 2 .*column x2/);
  // too little data: only length-1 sequences (no transitions), and too few transitions
  assert.throws(() => fitVAR1Sync(simulateChunk(truth, rng, new Array(50).fill(1))), /need at least dx\+2 = 5 transitions.*got 0/);
  assert.throws(() => fitVAR1Sync(simulateChunk(truth, rng, [3])), /transitions/);
  // singular noise covariance: x3 = x1 + x2 exactly
  const d = simulateChunk(truth, rng, [500]);
  for (let r = 0; r < 500; r++) d.x[r * 3 + 2] = d.x[r * 3] + d.x[r * 3 + 1];
  assert.throws(() => fitVAR1Sync(d), /singular/);
  assert.throws(() => fitVAR1Sync(d, { iid: true }), /singular/);
  // empty source
  await assert.rejects(fitVAR1([]), /no chunks/);
  // model construction
  assert.throws(() => new GaussianVAR1([0, 0], Matrix.from([[1.2, 0], [0, 0.1]]), Matrix.identity(2)), /not stable \(spectral radius 1.2000/);
  assert.throws(() => GaussianVAR1.iid([0, 0], Matrix.from([[1, 1], [1, 1]])), /singular/);
});

test('a random walk (F = I) fits with a clear "not stable" warning instead of failing', () => {
  const rng = new Rng(6);
  const rows = 5000;
  const x = new Float64Array(rows * 2);
  for (let r = 1; r < rows; r++) for (let a = 0; a < 2; a++) x[r * 2 + a] = x[(r - 1) * 2 + a] + rng.normal();
  const fit = fitVAR1Sync(makeChunk(2, 0, x, new Float64Array(0), [rows]));
  assert.ok(fit.warnings.some((w) => /not stable \(spectral radius/.test(w) || /unit root/.test(w)), fit.warnings.join('\n'));
  assert.ok(fit.diagnostics.spectralRadius > 0.98);
});

test('diagnostics flag non-Gaussian input (uniform innovations: excess kurtosis ≈ −1.2)', () => {
  const rng = new Rng(7);
  const rows = 40000;
  const x = new Float64Array(rows * 2);
  for (let r = 0; r < rows; r++)
    for (let a = 0; a < 2; a++) x[r * 2 + a] = (r > 0 ? 0.5 * x[(r - 1) * 2 + a] : 0) + (rng.uniform() - 0.5) * Math.sqrt(12);
  const fit = fitVAR1Sync(makeChunk(2, 0, x, new Float64Array(0), [rows]));
  for (const k of fit.diagnostics.residualExcessKurtosis) assert.ok(Math.abs(k + 1.2) < 0.1, `excess kurtosis ${k}`);
  assert.ok(fit.warnings.some((w) => /non-Gaussian/.test(w)));
});

test('model JSON round trip (also how workers receive it)', () => {
  const m = new GaussianVAR1(TRUE_MU, TRUE_F, TRUE_Q);
  const back = inputModelFromJSON(JSON.parse(JSON.stringify(m.toJSON())));
  assert.ok(back instanceof GaussianVAR1);
  assert.ok(relErr((back as GaussianVAR1).Pfirst, m.Pfirst) < 1e-14);
  assert.throws(() => inputModelFromJSON({ kind: 'nope' }), /unknown input model kind "nope"/);
  const iid = GaussianVAR1.iid([0, 1], Matrix.identity(2));
  assert.equal((inputModelFromJSON(iid.toJSON()) as GaussianVAR1).order, 0);
});
