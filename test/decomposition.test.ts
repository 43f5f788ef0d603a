import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EigenvalueDecomposition, Matrix as MLMatrix } from 'ml-matrix';
import { Matrix, matmul, matmulNT, matmulTN, transpose } from '../src/linalg/matrix.js';
import { qr } from '../src/linalg/qr.js';
import { pinv } from '../src/linalg/pinv.js';
import { eigGeneral } from '../src/linalg/eiggeneral.js';
import { Rng } from '../src/random/rng.js';
import { Tensor } from '../src/tensor/tensor.js';
import { cpToTensor } from '../src/tensor/products.js';
import { CPTensor, cpCompare, cpNormalize, cpResidual } from '../src/decomposition/cp_tensor.js';
import { jennrich } from '../src/decomposition/jennrich.js';
import { als } from '../src/decomposition/als.js';
import { cpPower, cpTiedPower, symmetrizeMode1, tensorPowerMethod, whiten } from '../src/decomposition/power.js';
import { CP } from '../src/api/cp.js';

// ---------------------------------------------------------------- helpers (independent ground truth)

function randMatrix(r: number, c: number, rng: Rng): Matrix {
  return new Matrix(r, c, rng.normalArray(r * c));
}
/** Weights 1 + U(0,1) in magnitude, random signs unless `positive`. */
function randWeights(R: number, rng: Rng, positive = false): Float64Array {
  return Float64Array.from({ length: R }, () => (1 + rng.uniform()) * (positive || rng.uniform() < 0.5 ? 1 : -1));
}
interface Planted { T: Tensor; truth: CPTensor }
function plantedGeneral(shape: number[], R: number, rng: Rng): Planted {
  const truth = { weights: randWeights(R, rng), factors: shape.map((n) => randMatrix(n, R, rng)) };
  return { T: cpToTensor(truth), truth };
}
/** T = Σ w_i b_i ⊗ c_i ⊗ … ⊗ c_i (order ≥ 3, modes 1.. tied). */
function plantedTied(I: number, J: number, R: number, rng: Rng, order = 3, positive = false): Planted {
  const B = randMatrix(I, R, rng), C = randMatrix(J, R, rng);
  const truth = { weights: randWeights(R, rng, positive), factors: [B, ...Array<Matrix>(order - 1).fill(C)] };
  return { T: cpToTensor(truth), truth };
}
/** Additive Gaussian noise with ‖E‖_F = rel·‖T‖_F (seeded). */
function addNoise(T: Tensor, rel: number, seed: number): Tensor {
  const E = new Rng(seed).normalArray(T.size);
  let n = 0;
  for (const x of E) n += x * x;
  const f = (rel * T.norm()) / Math.sqrt(n);
  return new Tensor(T.shape, T.data.map((x, i) => x + f * E[i]));
}
/** Exact recovery: every component (rank-1 term, sign/scale/permutation invariant) and the reconstruction. */
function assertRecovered(P: Planted, est: CPTensor, tol: number, what: string): void {
  const cmp = cpCompare(P.truth, est);
  assert.ok(cmp.maxComponentError < tol, `${what}: max component error ${cmp.maxComponentError.toExponential(2)} >= ${tol}`);
  assert.ok(cmp.maxFactorError < tol, `${what}: max factor error ${cmp.maxFactorError.toExponential(2)} >= ${tol}`);
  const res = cpResidual(P.T, est);
  assert.ok(res < tol, `${what}: reconstruction error ${res.toExponential(2)} >= ${tol}`);
}

// Noise-free tolerance 1e-8 (the brief's target): exact-arithmetic algorithms here lose at most
// cond(factors)·cond(M_v)·eps ≈ 1e-12 on these well-conditioned Gaussian factors; 1e-8 leaves a margin.
const EXACT = 1e-8;

// ---------------------------------------------------------------- eigGeneral

