import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix, matmul, matmulNT } from '../src/linalg/matrix.js';
import { GaussianVARp } from '../src/input/varp.js';
import { VARpStats, estimateVARp, fitVARp } from '../src/input/varp-fit.js';
import { GaussianVAR1 } from '../src/input/gaussian.js';
import { InputModel, inputModelFromJSON } from '../src/input/model.js';
import { makeChunk, memorySource, sliceSequences, splitChunk } from '../src/io/dataset.js';
import { Rng } from '../src/random/rng.js';

// A planted stable VAR(3) with dx = 2 (companion spectral radius ≈ 0.8) and a correlated innovation covariance.
const A3 = [
  Matrix.from([[0.5, 0.1], [-0.2, 0.3]]),
  Matrix.from([[-0.3, 0.05], [0.1, 0.2]]),
  Matrix.from([[0.2, 0.0], [0.05, -0.25]]),
];
const Q2 = Matrix.from([[1.0, 0.3], [0.3, 0.6]]);
const MU = [0.7, -1.2];

/**
 * Brute force, independent of the model code: the autocovariances Γ(h) = E[c_{t+h} c_tᵀ] = Σ_k Ψ_{k+h} Q Ψ_kᵀ from
 * the MA(∞) form c_t = Σ_k Ψ_k ε_{t−k} (Ψ_0 = I, Ψ_k = Σ_i A_i Ψ_{k−i}), and the covariance of a length-L sequence
 * as the block-Toeplitz matrix of them. Truncation at K terms: ‖Ψ_k‖ ≲ ρ^k k^(p−1), ρ ≈ 0.8, so K = 600 leaves
 * < 1e-50 — far below rounding.
 */
function bruteCovariance(A: Matrix[], Q: Matrix, L: number): Matrix {
  const dx = Q.rows, p = A.length, K = 600;
  const Psi: Matrix[] = [Matrix.identity(dx)];
  for (let k = 1; k < K + L; k++) {
    const M = new Matrix(dx, dx);
    for (let i = 1; i <= Math.min(p, k); i++) {
      const T = matmul(A[i - 1], Psi[k - i]);
      for (let j = 0; j < dx * dx; j++) M.data[j] += T.data[j];
    }
    Psi.push(M);
  }
  const gamma = (h: number): Matrix => {
    const G = new Matrix(dx, dx);
    for (let k = 0; k < K; k++) {
      const T = matmulNT(matmul(Psi[k + h], Q), Psi[k]);
      for (let j = 0; j < dx * dx; j++) G.data[j] += T.data[j];
    }
    return G;
  };
  const gs = Array.from({ length: L }, (_, h) => gamma(h));
  const n = L * dx, C = new Matrix(n, n);
  for (let s = 0; s < L; s++)
    for (let u = 0; u < L; u++)
      for (let a = 0; a < dx; a++)
        for (let b = 0; b < dx; b++) C.data[(s * dx + a) * n + u * dx + b] = s >= u ? gs[s - u].data[a * dx + b] : gs[u - s].data[b * dx + a];
  return C;
}

function fullPrecision(model: InputModel, L: number): Matrix {
  const dx = model.dx, n = L * dx, M = new Matrix(n, n);
  for (let t = 0; t < L; t++)
    for (let u = 0; u < L; u++) {
      const B = model.precisionBlock(t, u, L);
      if (Math.abs(t - u) > model.order) assert.equal(B, null, `block (${t},${u}) beyond the order must be structurally zero`);
      if (B === null) continue;
      for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) M.data[(t * dx + a) * n + u * dx + b] = B.data[a * dx + b];
    }
  return M;
}

test('VAR(p) precision Λ is the inverse of the brute-force covariance, for short and long sequences (boundaries)', () => {
  const model = new GaussianVARp(MU, A3, Q2);
  // L < p, L = p, p < L < 2p, and long sequences with an interior.
  for (const L of [1, 2, 3, 4, 5, 6, 7, 10, 14]) {
    const C = bruteCovariance(A3, Q2, L);
    const P = fullPrecision(model, L);
    const I = matmul(P, C);
    let err = 0;
    for (let i = 0; i < I.rows; i++) for (let j = 0; j < I.cols; j++) err = Math.max(err, Math.abs(I.data[i * I.cols + j] - (i === j ? 1 : 0)));
    // Entries of Λ and C are O(1–10), cond(C) ≈ 1e2: rounding leaves ~1e-13; a wrong boundary block gives O(0.1).
    assert.ok(err < 1e-9, `L=${L}: max |ΛC − I| = ${err}`);
  }
});

