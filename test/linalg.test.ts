import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix as MlMatrix, SingularValueDecomposition, EigenvalueDecomposition } from 'ml-matrix';
import { Matrix, matmul, matmulTN, matmulNT, transpose, maxAbsDiff, sub, add, frobeniusNorm, scale } from '../src/linalg/matrix.js';
import { svd, conditionNumber, singularValues } from '../src/linalg/svd.js';
import { eigSym } from '../src/linalg/eigsym.js';
import { qr } from '../src/linalg/qr.js';
import { cholesky, choleskySolve, solveLowerTriangular, solveUpperTriangular } from '../src/linalg/cholesky.js';
import { solve, solveVec, inv, det, lstsq, lu } from '../src/linalg/solve.js';
import { pinv } from '../src/linalg/pinv.js';
import { solveDiscreteLyapunov, spectralRadius } from '../src/linalg/lyapunov.js';
import { Rng } from '../src/random/rng.js';

// Tolerances: all inputs have O(1) entries and dimensions ≤ 60, so backward-stable algorithms give
// residuals ~ n·eps·‖A‖ ≈ 1e-14; 1e-10 leaves four orders of margin while still catching any
// algorithmic error (which shows up at O(1e-3) or worse).
const TOL = 1e-10;

function randn(rng: Rng, m: number, n: number): Matrix {
  return new Matrix(m, n, rng.normalArray(m * n));
}

/** Orthonormal m×k columns by twice-repeated modified Gram–Schmidt (independent of qr.ts). */
function randomOrthonormal(rng: Rng, m: number, k: number): Matrix {
  const cols: Float64Array[] = [];
  for (let j = 0; j < k; j++) {
    const v = rng.normalArray(m);
    for (let pass = 0; pass < 2; pass++) {
      for (const c of cols) {
        let d = 0;
        for (let i = 0; i < m; i++) d += c[i] * v[i];
        for (let i = 0; i < m; i++) v[i] -= d * c[i];
      }
    }
    let nrm = 0;
    for (let i = 0; i < m; i++) nrm += v[i] * v[i];
    nrm = Math.sqrt(nrm);
    for (let i = 0; i < m; i++) v[i] /= nrm;
    cols.push(v);
  }
  return Matrix.fromColumns(cols);
}

function scaleCols(M: Matrix, s: ArrayLike<number>): Matrix {
  const out = M.clone();
  for (let i = 0; i < M.rows; i++) for (let j = 0; j < M.cols; j++) out.data[i * M.cols + j] *= s[j];
  return out;
}

function assertOrthonormalCols(Q: Matrix, tol: number, what: string): void {
  const err = maxAbsDiff(matmulTN(Q, Q), Matrix.identity(Q.cols));
  assert.ok(err <= tol, `${what}: max |QᵀQ − I| = ${err} > ${tol}`);
}

function assertDescendingNonneg(s: Float64Array, what: string): void {
  for (let i = 0; i < s.length; i++) {
    assert.ok(s[i] >= 0, `${what}: s[${i}] = ${s[i]} < 0`);
    if (i > 0) assert.ok(s[i] <= s[i - 1], `${what}: not descending at ${i}`);
  }
}

function randomSymmetric(rng: Rng, n: number): Matrix {
  const B = randn(rng, n, n);
  return scale(add(B, transpose(B)), 0.5);
}

const SHAPES: [number, number][] = [
  [1, 1], [1, 5], [5, 1], [2, 3], [3, 2], [4, 4], [10, 10], [30, 7], [7, 30], [60, 60], [60, 45], [45, 60],
];