test('eigGeneral: eigenvalues match ml-matrix EVD and A V = V D (JAMA block form) on random nonsymmetric matrices', () => {
  const rng = new Rng(101);
  for (const n of [1, 2, 3, 5, 8, 13, 30]) {
    const A = randMatrix(n, n, rng);
    const e = eigGeneral(A);
    const ref = new EigenvalueDecomposition(new MLMatrix(A.toArray()));
    const key = (re: number, im: number): number => re * 1e3 + im;
    const mine = Array.from(e.real, (re, i) => [re, e.imag[i]]).sort((a, b) => key(a[0], a[1]) - key(b[0], b[1]));
    const theirs = ref.realEigenvalues.map((re, i) => [re, ref.imaginaryEigenvalues[i]]).sort((a, b) => key(a[0], a[1]) - key(b[0], b[1]));
    // Same algorithm family on the same input: agreement to ~1e-10 of the spectral scale.
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(mine[i][0] - theirs[i][0]) < 1e-10 * Math.sqrt(n), `n=${n} real part ${i}`);
      assert.ok(Math.abs(mine[i][1] - theirs[i][1]) < 1e-10 * Math.sqrt(n), `n=${n} imag part ${i}`);
    }
    // A V = V D with D block-diagonal: [[re, im], [-im, re]] for a pair.
    const V = e.vectors;
    const D = new Matrix(n, n);
    for (let j = 0; j < n; j++) {
      D.set(j, j, e.real[j]);
      if (e.imag[j] > 0) D.set(j, j + 1, e.imag[j]);
      else if (e.imag[j] < 0) D.set(j, j - 1, e.imag[j]);
    }
    const AV = matmul(A, V), VD = matmul(V, D);
    for (let i = 0; i < n * n; i++) assert.ok(Math.abs(AV.data[i] - VD.data[i]) < 1e-10 * n, `n=${n} AV=VD`);
  }
});

test('eigGeneral: real spectrum A = S diag(λ) S⁻¹ gives A v = λ v with unit vectors', () => {
  const rng = new Rng(102);
  for (const n of [4, 10, 25]) {
    const S = randMatrix(n, n, rng);
    const lam = Float64Array.from({ length: n }, (_, i) => i + 1 + 0.3 * rng.uniform());
    const Sl = S.clone();
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) Sl.data[i * n + j] *= lam[j];
    const A = matmul(Sl, pinv(S).pinv);
    const e = eigGeneral(A);
    assert.ok(Math.max(...Array.from(e.imag, Math.abs)) === 0, 'real spectrum has no complex pairs');
    const got = Array.from(e.real).sort((a, b) => a - b);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(got[i] - lam[i]) < 1e-8, `n=${n} eigenvalue ${i}: ${got[i]} vs ${lam[i]}`);
    for (let j = 0; j < n; j++) {
      const v = e.vectors.col(j);
      const Av = matmul(A, new Matrix(n, 1, v));
      let nv = 0;
      for (let i = 0; i < n; i++) {
        assert.ok(Math.abs(Av.data[i] - e.real[j] * v[i]) < 1e-8, `n=${n} Av=λv`);
        nv += v[i] * v[i];
      }
      assert.ok(Math.abs(nv - 1) < 1e-12);
    }
  }
  // Rotation: pure complex pair ±i.
  const e = eigGeneral(Matrix.from([[0, -1], [1, 0]]));
  assert.deepEqual(Array.from(e.real).map((x) => Math.abs(x) < 1e-15 ? 0 : x), [0, 0]);
  assert.deepEqual(Array.from(e.imag).map(Math.abs), [1, 1]);
});

test('eigGeneral: errors on non-square, empty and non-finite input', () => {
  assert.throws(() => eigGeneral(new Matrix(2, 3)), /expected square/);
  assert.throws(() => eigGeneral(new Matrix(0, 0)), /empty/);
  assert.throws(() => eigGeneral(Matrix.from([[1, NaN], [0, 1]])), /NaN/);
  const z = eigGeneral(new Matrix(3, 3));
  assert.deepEqual(Array.from(z.real), [0, 0, 0]);
});

// ---------------------------------------------------------------- cp_tensor