test('VAR(p) scoreSequence (through the density) equals Λ(x − μ) (through the blocks), and blocks are shared', () => {
  const model = new GaussianVARp(MU, A3, Q2);
  const rng = new Rng(3);
  for (const L of [1, 2, 3, 5, 9, 40]) {
    const x = rng.normalArray(L * 2);
    const s = new Float64Array(L * 2 + 4);
    model.scoreSequence(x, L, s, 0, 4);
    const P = fullPrecision(model, L);
    for (let i = 0; i < L * 2; i++) {
      let v = 0;
      for (let j = 0; j < L * 2; j++) v += P.data[i * L * 2 + j] * (x[j] - MU[j % 2]);
      assert.ok(Math.abs(v - s[4 + i]) < 1e-10 * (1 + Math.abs(v)), `L=${L}, i=${i}: ${v} vs ${s[4 + i]}`);
    }
  }
  // Equal blocks are the same object: the interior of a long sequence has 2p+1 distinct blocks, each end ≤ p².
  const L = 40, seen = new Set<Matrix>();
  for (let t = 0; t < L; t++) for (let u = Math.max(0, t - 3); u <= Math.min(L - 1, t + 3); u++) seen.add(model.precisionBlock(t, u, L)!);
  assert.ok(seen.size <= 2 * 9 + 7, `distinct blocks ${seen.size}`);
  assert.equal(model.precisionBlock(10, 12, L), model.precisionBlock(20, 22, L));
  assert.equal(model.precisionBlock(10, 10, L), model.precisionBlock(30, 30, 60));
});

test('VAR(1) as a VAR(p) with p = 1 has exactly the GaussianVAR1 blocks', () => {
  const F = Matrix.from([[0.6, 0.2], [-0.1, 0.4]]);
  const a = new GaussianVARp(MU, [F], Q2), b = new GaussianVAR1(MU, F, Q2);
  for (const L of [1, 2, 5])
    for (let t = 0; t < L; t++)
      for (let u = Math.max(0, t - 1); u <= Math.min(L - 1, t + 1); u++) {
        const X = a.precisionBlock(t, u, L)!, Y = b.precisionBlock(t, u, L)!;
        for (let k = 0; k < 4; k++) assert.ok(Math.abs(X.data[k] - Y.data[k]) < 1e-10, `L=${L} (${t},${u})`);
      }
});

/**
 * Stein's identity for the joint density (docs/method.md §3): E[G(x) s_{t,a}] = E[∂G/∂x_{t,a}] for a planted polynomial
 * G of the whole sequence: G = x_{1,0} x_{3,1}² + x_{0,1} x_{5,0} + x_{4,0}. Monte Carlo over 2e5 sequences; each of
 * the 12 comparisons must be within 5 standard errors (estimated from the same draws: P(false alarm) < 1e-5 total).
 * The same check with the best VAR(1) misspecification must fail somewhere, so the test has power.
 */
test('VAR(p) exact scores satisfy Stein identity on a planted polynomial (Monte Carlo); a VAR(1) score does not', () => {
  const A = [Matrix.from([[0.5, 0.2], [-0.3, 0.4]]), Matrix.from([[-0.4, 0.1], [0.2, 0.2]])];
  const model = new GaussianVARp(MU, A, Q2);
  const L = 6, N = 200_000, dx = 2;
  const x = model.simulate(new Rng(11), new Array(N).fill(L));
  const check = (m: InputModel): number => {
    const s = new Float64Array(L * dx);
    const sum = new Float64Array(L * dx), sum2 = new Float64Array(L * dx);
    for (let k = 0; k < N; k++) {
      const o = k * L * dx;
      m.scoreSequence(x, L, s, o, 0);
      const X = (t: number, a: number) => x[o + t * dx + a];
      const G = X(1, 0) * X(3, 1) ** 2 + X(0, 1) * X(5, 0) + X(4, 0);
      const dG = new Float64Array(L * dx);
      dG[1 * dx + 0] = X(3, 1) ** 2;
      dG[3 * dx + 1] = 2 * X(1, 0) * X(3, 1);
      dG[0 * dx + 1] = X(5, 0);
      dG[5 * dx + 0] = X(0, 1);
      dG[4 * dx + 0] = 1;
      for (let i = 0; i < L * dx; i++) {
        const d = G * s[i] - dG[i];
        sum[i] += d;
        sum2[i] += d * d;
      }
    }
    let worst = 0;
    for (let i = 0; i < L * dx; i++) {
      const mean = sum[i] / N, se = Math.sqrt((sum2[i] / N - mean * mean) / N);
      worst = Math.max(worst, Math.abs(mean) / se);
    }
    return worst;
  };
  const zExact = check(model);
  assert.ok(zExact < 5, `exact VAR(2) scores: worst |z| = ${zExact.toFixed(2)}`);
  const st = new VARpStats(dx, 1).add(makeChunk(dx, 0, x, new Float64Array(0), new Array(N).fill(L)));
  const var1 = estimateVARp(st, { order: 1 }).model;
  const zWrong = check(var1);
  assert.ok(zWrong > 10, `VAR(1) scores should be visibly biased here, worst |z| = ${zWrong.toFixed(2)}`);
});