describe('svd', () => {
  test('reconstruction, orthonormality and agreement with ml-matrix on random matrices of many shapes', () => {
    const rng = new Rng(1);
    for (const [m, n] of SHAPES) {
      const A = randn(rng, m, n);
      const { U, S, V } = svd(A);
      const k = Math.min(m, n);
      assert.deepEqual([U.rows, U.cols, S.length, V.rows, V.cols], [m, k, k, n, k], `shape ${m}x${n}`);
      assertDescendingNonneg(S, `${m}x${n}`);
      const rec = matmulNT(scaleCols(U, S), V);
      assert.ok(maxAbsDiff(rec, A) <= TOL, `${m}x${n}: reconstruction error ${maxAbsDiff(rec, A)}`);
      assertOrthonormalCols(U, TOL, `U ${m}x${n}`);
      assertOrthonormalCols(V, TOL, `V ${m}x${n}`);
      const ml = new SingularValueDecomposition(new MlMatrix(A.toArray()), { autoTranspose: true }).diagonal;
      for (let i = 0; i < k; i++) assert.ok(Math.abs(ml[i] - S[i]) <= TOL * S[0], `${m}x${n}: s[${i}] ${S[i]} vs ml-matrix ${ml[i]}`);
      const sv = singularValues(A); // values-only path (no U, V)
      for (let i = 0; i < k; i++) assert.ok(Math.abs(sv[i] - S[i]) <= 1e-13 * S[0], `${m}x${n}: singularValues[${i}]`);
    }
  });

  test('ill-conditioned (cond 1e10): planted singular values are recovered', () => {
    const rng = new Rng(2);
    for (const [m, n] of [[40, 30], [30, 30], [30, 40]] as [number, number][]) {
      const k = Math.min(m, n);
      const s = new Float64Array(k);
      for (let i = 0; i < k; i++) s[i] = 10 ** (-10 * i / (k - 1)); // 1 … 1e-10
      const U0 = randomOrthonormal(rng, m, k), V0 = randomOrthonormal(rng, n, k);
      const A = matmulNT(scaleCols(U0, s), V0);
      const { U, S, V } = svd(A);
      // Forming A in floating point perturbs it by ‖E‖₂ ≲ k·eps·‖A‖ ≈ 1e-14, and by Weyl's theorem
      // every singular value moves by at most ‖E‖₂; a backward-stable SVD adds the same order.
      // (Squaring via eig(AᵀA) would lose everything below ~1e-8.)
      for (let i = 0; i < k; i++) {
        assert.ok(Math.abs(S[i] - s[i]) <= 1e-13, `${m}x${n}: s[${i}] = ${S[i]} vs planted ${s[i]}`);
        if (s[i] >= 1e-4) assert.ok(Math.abs(S[i] - s[i]) <= 1e-9 * s[i], `${m}x${n}: relative error at ${i}`);
      }
      assert.ok(maxAbsDiff(matmulNT(scaleCols(U, S), V), A) <= 1e-13);
      assertOrthonormalCols(U, TOL, 'U ill-conditioned');
      assertOrthonormalCols(V, TOL, 'V ill-conditioned');
      const c = conditionNumber(A);
      assert.ok(Math.abs(c / 1e10 - 1) < 1e-3, `cond ${c} vs planted 1e10`);
    }
  });

  test('rank-deficient, zero and 1x1 matrices', () => {
    const rng = new Rng(3);
    const A = matmul(randn(rng, 20, 3), randn(rng, 3, 15)); // rank 3
    const { U, S, V } = svd(A);
    assert.ok(S[2] > 0.1, 'three clearly non-zero singular values');
    for (let i = 3; i < 15; i++) assert.ok(S[i] <= 1e-13 * S[0], `s[${i}] = ${S[i]} should be ~0`);
    assert.ok(maxAbsDiff(matmulNT(scaleCols(U, S), V), A) <= TOL);
    assertOrthonormalCols(U, TOL, 'U rank-deficient');
    assertOrthonormalCols(V, TOL, 'V rank-deficient');

    const Z = new Matrix(4, 3);
    const z = svd(Z);
    assert.deepEqual(Array.from(z.S), [0, 0, 0]);
    assertOrthonormalCols(z.U, TOL, 'U zero');
    assertOrthonormalCols(z.V, TOL, 'V zero');
    assert.equal(conditionNumber(Z), Infinity);

    const one = svd(Matrix.from([[-3]]));
    assert.deepEqual(Array.from(one.S), [3]);
    assert.equal(one.U.data[0] * one.V.data[0], -1);
    assert.deepEqual(Array.from(singularValues(Matrix.from([[3, 0], [0, -4]]))), [4, 3]);
  });

  test('extreme scales (1e±200) do not overflow or underflow', () => {
    const rng = new Rng(17);
    const A = randn(rng, 8, 5);
    const ref = svd(A).S;
    for (const f of [1e200, 1e-200]) {
      const { U, S, V } = svd(scale(A, f));
      for (let i = 0; i < 5; i++) assert.ok(Math.abs(S[i] / f / ref[i] - 1) <= 1e-12, `scale ${f}: s[${i}]`);
      assertOrthonormalCols(U, TOL, `U scale ${f}`);
      assertOrthonormalCols(V, TOL, `V scale ${f}`);
    }
  });

  test('non-finite input throws', () => {
    assert.throws(() => svd(Matrix.from([[1, NaN], [0, 1]])), /svd: .*NaN/);
    assert.throws(() => svd(Matrix.from([[1, Infinity]])), /svd: .*NaN or Infinity/);
  });
});