test('cpNormalize: unit columns, same tensor, tied factors stay shared; cpResidual', () => {
  const rng = new Rng(103);
  const P = plantedTied(4, 5, 3, rng);
  const n = cpNormalize(P.truth);
  for (const F of n.factors) for (let r = 0; r < 3; r++) assert.ok(Math.abs(Math.hypot(...F.col(r)) - 1) < 1e-14);
  assert.equal(n.factors[1], n.factors[2], 'tied factor object shared');
  assert.ok(cpResidual(P.T, n) < 1e-14);
  const Q = plantedGeneral([3, 4, 5], 2, rng);
  const nq = cpNormalize(Q.truth);
  assert.ok(cpResidual(Q.T, nq) < 1e-14);
  // Residual of the zero CP is exactly 1.
  assert.equal(cpResidual(Q.T, { weights: new Float64Array(2), factors: Q.truth.factors }), 1);
  assert.throws(() => cpResidual(new Tensor([2, 2, 2]), nq), /zero/);
});

// ---------------------------------------------------------------- Jennrich

test('jennrich (general): exact recovery of planted tensors, rank 2–10, dims up to 50', () => {
  const rng = new Rng(104);
  // [4, 12, 9, 6]: rank > I, solved with the modes permuted (modes 1, 2 as the full-rank pair).
  for (const [I, J, K, R] of [[5, 6, 7, 2], [20, 15, 12, 6], [10, 10, 4, 10], [4, 12, 9, 6], [9, 3, 12, 6], [50, 50, 50, 10]]) {
    const P = plantedGeneral([I, J, K], R, rng);
    const res = jennrich(P.T, R, { seed: 1 });
    assertRecovered(P, res.cp, EXACT, `jennrich ${I}x${J}x${K} rank ${R}`);
    assert.ok(res.diagnostics.minSeparation > 0 && res.diagnostics.maxImagRatio === 0);
    assert.ok(res.diagnostics.condEigenvectors >= 1 && Number.isFinite(res.diagnostics.condMv));
  }
});

test('jennrich (tied): exact recovery of Σ w b ⊗ c ⊗ c, factors [B, C, C] with C shared', () => {
  const rng = new Rng(105);
  for (const [I, J, R] of [[4, 8, 3], [2, 10, 5], [30, 20, 10], [1, 5, 1]]) {
    const P = plantedTied(I, J, R, rng);
    const res = jennrich(P.T, R, { seed: 2, tied: true });
    assert.equal(res.cp.factors[1], res.cp.factors[2]);
    assertRecovered(P, res.cp, EXACT, `jennrich tied ${I}x${J}x${J} rank ${R}`);
    assert.ok(res.diagnostics.asymmetry! < 1e-14 && Number.isFinite(res.diagnostics.condNormal!));
  }
});

test('jennrich: degenerate inputs throw clear errors', () => {
  const rng = new Rng(106);
  const P = plantedGeneral([4, 5, 6], 2, rng);
  assert.throws(() => jennrich(P.T, 6), /exceeds the second-largest dimension/);
  assert.throws(() => jennrich(P.T, 3), /numerical rank < 3/);
  assert.throws(() => jennrich(P.T, 0), /integer >= 1/);
  assert.throws(() => jennrich(new Tensor([3, 3, 3]), 2), /identically zero/);
  const bad = P.T.clone();
  bad.data[7] = NaN;
  assert.throws(() => jennrich(bad, 2), /NaN/);
  assert.throws(() => jennrich(new Tensor([3, 3], rng.normalArray(9)), 1), /order 2/);
  const Q = plantedTied(3, 4, 2, rng);
  assert.throws(() => jennrich(Q.T, 5, { tied: true }), /exceeds J = 4/);
  assert.throws(() => jennrich(P.T, 2, { tied: true }), /equal size/);
  assert.throws(() => jennrich(plantedTied(1, 4, 2, rng).T, 2, { tied: true }), /not identifiable/);
  // Two parallel mode-2 columns: eigenvalues repeat → not identifiable.
  const C = randMatrix(6, 2, rng);
  for (let i = 0; i < 6; i++) C.data[i * 2 + 1] = 2 * C.data[i * 2];
  const T = cpToTensor(new Float64Array([1, 1]), [randMatrix(4, 2, rng), randMatrix(5, 2, rng), C]);
  assert.throws(() => jennrich(T, 2), /not identifiable/);
});

// ---------------------------------------------------------------- ALS

