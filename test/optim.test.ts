/**
 * Optimisers over the problem interface (src/optim) on classic problems with known minima, the acceptance
 * hook, the failure fallback, and the linear algebra they use (non-throwing Cholesky, normal equations).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BestTracker, type OptimOptions } from '../src/optim/problem.js';
import { levenbergMarquardt, type LeastSquaresProblem } from '../src/optim/lm.js';
import { lbfgs, type SmoothProblem } from '../src/optim/lbfgs.js';
import { choleskyInPlace, choleskySolveInPlace } from '../src/linalg/cholesky.js';
import { solveNormalEquations } from '../src/linalg/lstsq.js';
import { spectralNorm } from '../src/linalg/norms.js';
import { Matrix } from '../src/linalg/matrix.js';
import { Rng } from '../src/random/rng.js';

const opts = (o: Partial<OptimOptions> = {}): OptimOptions => ({ maxIter: 200, tol: 0, patience: 5, ...o });

/** A least-squares problem from a residual function and its Jacobian (dense, small). */
function lsProblem(n: number, res: (t: Float64Array) => number[], jac: (t: Float64Array) => number[][]): LeastSquaresProblem {
  return {
    size: n,
    normalEquations(t, N, g) {
      const r = res(t), J = jac(t);
      for (let k = 0; k < r.length; k++) for (let a = 0; a < n; a++) {
        g[a] += J[k][a] * r[k];
        for (let b = 0; b < n; b++) N[a * n + b] += J[k][a] * J[k][b];
      }
      return r.reduce((s, v) => s + v * v, 0);
    },
    sumOfSquares: (t) => res(t).reduce((s, v) => s + v * v, 0),
    loss: (s) => s,
  };
}

const start = (theta: number[], tracker: BestTracker) => {
  const s = { theta: Float64Array.from(theta), loss: Infinity, val: null };
  tracker.offer(s);
  return s;
};

// Rosenbrock as least squares: r = (10(y − x²), 1 − x), minimum 0 at (1, 1).
const rosenRes = (t: Float64Array) => [10 * (t[1] - t[0] * t[0]), 1 - t[0]];
const rosenJac = (t: Float64Array) => [[-20 * t[0], 10], [-1, 0]];

test('LM: Rosenbrock from (−1.2, 1) reaches the minimum (1, 1)', () => {
  const tr = new BestTracker();
  const r = levenbergMarquardt(lsProblem(2, rosenRes, rosenJac), start([-1.2, 1], tr), tr, opts());
  const b = tr.best!;
  assert.ok(Math.abs(b.theta[0] - 1) < 1e-8 && Math.abs(b.theta[1] - 1) < 1e-8, `${b.theta} after ${r.iterations} (${r.stopReason})`);
});

/** Random A (20×3), b: the linear least-squares minimiser by Cramer's rule on AᵀA x = Aᵀb (independent). */
function linearProblem(seed: number) {
  const rng = new Rng(seed);
  const A = Array.from({ length: 20 }, () => [rng.normal(), rng.normal(), rng.normal()]);
  const bv = A.map(() => rng.normal());
  const M = [0, 1, 2].map((i) => [0, 1, 2].map((j) => A.reduce((s, row) => s + row[i] * row[j], 0)));
  const v = [0, 1, 2].map((i) => A.reduce((s, row, k) => s + row[i] * bv[k], 0));
  const det = (m: number[][]) => m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  const d = det(M);
  const x = [0, 1, 2].map((c) => det(M.map((row, i) => row.map((e, j) => (j === c ? v[i] : e)))) / d);
  const res = (t: Float64Array) => A.map((row, k) => row[0] * t[0] + row[1] * t[1] + row[2] * t[2] - bv[k]);
  return { A, bv, x, res };
}

test('LM and L-BFGS: linear least squares reach the closed-form solution', () => {
  const { A, x, res } = linearProblem(3);
  const tr = new BestTracker();
  levenbergMarquardt(lsProblem(3, res, () => A), start([0, 0, 0], tr), tr, opts());
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(tr.best!.theta[i] - x[i]) < 1e-9, `LM ${tr.best!.theta} vs ${x}`);
  const smooth: SmoothProblem = {
    size: 3,
    lossAndGradient(t, g) {
      const r = res(t);
      g.fill(0);
      for (let k = 0; k < r.length; k++) for (let a = 0; a < 3; a++) g[a] += 2 * A[k][a] * r[k];
      return r.reduce((s, v) => s + v * v, 0);
    },
  };
  const t2 = new BestTracker();
  lbfgs(smooth, start([0, 0, 0], t2), t2, opts());
  // L-BFGS stops when a line search cannot decrease f any more: within ~1e-7 of x for this conditioning.
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(t2.best!.theta[i] - x[i]) < 1e-6, `L-BFGS ${t2.best!.theta} vs ${x}`);
});

test('L-BFGS: Rosenbrock from (−1.2, 1) reaches (1, 1)', () => {
  const p: SmoothProblem = {
    size: 2,
    lossAndGradient(t, g) {
      const [x, y] = t;
      g[0] = -2 * (1 - x) - 400 * x * (y - x * x);
      g[1] = 200 * (y - x * x);
      return (1 - x) ** 2 + 100 * (y - x * x) ** 2;
    },
  };
  const tr = new BestTracker();
  lbfgs(p, start([-1.2, 1], tr), tr, opts({ maxIter: 1000 }));
  assert.ok(Math.abs(tr.best!.theta[0] - 1) < 1e-5 && Math.abs(tr.best!.theta[1] - 1) < 1e-5, `${tr.best!.theta}`);
});