describe('eigSym', () => {
  test('A V = V Λ, V orthogonal, descending, agrees with ml-matrix (n = 1..60)', () => {
    const rng = new Rng(4);
    for (const n of [1, 2, 3, 5, 20, 60]) {
      const A = randomSymmetric(rng, n);
      const { values, vectors: V } = eigSym(A);
      for (let i = 1; i < n; i++) assert.ok(values[i] <= values[i - 1], 'descending');
      assert.ok(maxAbsDiff(matmul(A, V), scaleCols(V, values)) <= TOL, `n=${n}: ‖AV − VΛ‖`);
      assertOrthonormalCols(V, TOL, `eig V n=${n}`);
      const ml = new EigenvalueDecomposition(new MlMatrix(A.toArray()), { assumeSymmetric: true }).realEigenvalues.slice().sort((a, b) => b - a);
      for (let i = 0; i < n; i++) assert.ok(Math.abs(ml[i] - values[i]) <= TOL, `n=${n}: λ[${i}] ${values[i]} vs ${ml[i]}`);
    }
  });

  test('planted spectrum with repeated and tiny eigenvalues', () => {
    const rng = new Rng(5);
    const n = 12;
    const lam = [5, 5, 5, 2, 1, 1e-9, 0, 0, -1e-9, -3, -3, -7];
    const Q = randomOrthonormal(rng, n, n);
    const A = matmulNT(scaleCols(Q, lam), Q);
    const { values, vectors: V } = eigSym(A);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(values[i] - lam[i]) <= 1e-13, `λ[${i}] = ${values[i]} vs ${lam[i]}`);
    assert.ok(maxAbsDiff(matmulNT(scaleCols(V, values), V), A) <= 1e-13);
    assertOrthonormalCols(V, TOL, 'V repeated');
    const d = eigSym(Matrix.diag([1, 3, 2]));
    assert.deepEqual(Array.from(d.values), [3, 2, 1]);
  });

  test('extreme scales (1e±200) do not overflow or underflow', () => {
    const rng = new Rng(16);
    const A = randomSymmetric(rng, 6);
    const ref = eigSym(A).values;
    for (const f of [1e200, 1e-200]) {
      const { values, vectors: V } = eigSym(scale(A, f));
      for (let i = 0; i < 6; i++) assert.ok(Math.abs(values[i] / f - ref[i]) <= 1e-12, `scale ${f}: λ[${i}]`);
      assertOrthonormalCols(V, TOL, `V scale ${f}`);
    }
  });

  test('non-symmetric and non-finite input throw', () => {
    assert.throws(() => eigSym(Matrix.from([[1, 2], [0, 1]])), /not symmetric/);
    assert.throws(() => eigSym(Matrix.from([[1, NaN], [NaN, 1]])), /eigSym: .*NaN/);
    assert.throws(() => eigSym(new Matrix(2, 3)), /square/);
  });
});