test('als (general): exact recovery from svd and random starts, order 3 and 4', () => {
  const rng = new Rng(107);
  const cases: [number[], number, 'svd' | 'random'][] = [
    [[5, 6, 7], 2, 'svd'],
    [[20, 15, 12], 6, 'svd'],
    [[8, 9, 10], 5, 'random'],
    [[50, 50, 50], 10, 'svd'],
    [[6, 5, 4, 5], 3, 'svd'],
  ];
  for (const [shape, R, init] of cases) {
    const P = plantedGeneral(shape, R, rng);
    const res = als(P.T, R, { init, seed: 3, maxIter: 1000 });
    assert.ok(res.converged, `als ${shape} did not converge`);
    assertRecovered(P, res.cp, EXACT, `als ${shape.join('x')} rank ${R} init ${init}`);
    assert.ok(Number.isFinite(res.maxCondNormal) && res.maxCondNormal >= 1);
    assert.ok(Math.abs(res.residual - cpResidual(P.T, res.cp)) < 1e-15);
  }
});

test('als (tied): converges to the tied solution [B, C, C] (and order 4 [B, C, C, C])', () => {
  const rng = new Rng(108);
  const cases: [number, number, number, number, 'svd' | 'random'][] = [
    [4, 8, 3, 3, 'svd'],
    [30, 20, 10, 3, 'svd'],
    [50, 50, 10, 3, 'svd'], // mixed-sign weights at this size stalled an earlier per-sweep-averaging variant
    [8, 9, 4, 3, 'random'],
    [5, 6, 3, 4, 'svd'],
  ];
  for (const [I, J, R, order, init] of cases) {
    const P = plantedTied(I, J, R, rng, order);
    const res = als(P.T, R, { tied: true, init, seed: 4, maxIter: 1000 });
    assert.ok(res.converged, `tied als ${I},${J},${R} did not converge`);
    for (let k = 2; k < order; k++) assert.equal(res.cp.factors[k], res.cp.factors[1], 'tied factor shared');
    assert.ok(res.tieGap! < EXACT, `tie gap ${res.tieGap}`);
    assertRecovered(P, res.cp, EXACT, `tied als ${I}x${J}^${order - 1} rank ${R} init ${init}`);
  }
});

test('als: degenerate inputs and bad options throw', () => {
  const rng = new Rng(109);
  const P = plantedGeneral([4, 5, 6], 2, rng);
  assert.throws(() => als(new Tensor([3, 3, 3]), 2), /identically zero/);
  const bad = P.T.clone();
  bad.data[0] = Infinity;
  assert.throws(() => als(bad, 2), /NaN or Infinity/);
  assert.throws(() => als(P.T, 2, { maxIter: 0 }), /maxIter/);
  assert.throws(() => als(P.T, 2, { tied: true }), /equal size/);
  assert.throws(() => als(plantedTied(3, 4, 2, rng).T, 5, { tied: true }), /exceeds the tied dimension/);
  assert.throws(() => als(P.T, 2, { init: { weights: new Float64Array(2), factors: [randMatrix(4, 2, rng), randMatrix(4, 2, rng), randMatrix(6, 2, rng)] } }), /init factor 1/);
});

// ---------------------------------------------------------------- App. F route

test('whiten: Wᵀ M2 W = I, B = (Wᵀ)⁺, and a rank-deficient M2 throws', () => {
  const rng = new Rng(110);
  const C = randMatrix(8, 3, rng);
  const M2 = matmulNT(C, C);
  const wh = whiten(M2, 3);
  const I3 = matmulTN(wh.W, matmul(M2, wh.W));
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) assert.ok(Math.abs(I3.get(i, j) - (i === j ? 1 : 0)) < 1e-12);
  const WtB = matmulTN(wh.W, wh.B);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) assert.ok(Math.abs(WtB.get(i, j) - (i === j ? 1 : 0)) < 1e-12);
  assert.ok(wh.gapRatio < 1e-12 && wh.smallestKept > 0);
  assert.throws(() => whiten(M2, 4), /cannot whiten to rank 4/);
});

