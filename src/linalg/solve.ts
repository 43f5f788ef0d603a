import { Matrix, gemmAxpy, isFiniteMatrix } from './matrix.js';
import { truncatedSVD } from './svd.js';
import { substituteInPlace } from './cholesky.js';

const EPS = 2 ** -52;

/** LU factorisation with partial pivoting: P A = L U packed in one matrix. */
export interface LUResult {
  /** n×n: strict lower part is L (unit diagonal implied), upper part incl. diagonal is U. */
  LU: Matrix;
  /** Row permutation: row i of P A is row perm[i] of A. */
  perm: Int32Array;
  /** Determinant of P (±1). */
  sign: number;
}

/**
 * LU with partial pivoting of a square n×n matrix (Doolittle, row-major, right-looking so the
 * update streams contiguous rows). Never throws on singularity; callers decide (see {@link solve}).
 * Throws on non-square or non-finite input.
 */
export function lu(A: Matrix): LUResult {
  const n = A.rows;
  if (A.cols !== n) throw new RangeError(`lu: matrix is ${A.rows}x${A.cols}, expected square`);
  if (!isFiniteMatrix(A)) throw new Error(`lu: matrix (${n}x${n}) contains NaN or Infinity; expected finite entries`);
  const a = A.data.slice();
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  let sign = 1;
  for (let k = 0; k < n; k++) {
    let p = k;
    let best = Math.abs(a[k * n + k]);
    for (let i = k + 1; i < n; i++) {
      const v = Math.abs(a[i * n + k]);
      if (v > best) {
        best = v;
        p = i;
      }
    }
    if (p !== k) {
      const rk = k * n, rp = p * n;
      for (let j = 0; j < n; j++) {
        const t = a[rk + j];
        a[rk + j] = a[rp + j];
        a[rp + j] = t;
      }
      const t = perm[k];
      perm[k] = perm[p];
      perm[p] = t;
      sign = -sign;
    }
    const piv = a[k * n + k];
    if (piv === 0) continue; // singular column: leave zeros, U has a zero pivot
    const rk = k * n;
    for (let i = k + 1; i < n; i++) {
      const ri = i * n;
      const f = (a[ri + k] /= piv);
      if (f === 0) continue;
      for (let j = k + 1; j < n; j++) a[ri + j] -= f * a[rk + j];
    }
  }
  return { LU: new Matrix(n, n, a), perm, sign };
}

/** det(A) from the LU factorisation (0 for exactly singular A). */
export function det(A: Matrix): number {
  const n = A.rows;
  if (n === 0 && A.cols === 0) return 1;
  const { LU, sign } = lu(A);
  let d = sign;
  for (let i = 0; i < n; i++) d *= LU.data[i * n + i];
  return d === 0 ? 0 : d; // no −0 for singular matrices
}

/**
 * Solve A X = B for square A (n×n) and B (n×p) by LU with partial pivoting.
 * Throws when A is singular to working precision: a pivot |u_kk| ≤ n·eps·(largest |entry| of the
 * original row it came from) — the message gives k and the pivot size. Use {@link lstsq} for
 * singular or rectangular systems.
 */
export function solve(A: Matrix, B: Matrix): Matrix {
  const n = A.rows;
  if (A.cols !== n) throw new RangeError(`solve: A is ${A.rows}x${A.cols}, expected square (use lstsq for rectangular systems)`);
  if (B.rows !== n) throw new RangeError(`solve: A is ${n}x${n} but B has ${B.rows} rows`);
  if (!isFiniteMatrix(B)) throw new Error(`solve: right-hand side (${B.rows}x${B.cols}) contains NaN or Infinity`);
  if (!isFiniteMatrix(A)) throw new Error(`solve: matrix (${n}x${n}) contains NaN or Infinity; expected finite entries`);
  const { LU, perm } = lu(A);
  const a = LU.data;
  // Row-relative test, invariant to row scaling: a well-conditioned system with rows in different
  // units (e.g. diag(1, 1e-20)) must pass, a rank-deficient one must not.
  const src = A.data;
  for (let k = 0; k < n; k++) {
    const r = perm[k] * n;
    let rowMax = 0;
    for (let j = 0; j < n; j++) rowMax = Math.max(rowMax, Math.abs(src[r + j]));
    const tol = n * EPS * rowMax;
    const piv = Math.abs(a[k * n + k]);
    if (!(piv > tol)) {
      throw new Error(`solve: matrix is singular to working precision (pivot k = ${k}, |pivot| = ${piv.toExponential(3)} <= ${tol.toExponential(3)} = n·eps·max|row ${perm[k]}|)`);
    }
  }
  const p = B.cols;
  const b = B.data;
  const X = new Float64Array(n * p);
  for (let i = 0; i < n; i++) X.set(b.subarray(perm[i] * p, perm[i] * p + p), i * p);
  // Forward: L Y = P B (unit diagonal), then backward: U X = Y (the pivots were checked above).
  substituteInPlace(a, n, X, p, 'lower', 'solve', true);
  substituteInPlace(a, n, X, p, 'upper', 'solve');
  return new Matrix(n, p, X);
}