describe('qr', () => {
  test('QR = A, QᵀQ = I, R upper with non-negative diagonal (tall and square, 1..60)', () => {
    const rng = new Rng(6);
    for (const [m, n] of [[1, 1], [5, 1], [3, 2], [10, 10], [30, 7], [60, 60], [60, 45]] as [number, number][]) {
      const A = randn(rng, m, n);
      const { Q, R } = qr(A);
      assert.deepEqual([Q.rows, Q.cols, R.rows, R.cols], [m, n, n, n]);
      assert.ok(maxAbsDiff(matmul(Q, R), A) <= TOL, `${m}x${n}: QR − A`);
      assertOrthonormalCols(Q, TOL, `Q ${m}x${n}`);
      for (let i = 0; i < n; i++) {
        assert.ok(R.get(i, i) >= 0, 'diag(R) >= 0');
        for (let j = 0; j < i; j++) assert.equal(R.get(i, j), 0);
      }
      // R is unique for full column rank: RᵀR = AᵀA = LLᵀ, so R = Lᵀ from Cholesky.
      const L = cholesky(matmulTN(A, A));
      assert.ok(maxAbsDiff(transpose(L), R) <= 1e-8, `${m}x${n}: R vs chol(AᵀA)ᵀ`);
    }
  });

  test('rank-deficient input keeps Q orthonormal; wide input throws', () => {
    const rng = new Rng(7);
    const A = matmul(randn(rng, 12, 2), randn(rng, 2, 5));
    const { Q, R } = qr(A);
    assert.ok(maxAbsDiff(matmul(Q, R), A) <= TOL);
    assertOrthonormalCols(Q, TOL, 'Q rank-deficient');
    const Z = qr(new Matrix(3, 2));
    assertOrthonormalCols(Z.Q, TOL, 'Q of zero');
    assert.throws(() => qr(new Matrix(2, 3)), /rows >= cols/);
    assert.throws(() => qr(Matrix.from([[NaN]])), /NaN/);
  });
});