test('tensorPowerMethod: orthogonally decomposable tensor, eigenpairs recovered', () => {
  const rng = new Rng(111);
  for (const [k, R] of [[5, 3], [12, 8]]) {
    const V = qr(randMatrix(k, R, rng)).Q;
    const lam = Float64Array.from({ length: R }, (_, i) => 1 + i + 0.5 * rng.uniform());
    const T = cpToTensor(lam, [V, V, V]);
    const pm = tensorPowerMethod(T, R, { seed: 5 });
    const cmp = cpCompare({ weights: lam, factors: [V, V, V] }, { weights: pm.eigenvalues, factors: [pm.vectors, pm.vectors, pm.vectors] });
    assert.ok(cmp.maxComponentError < EXACT, `power ${k}/${R}: ${cmp.maxComponentError}`);
    // Largest eigenvalue first (deflation order).
    assert.ok(Math.abs(pm.eigenvalues[0] - Math.max(...lam)) < 1e-10);
    assert.ok(pm.diagnostics.residual < 1e-10 && pm.diagnostics.maxOffOrthogonality < 1e-10);
  }
  assert.throws(() => tensorPowerMethod(new Tensor([3, 3, 4], rng.normalArray(36)), 2), /not cubical/);
  assert.throws(() => tensorPowerMethod(new Tensor([3, 3, 3], rng.normalArray(27)), 4), /exceeds the dimension/);
});

test('cpPower: symmetric CP Σ λ c⊗c⊗c recovered with a caller M2 (rank 2–10, d up to 50) and by slice search (small rank)', () => {
  const rng = new Rng(112);
  for (const [d, R] of [[5, 2], [20, 6], [10, 10], [50, 10]]) {
    const P = plantedTied(d, d, R, rng, 3, true);
    // Symmetric: use C in every mode.
    const C = P.truth.factors[1];
    const sym = { weights: P.truth.weights, factors: [C, C, C] };
    const T = cpToTensor(sym);
    const mu = Float64Array.from({ length: R }, () => 0.5 + rng.uniform());
    const CM = C.clone();
    for (let i = 0; i < d; i++) for (let r = 0; r < R; r++) CM.data[i * R + r] *= mu[r];
    const res = cpPower(T, R, { M2: matmulNT(CM, C), seed: 6 });
    assert.equal(res.diagnostics.whitenedWith, 'M2');
    assertRecovered({ T, truth: sym }, res.cp, EXACT, `cpPower M2 d=${d} rank ${R}`);
  }
  const C = randMatrix(8, 3, rng);
  const sym = { weights: randWeights(3, rng, true), factors: [C, C, C] };
  const T = cpToTensor(sym);
  const res = cpPower(T, 3, { seed: 7 });
  assert.equal(res.diagnostics.whitenedWith, 'slice');
  assertRecovered({ T, truth: sym }, res.cp, EXACT, 'cpPower slice route');
  assert.throws(() => cpPower(T, 3, { M2: new Matrix(8, 8) }), /no positive eigenvalue/);
  assert.throws(() => cpPower(T, 9), /exceeds the dimension/);
});

test('cpTiedPower (paper Algorithm 5): T(D, I, I) symmetrisation, then B by least squares', () => {
  const rng = new Rng(113);
  const [I, J, R] = [7, 9, 4];
  const P = plantedTied(I, J, R, rng);
  const [B, C] = [P.truth.factors[0], P.truth.factors[1]];
  // D with Dᵀ (w_i b_i) = c_i: Dᵀ = C (B W)⁺ → D = ((BW)⁺)ᵀ Cᵀ (I × J).
  const BW = B.clone();
  for (let i = 0; i < I; i++) for (let r = 0; r < R; r++) BW.data[i * R + r] *= P.truth.weights[r];
  const D = matmulNT(transpose(pinv(BW).pinv), C);
  const Ts = symmetrizeMode1(P.T, D);
  const expect = cpToTensor(new Float64Array(R).fill(1), [C, C, C]);
  for (let i = 0; i < Ts.size; i++) assert.ok(Math.abs(Ts.data[i] - expect.data[i]) < 1e-10);
  const res = cpTiedPower(P.T, R, { D, M2: matmulNT(C, C), seed: 8 });
  assertRecovered(P, res.cp, EXACT, 'cpTiedPower');
  assert.throws(() => cpTiedPower(P.T, R, { D: new Matrix(J, J) }), /expected 7x9/);
});

// ---------------------------------------------------------------- noise: error ∝ noise