/** Solve A x = b for a vector b (length n). Same rules as {@link solve}. */
export function solveVec(A: Matrix, b: Float64Array): Float64Array {
  return solve(A, new Matrix(b.length, 1, b)).data;
}

/** Inverse of a square non-singular matrix (throws like {@link solve}). Prefer solve() where possible. */
export function inv(A: Matrix): Matrix {
  return solve(A, Matrix.identity(A.rows));
}

/** Least-squares solution with conditioning report. */
export interface LstsqResult {
  /** cols × p minimum-norm solution of min ‖A X − B‖_F. */
  X: Matrix;
  /** Smallest singular value that was inverted (0 if none, i.e. rank 0). */
  sMin: number;
  /** Largest singular value of A. */
  sMax: number;
  /** sMax / sMin (Infinity when rank 0). */
  cond: number;
  /** Number of singular values kept (> rcond·sMax). */
  rank: number;
  /** ‖A X − B‖_F. */
  residual: number;
}

/**
 * Minimum-norm least squares `X = argmin ‖A X − B‖_F` (A m×n, B m×p, X n×p) via the SVD:
 * X = V_r diag(1/s_r) U_rᵀ B over the singular values s_i > rcond·s_max.
 * Default rcond = max(m, n)·eps (numpy's lstsq/pinv default). Works for any shape and rank.
 */
export function lstsq(A: Matrix, B: Matrix, opts: { rcond?: number } = {}): LstsqResult {
  const m = A.rows, n = A.cols;
  if (B.rows !== m) throw new RangeError(`lstsq: A is ${m}x${n} but B has ${B.rows} rows`);
  if (!isFiniteMatrix(B)) throw new Error(`lstsq: right-hand side (${B.rows}x${B.cols}) contains NaN or Infinity`);
  const rcond = opts.rcond ?? Math.max(m, n) * EPS;
  if (!(rcond >= 0)) throw new RangeError(`lstsq: rcond must be >= 0, got ${rcond}`);
  const p = B.cols;
  const { U, S, V, k, rank, sMax, sMin } = truncatedSVD(A, rcond);
  // C = diag(1/s) U_rᵀ B  (rank × p)
  const C = new Float64Array(rank * p);
  gemmAxpy(U.data, 1, k, B.data, p, C, rank, m, p);
  for (let r = 0; r < rank; r++) {
    const inv = 1 / S[r];
    for (let c = 0; c < p; c++) C[r * p + c] *= inv;
  }
  // X = V_r C
  const X = new Float64Array(n * p);
  gemmAxpy(V.data, k, 1, C, p, X, n, rank, p);
  // Residual ‖A X − B‖_F.
  const a = A.data, b = B.data;
  let res = 0;
  const row = new Float64Array(p);
  for (let i = 0; i < m; i++) {
    row.set(b.subarray(i * p, i * p + p));
    for (let j = 0; j < n; j++) {
      const aij = a[i * n + j];
      if (aij === 0) continue;
      for (let c = 0; c < p; c++) row[c] -= aij * X[j * p + c];
    }
    for (let c = 0; c < p; c++) res += row[c] * row[c];
  }
  return { X: new Matrix(n, p, X), sMin, sMax, cond: rank > 0 ? sMax / sMin : Infinity, rank, residual: Math.sqrt(res) };
}