describe('cholesky and triangular solves', () => {
  test('L Lᵀ = A for SPD A, L lower with positive diagonal; choleskySolve', () => {
    const rng = new Rng(8);
    for (const n of [1, 2, 7, 40]) {
      const B = randn(rng, n, n);
      const A = add(matmulNT(B, B), Matrix.identity(n));
      const L = cholesky(A);
      for (let i = 0; i < n; i++) {
        assert.ok(L.get(i, i) > 0);
        for (let j = i + 1; j < n; j++) assert.equal(L.get(i, j), 0);
      }
      assert.ok(maxAbsDiff(matmulNT(L, L), A) <= TOL * n, `n=${n}: LLᵀ − A`);
      const X0 = randn(rng, n, 3);
      const X = choleskySolve(L, matmul(A, X0));
      assert.ok(maxAbsDiff(X, X0) <= 1e-8, `n=${n}: choleskySolve`);
      const Y = solveUpperTriangular(transpose(L), solveLowerTriangular(L, matmul(A, X0)));
      assert.ok(maxAbsDiff(Y, X0) <= 1e-8);
    }
    assert.deepEqual(cholesky(Matrix.from([[4, 2], [2, 5]])).toArray(), [[2, 0], [1, 2]]);
  });

  test('non-PD, asymmetric and non-finite input throw clear errors', () => {
    // Eigenvalues of [[1,2],[2,1]] are 3 and −1: second pivot is 1 − 4 = −3.
    assert.throws(() => cholesky(Matrix.from([[1, 2], [2, 1]])), /not positive definite \(pivot k = 1/);
    assert.throws(() => cholesky(Matrix.from([[1, 0, 0], [0, 1, 0], [0, 0, 0]])), /not positive definite \(pivot k = 2/);
    assert.throws(() => cholesky(Matrix.from([[2, 1], [0, 2]])), /not symmetric/);
    assert.throws(() => cholesky(Matrix.from([[NaN]])), /cholesky: .*NaN/);
  });
});

describe('solve / LU', () => {
  test('recovers planted solutions; inv, det, solveVec', () => {
    const rng = new Rng(9);
    for (const n of [1, 3, 30]) {
      const A = randn(rng, n, n);
      const X0 = randn(rng, n, 4);
      const X = solve(A, matmul(A, X0));
      // Random Gaussian n×n has cond ~ n, so the forward error is ~ cond·eps ≪ 1e-9.
      assert.ok(maxAbsDiff(X, X0) <= 1e-9, `n=${n}: solve`);
      assert.ok(maxAbsDiff(matmul(inv(A), A), Matrix.identity(n)) <= 1e-9, `n=${n}: inv`);
      const x0 = rng.normalArray(n);
      const x = solveVec(A, matmul(A, new Matrix(n, 1, x0)).data);
      for (let i = 0; i < n; i++) assert.ok(Math.abs(x[i] - x0[i]) <= 1e-9);
      // det via the product of eigenvalue moduli is not independent enough; use |det| = Π s_i.
      const s = svd(A).S;
      const prod = s.reduce((p, v) => p * v, 1);
      assert.ok(Math.abs(Math.abs(det(A)) - prod) <= 1e-10 * prod, `n=${n}: |det| vs Π s_i`);
    }
    assert.equal(det(Matrix.from([[1, 2], [3, 4]])), -2);
    assert.equal(det(Matrix.from([[0, 1], [1, 0]])), -1);
    assert.ok(Math.abs(det(Matrix.from([[2, 0, 0], [5, 3, 0], [1, 1, 4]])) - 24) <= 1e-13);
    const { LU, perm } = lu(Matrix.from([[0, 1], [2, 3]]));
    assert.deepEqual(Array.from(perm), [1, 0]);
    assert.deepEqual(LU.toArray(), [[2, 3], [0, 1]]);
  });

  test('singular and non-finite systems throw', () => {
    assert.throws(() => solve(Matrix.from([[1, 2, 3], [4, 5, 6], [7, 8, 9]]), Matrix.identity(3)), /singular to working precision \(pivot k = 2/);
    assert.throws(() => solve(new Matrix(2, 2), Matrix.identity(2)), /singular.*pivot k = 0/);
    assert.throws(() => inv(Matrix.from([[1, 1], [1, 1]])), /singular/);
    assert.throws(() => solve(Matrix.from([[1, NaN], [0, 1]]), Matrix.identity(2)), /solve: .*NaN/);
    assert.throws(() => solve(Matrix.identity(2), Matrix.from([[NaN], [1]])), /NaN/);
    assert.throws(() => solve(new Matrix(2, 3), new Matrix(2, 1)), /square/);
    assert.equal(det(Matrix.from([[1, 2], [2, 4]])), 0);
  });

  test('badly row-scaled but regular systems are solved, not rejected', () => {
    const A = Matrix.from([[2, 1], [1e-20, 3e-20]]); // rows in different units, cond after row scaling ≈ 2
    const X = solve(A, Matrix.from([[3], [4e-20]]));
    assert.ok(Math.abs(X.data[0] - 1) <= 1e-14 && Math.abs(X.data[1] - 1) <= 1e-14, `got ${Array.from(X.data)}`);
  });
});

describe('lstsq', () => {
  test('matches the normal equations on a well-conditioned tall problem', () => {
    const rng = new Rng(10);
    const A = randn(rng, 50, 8);
    const B = randn(rng, 50, 3);
    const r = lstsq(A, B);
    const Xn = solve(matmulTN(A, A), matmulTN(A, B));
    assert.ok(maxAbsDiff(r.X, Xn) <= 1e-10, `lstsq vs normal equations ${maxAbsDiff(r.X, Xn)}`);
    assert.equal(r.rank, 8);
    assert.ok(Math.abs(r.residual - frobeniusNorm(sub(matmul(A, Xn), B))) <= 1e-10);
    const s = svd(A).S;
    assert.equal(r.sMax, s[0]);
    assert.equal(r.sMin, s[7]);
    assert.ok(Math.abs(r.cond - s[0] / s[7]) <= 1e-12 * r.cond);
  });

  test('wide system: minimum-norm exact solution Aᵀ(AAᵀ)⁻¹B', () => {
    const rng = new Rng(11);
    const A = randn(rng, 5, 12);
    const B = randn(rng, 5, 2);
    const r = lstsq(A, B);
    const Xmn = matmulTN(A, solve(matmulNT(A, A), B));
    assert.ok(maxAbsDiff(r.X, Xmn) <= 1e-10);
    assert.ok(r.residual <= 1e-12);
  });

  test('rank-deficient: reports rank and returns the minimum-norm solution', () => {
    const rng = new Rng(12);
    const A = matmul(randn(rng, 20, 2), randn(rng, 2, 6)); // rank 2
    const B = randn(rng, 20, 1);
    const r = lstsq(A, B);
    assert.equal(r.rank, 2);
    assert.ok(r.sMin > 0.1 && Number.isFinite(r.cond));
    const P = pinv(A).pinv;
    assert.ok(maxAbsDiff(r.X, matmul(P, B)) <= 1e-10);
    // Minimum norm ⇔ X lies in the row space of A ⇔ (I − A⁺A) X = 0.
    assert.ok(maxAbsDiff(matmul(matmul(P, A), r.X), r.X) <= 1e-10);
    const z = lstsq(new Matrix(3, 2), Matrix.from([[1], [2], [3]]));
    assert.equal(z.rank, 0);
    assert.equal(z.cond, Infinity);
    assert.deepEqual(Array.from(z.X.data), [0, 0]);
  });
});

describe('pinv', () => {
  test('Penrose conditions on tall, wide and rank-deficient matrices', () => {
    const rng = new Rng(13);
    const cases = [randn(rng, 15, 6), randn(rng, 6, 15), matmul(randn(rng, 10, 3), randn(rng, 3, 8)), randn(rng, 1, 1)];
    for (const A of cases) {
      const { pinv: P, rank, sAll, sMin, sMax, cond } = pinv(A);
      const AP = matmul(A, P), PA = matmul(P, A);
      assert.ok(maxAbsDiff(matmul(AP, A), A) <= TOL, 'A A⁺ A = A');
      assert.ok(maxAbsDiff(matmul(PA, P), P) <= TOL, 'A⁺ A A⁺ = A⁺');
      assert.ok(maxAbsDiff(AP, transpose(AP)) <= TOL, '(A A⁺)ᵀ = A A⁺');
      assert.ok(maxAbsDiff(PA, transpose(PA)) <= TOL, '(A⁺ A)ᵀ = A⁺ A');
      assert.equal(sMax, sAll[0]);
      assert.equal(sMin, sAll[rank - 1]);
      assert.equal(cond, sMax / sMin);
    }
    assert.equal(pinv(cases[2]).rank, 3);
    assert.equal(pinv(cases[0]).rank, 6);
  });

  test('sMin is the smallest inverted value; rcond truncates', () => {
    const A = Matrix.diag([10, 1, 1e-3]);
    const full = pinv(A);
    assert.equal(full.rank, 3);
    assert.equal(full.sMin, 1e-3);
    assert.ok(Math.abs(full.cond - 1e4) < 1e-6);
    const cut = pinv(A, { rcond: 1e-2 });
    assert.equal(cut.rank, 2);
    assert.equal(cut.sMin, 1);
    assert.equal(cut.cond, 10);
    assert.ok(maxAbsDiff(cut.pinv, Matrix.diag([0.1, 1, 0])) <= 1e-15);
    const z = pinv(new Matrix(2, 3));
    assert.equal(z.rank, 0);
    assert.equal(z.cond, Infinity);
    assert.deepEqual([z.pinv.rows, z.pinv.cols], [3, 2]);
    assert.ok(z.pinv.data.every((v) => v === 0));
  });
});

describe('spectral radius and discrete Lyapunov', () => {
  test('spectralRadius of rotation·0.9 (complex pair), non-normal and random matrices', () => {
    const th = 0.7;
    const R = Matrix.from([[0.9 * Math.cos(th), -0.9 * Math.sin(th)], [0.9 * Math.sin(th), 0.9 * Math.cos(th)]]);
    assert.ok(Math.abs(spectralRadius(R) - 0.9) <= 1e-12);
    const blk = Matrix.from([[0.9 * Math.cos(th), -0.9 * Math.sin(th), 0], [0.9 * Math.sin(th), 0.9 * Math.cos(th), 0], [0, 0, -0.5]]);
    assert.ok(Math.abs(spectralRadius(blk) - 0.9) <= 1e-12);
    // Strongly non-normal: ‖F‖ ≈ 100 but ρ = 0.5.
    assert.ok(Math.abs(spectralRadius(Matrix.from([[0.5, 100], [0, 0.3]])) - 0.5) <= 1e-12);
    assert.equal(spectralRadius(Matrix.from([[-2]])), 2);
    const rng = new Rng(14);
    for (const n of [3, 8, 20]) {
      const F = randn(rng, n, n);
      const ev = new EigenvalueDecomposition(new MlMatrix(F.toArray()));
      let rho = 0;
      for (let i = 0; i < n; i++) rho = Math.max(rho, Math.hypot(ev.realEigenvalues[i], ev.imaginaryEigenvalues[i]));
      assert.ok(Math.abs(spectralRadius(F) - rho) <= 1e-10 * rho, `n=${n}: ρ ${spectralRadius(F)} vs ml-matrix ${rho}`);
    }
  });

  test('Σ = FΣFᵀ + Q: residual and brute-force series Σ_k F^k Q F^kᵀ', () => {
    const rng = new Rng(15);
    const th = 0.7;
    const cases: Matrix[] = [
      Matrix.from([[0.9 * Math.cos(th), -0.9 * Math.sin(th)], [0.9 * Math.sin(th), 0.9 * Math.cos(th)]]),
      Matrix.from([[0.5, 3], [0, -0.6]]), // non-normal
      (() => {
        const F = randn(rng, 6, 6);
        return scale(F, 0.95 / spectralRadius(F));
      })(),
    ];
    for (const F of cases) {
      const n = F.rows;
      const B = randn(rng, n, n);
      const Q = add(matmulNT(B, B), scale(Matrix.identity(n), 0.1));
      const S = solveDiscreteLyapunov(F, Q);
      const res = frobeniusNorm(sub(S, add(matmulNT(matmul(F, S), F), Q)));
      assert.ok(res <= 1e-10 * frobeniusNorm(S), `residual ${res}`);
      assert.ok(maxAbsDiff(S, transpose(S)) === 0, 'symmetric');
      // Brute force: partial sums until the terms are negligible (ρ ≤ 0.95 ⇒ 0.95^(2·1500) ≈ 1e-67).
      let brute = Q.clone();
      let Fk = Matrix.identity(n);
      for (let k = 1; k < 1500; k++) {
        Fk = matmul(Fk, F);
        brute = add(brute, matmulNT(matmul(Fk, Q), Fk));
      }
      assert.ok(maxAbsDiff(S, brute) <= 1e-9 * frobeniusNorm(S), `vs series ${maxAbsDiff(S, brute)}`);
    }
    // Scalar closed form σ = q / (1 − f²); F = 0 gives Σ = Q.
    assert.ok(Math.abs(solveDiscreteLyapunov(Matrix.from([[0.8]]), Matrix.from([[2]])).data[0] - 2 / (1 - 0.64)) <= 1e-13);
    const Q = Matrix.from([[2, 1], [1, 3]]);
    assert.deepEqual(solveDiscreteLyapunov(new Matrix(2, 2), Q).toArray(), Q.toArray());
  });

  test('unstable F and bad input throw', () => {
    assert.throws(() => solveDiscreteLyapunov(Matrix.from([[1.1, 0], [0, 0.2]]), Matrix.identity(2)), /not stable \(spectral radius 1\.1/);
    assert.throws(() => solveDiscreteLyapunov(Matrix.from([[0, -1], [1, 0]]), Matrix.identity(2)), /not stable/);
    assert.throws(() => solveDiscreteLyapunov(Matrix.identity(2), Matrix.identity(3)), /Q is 3x3/);
    assert.throws(() => solveDiscreteLyapunov(Matrix.from([[NaN]]), Matrix.identity(1)), /NaN/);
  });
});