test('order selection by BIC recovers planted orders 0, 1 and 3; coefficients within sampling error', async () => {
  const rng = new Rng(5);
  const cases: [Matrix[], number][] = [[[], 0], [[Matrix.from([[0.7, 0.1], [0.0, -0.5]])], 1], [A3, 3]];
  for (const [A, p] of cases) {
    const model = new GaussianVARp(MU, A, Q2);
    const lengths = new Array(60).fill(500);
    const x = model.simulate(rng, lengths);
    const chunk = makeChunk(2, 0, x, new Float64Array(0), lengths);
    const fit = await fitVARp(memorySource(splitChunk(chunk, 3)), { maxOrder: 8 });
    assert.equal(fit.diagnostics.order, p, `planted p=${p}, BIC ${fit.diagnostics.bic.map((b) => b?.toFixed(1)).join(' ')}`);
    assert.equal(fit.diagnostics.criterion, 'bic');
    // 3e4 steps: coefficient standard errors ≈ 1/√n·O(1) ≈ 0.006–0.02; 0.06 is > 3 SE for every entry.
    for (let i = 0; i < p; i++) for (let k = 0; k < 4; k++) assert.ok(Math.abs(fit.model.A[i].data[k] - A[i].data[k]) < 0.06, `A${i + 1}[${k}]`);
    for (let a = 0; a < 2; a++) assert.ok(Math.abs(fit.model.mean[a] - MU[a]) < 0.1);
    assert.ok(Math.abs(fit.diagnostics.residualExcessKurtosis![0]) < 0.2);
  }
});

test('VARpStats merge is grouping-independent; JSON round trip gives identical scores', () => {
  const model = new GaussianVARp(MU, A3, Q2);
  const lengths = [50, 3, 120, 7, 80, 2, 64];
  const x = model.simulate(new Rng(9), lengths);
  const chunk = makeChunk(2, 0, x, new Float64Array(0), lengths);
  const one = new VARpStats(2, 4).add(chunk);
  // Three pieces of whole sequences, merged out of order.
  const pieces = [sliceSequences(chunk, 0, 2, 0, 53), sliceSequences(chunk, 2, 5, 53, 260), sliceSequences(chunk, 5, 7, 260, 326)];
  const parts = pieces.map((c) => new VARpStats(2, 4).add(c));
  const merged = parts[2].merge(parts[0]).merge(parts[1]);
  assert.equal(merged.n, one.n);
  assert.equal(merged.m, one.m);
  for (let i = 0; i < one.winM2.length; i++) assert.ok(Math.abs(merged.winM2[i] - one.winM2[i]) < 1e-9 * (1 + Math.abs(one.winM2[i])));
  const a = estimateVARp(one, { order: 3 }).model, b = estimateVARp(merged, { order: 3 }).model;
  for (let i = 0; i < 3; i++) for (let k = 0; k < 4; k++) assert.ok(Math.abs(a.A[i].data[k] - b.A[i].data[k]) < 1e-10);
  const back = inputModelFromJSON(JSON.parse(JSON.stringify(model.toJSON())));
  const s1 = new Float64Array(40), s2 = new Float64Array(40);
  model.scoreSequence(x, 20, s1);
  back.scoreSequence(x, 20, s2);
  assert.deepEqual(Array.from(s1), Array.from(s2));
});

test('VAR(p) fit errors name the problem: constant column, too few windows', () => {
  const c = makeChunk(2, 0, Float64Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? 1 : Math.sin(i))), new Float64Array(0), [200]);
  assert.throws(() => estimateVARp(new VARpStats(2, 2).add(c)), /input column "x1" is constant/);
  const short = makeChunk(1, 0, Float64Array.from({ length: 12 }, (_, i) => Math.cos(i * i)), new Float64Array(0), [6, 6]);
  assert.throws(() => estimateVARp(new VARpStats(1, 4).add(short)), /needs at least 20 windows/);
  assert.throws(() => new GaussianVARp([0], [Matrix.from([[1.2]])], Matrix.from([[1]])), /not stable/);
});