test('LM with variable projection: y = c·exp(−k t) recovers the planted k and c (c refit exactly)', () => {
  const ts = Array.from({ length: 30 }, (_, i) => i / 10);
  const ys = ts.map((t) => 2.5 * Math.exp(-1.3 * t));
  const p: LeastSquaresProblem = {
    size: 2,
    linearFrom: 1,
    normalEquations(th, N, g) {
      const [k, c] = th;
      let sse = 0;
      for (let i = 0; i < ts.length; i++) {
        const e = Math.exp(-k * ts[i]), r = c * e - ys[i], J = [-c * ts[i] * e, e];
        sse += r * r;
        for (let a = 0; a < 2; a++) { g[a] += J[a] * r; for (let b = 0; b < 2; b++) N[a * 2 + b] += J[a] * J[b]; }
      }
      return sse;
    },
    sumOfSquares(th) {
      const e = ts.map((t) => Math.exp(-th[0] * t));
      th[1] = e.reduce((s, v, i) => s + v * ys[i], 0) / e.reduce((s, v) => s + v * v, 0); // exact refit of c
      return e.reduce((s, v, i) => s + (th[1] * v - ys[i]) ** 2, 0);
    },
    loss: (s) => s,
  };
  const tr = new BestTracker();
  levenbergMarquardt(p, start([0.3, 1], tr), tr, opts());
  assert.ok(Math.abs(tr.best!.theta[0] - 1.3) < 1e-8 && Math.abs(tr.best!.theta[1] - 2.5) < 1e-8, `${tr.best!.theta}`);
});

test('acceptance hook: inadmissible trial points are never accepted; a failed evaluation falls back to the best iterate', () => {
  // f = (x − 1)², admissible only for x ≤ 0.5 (validation Infinity beyond): the result stays ≤ 0.5.
  const p: SmoothProblem = {
    size: 1,
    lossAndGradient: (t, g) => { g[0] = 2 * (t[0] - 1); return (t[0] - 1) ** 2; },
    validate: (t) => (t[0] > 0.5 ? Infinity : (t[0] - 1) ** 2),
  };
  const tr = new BestTracker();
  lbfgs(p, start([-3], tr), tr, opts({ maxIter: 100 }));
  assert.ok(tr.best!.theta[0] <= 0.5 && tr.best!.theta[0] > 0.4, `${tr.best!.theta[0]}`);

  // LM whose derivatives fail after the first accepted step: stop 'failed', best = that accepted iterate.
  let calls = 0;
  const base = lsProblem(2, rosenRes, rosenJac);
  const failing: LeastSquaresProblem = { ...base, normalEquations: (t, N, g) => (++calls >= 2 ? NaN : base.normalEquations(t, N, g)) };
  const t2 = new BestTracker();
  const r = levenbergMarquardt(failing, start([-1.2, 1], t2), t2, opts());
  assert.equal(r.stopReason, 'failed');
  assert.equal(r.iterations, 1);
  assert.ok(r.failure && /not finite/.test(r.failure));
  assert.ok(t2.best !== null && t2.best.theta[0] !== -1.2 && Number.isFinite(t2.best.loss), 'the accepted iterate is returned');
});

test('BestTracker: keeps the best by validation score and counts offers since', () => {
  const tr = new BestTracker();
  const e = (v: number) => ({ theta: Float64Array.of(v), loss: 10 - v, val: v });
  tr.seed(e(5), 'start');
  assert.equal(tr.offer(e(6)), false);
  assert.equal(tr.offer(e(3)), true);
  assert.equal(tr.bestTag, null);
  assert.equal(tr.offer(e(4)), false);
  assert.equal(tr.sinceBest, 1);
  assert.equal(tr.best!.val, 3);
});

test('linalg: non-throwing Cholesky, normal-equation least squares, spectral norm', () => {
  // SPD A = [[4, 2], [2, 3]], b = [2, 1] → x = [0.5, 0] (by hand).
  const A = Float64Array.of(4, 2, 2, 3), b = Float64Array.of(2, 1);
  assert.equal(choleskyInPlace(A, 2), true);
  choleskySolveInPlace(A, 2, b);
  assert.ok(Math.abs(b[0] - 0.5) < 1e-15 && Math.abs(b[1]) < 1e-15);
  assert.equal(choleskyInPlace(Float64Array.of(1, 2, 2, 1), 2), false); // indefinite
  assert.equal(choleskyInPlace(Float64Array.of(NaN, 0, 0, 1), 2), false);
  // Normal equations for y = 2 s0 − s1 exactly: W = [2, −1]; a zero regressor is rank-deficient and gets 0.
  const G = Float64Array.of(2, 1, 0, 1, 3, 0, 0, 0, 0), C = Float64Array.of(2 * 2 - 1, 2 * 1 - 3, 0);
  const ls = solveNormalEquations(G, C, 3, 1);
  assert.ok(Math.abs(ls.W[0] - 2) < 1e-12 && Math.abs(ls.W[1] + 1) < 1e-12 && ls.W[2] === 0 && ls.rankDeficient);
  // ‖diag(3, −5, 1) rotated‖₂ = 5.
  const c = Math.cos(0.3), s = Math.sin(0.3);
  const M = new Matrix(2, 2, Float64Array.of(3 * c, -3 * s, -5 * s, -5 * c));
  assert.ok(Math.abs(spectralNorm(M) - 5) < 1e-12);
});