test('every method: with additive Gaussian noise at 1e-4 and 1e-3 (relative), error scales with the noise', () => {
  const rng = new Rng(114);
  const [I, J, K, R] = [15, 12, 10, 4];
  const gen = plantedGeneral([I, J, K], R, rng);
  const tied = plantedTied(I, J, R, rng);
  const Cs = randMatrix(J, R, rng);
  const sym = { weights: randWeights(R, rng, true), factors: [Cs, Cs, Cs] };
  const symT = cpToTensor(sym);
  const M2 = matmulNT(Cs, Cs);
  const methods: [string, Planted, (T: Tensor) => CPTensor, number][] = [
    // Bound factor: error ≤ factor × noise. Jennrich is not least squares (up to ~10× noise here);
    // ALS/power are near the LS optimum (≈0.2–1× noise on these well-conditioned factors).
    ['jennrich', gen, (T) => jennrich(T, R, { seed: 9 }).cp, 100],
    ['jennrich tied', tied, (T) => jennrich(T, R, { seed: 9, tied: true }).cp, 100],
    ['als', gen, (T) => als(T, R, { seed: 9 }).cp, 20],
    ['als tied', tied, (T) => als(T, R, { seed: 9, tied: true }).cp, 20],
    ['als from jennrich', gen, (T) => als(T, R, { init: jennrich(T, R).cp }).cp, 20],
    ['cpPower', { T: symT, truth: sym }, (T) => cpPower(T, R, { M2, seed: 9 }).cp, 20],
  ];
  for (const [name, P, fit, bound] of methods) {
    const errs = [1e-4, 1e-3].map((lvl, i) => cpCompare(P.truth, fit(addNoise(P.T, lvl, 1000 + i))).maxComponentError);
    // Independent noise draws at the two levels; first-order perturbation theory says error ∝ noise,
    // so the ratio should be ≈ 10; a factor 3 either way tolerates draw-to-draw variation.
    const ratio = errs[1] / errs[0];
    assert.ok(ratio > 10 / 3 && ratio < 30, `${name}: error ratio ${ratio.toFixed(2)} (errors ${errs.map((e) => e.toExponential(2))})`);
    assert.ok(errs[0] < bound * 1e-4 && errs[1] < bound * 1e-3, `${name}: errors ${errs.map((e) => e.toExponential(2))} exceed ${bound}× noise`);
    assert.ok(errs[0] > 1e-7, `${name}: noise had no effect (${errs[0]})`);
  }
});

// ---------------------------------------------------------------- estimator wrapper

test('CP estimator: auto = Jennrich start + ALS polish (general and tied), other methods dispatch', () => {
  const rng = new Rng(115);
  const P = plantedGeneral([12, 10, 8], 5, rng);
  const noisy = addNoise(P.T, 1e-3, 77);
  const auto = new CP({ rank: 5, seed: 1 }).fit(noisy);
  assert.equal(auto.method, 'jennrich+als');
  // The polish reaches the least-squares fit: residual no larger than Jennrich's own.
  const jen = new CP({ rank: 5, method: 'jennrich', seed: 1 }).fit(noisy);
  assert.ok(auto.residual <= jen.residual + 1e-15, `auto ${auto.residual} vs jennrich ${jen.residual}`);
  assert.ok(cpCompare(P.truth, auto.cp).maxComponentError < 20e-3);
  const Q = plantedTied(6, 9, 4, rng);
  const tied = new CP({ rank: 4, tied: true }).fit(Q.T);
  assertRecovered(Q, tied.cp, EXACT, 'CP auto tied');
  assert.equal(tied.reconstruct().size, Q.T.size);
  // Order 4: Jennrich does not apply, auto falls back to ALS.
  const F = plantedGeneral([5, 4, 6, 3], 2, rng);
  const a4 = new CP({ rank: 2 }).fit(F.T);
  assert.equal(a4.method, 'als');
  assertRecovered(F, a4.cp, EXACT, 'CP auto order 4');
  assert.throws(() => new CP({ rank: 0 }), /rank/);
  assert.throws(() => new CP({ rank: 2, method: 'power', tied: true }).fit(Q.T), /needs the symmetrisation matrix D/);
});
