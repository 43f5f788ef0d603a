import { Matrix, isFiniteMatrix } from './matrix.js';

/**
 * Cholesky factor of a symmetric positive definite n×n matrix: lower-triangular L (n×n) with
 * A = L Lᵀ and positive diagonal.
 *
 * Reads the lower triangle only; throws if A is grossly asymmetric (|a_ij − a_ji| > 1e-8·max|a|),
 * which is almost always a bug upstream. Throws `cholesky: matrix is not positive definite
 * (pivot k = …)` when a pivot is ≤ 0 (0-based k), and on non-finite input.
 *
 * Row-oriented (Cholesky–Banachiewicz) so the inner product runs along contiguous rows of L.
 */
export function cholesky(A: Matrix): Matrix {
  const n = A.rows;
  if (A.cols !== n) throw new RangeError(`cholesky: matrix is ${A.rows}x${A.cols}, expected square`);
  if (!isFiniteMatrix(A)) throw new Error(`cholesky: matrix (${n}x${n}) contains NaN or Infinity; expected finite entries`);
  const a = A.data;
  let maxAbs = 0;
  for (let i = 0; i < a.length; i++) maxAbs = Math.max(maxAbs, Math.abs(a[i]));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      if (Math.abs(a[i * n + j] - a[j * n + i]) > 1e-8 * maxAbs) {
        throw new Error(`cholesky: matrix is not symmetric (entries [${i}][${j}] and [${j}][${i}] differ by ${Math.abs(a[i * n + j] - a[j * n + i])})`);
      }
    }
  }
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = a[ri + j];
      for (let k = 0; k < j; k++) s -= L[ri + k] * L[rj + k];
      if (i === j) {
        if (!(s > 0)) {
          throw new Error(`cholesky: matrix is not positive definite (pivot k = ${i}, value ${s})`);
        }
        L[ri + i] = Math.sqrt(s);
      } else {
        L[ri + j] = s / L[rj + j];
      }
    }
  }
  return new Matrix(n, n, L);
}

/** Solve L X = B for lower-triangular L (n×n) and B (n×p) by forward substitution. Throws on a zero diagonal. */
export function solveLowerTriangular(L: Matrix, B: Matrix): Matrix {
  return solveTriangular(L, B, 'lower', 'solveLowerTriangular', 'L');
}

function solveTriangular(T: Matrix, B: Matrix, triangle: 'lower' | 'upper', name: string, symbol: string): Matrix {
  const n = T.rows;
  if (T.cols !== n || B.rows !== n) throw new RangeError(`${name}: ${symbol} is ${T.rows}x${T.cols}, B is ${B.rows}x${B.cols}`);
  const X = B.data.slice();
  substituteInPlace(T.data, n, X, B.cols, triangle, name);
  return new Matrix(n, B.cols, X);
}

/**
 * X ← T⁻¹ X in place for the lower or upper triangle of the n×n row-major T and X n×p, by forward or back
 * substitution (row i subtracts the solved rows k in increasing order, skipping zeros of T). `unit`: T has a unit
 * diagonal (not read); otherwise a zero diagonal entry throws, naming `name`.
 */
export function substituteInPlace(T: Float64Array, n: number, X: Float64Array, p: number, triangle: 'lower' | 'upper', name: string, unit = false): void {
  const lower = triangle === 'lower';
  for (let s = 0; s < n; s++) {
    const i = lower ? s : n - 1 - s;
    const ri = i * n, xi = i * p;
    for (let k = lower ? 0 : i + 1; k < (lower ? i : n); k++) {
      const tik = T[ri + k];
      if (tik === 0) continue;
      const xk = k * p;
      for (let c = 0; c < p; c++) X[xi + c] -= tik * X[xk + c];
    }
    if (unit) continue;
    const d = T[ri + i];
    if (d === 0) throw new Error(`${name}: zero diagonal entry at ${i}`);
    for (let c = 0; c < p; c++) X[xi + c] /= d;
  }
}

/** Solve U X = B for upper-triangular U (n×n) and B (n×p) by back substitution. Throws on a zero diagonal. */
export function solveUpperTriangular(U: Matrix, B: Matrix): Matrix {
  return solveTriangular(U, B, 'upper', 'solveUpperTriangular', 'U');
}

/** Solve A X = B given the Cholesky factor L of A (A = L Lᵀ): two triangular solves. */
export function choleskySolve(L: Matrix, B: Matrix): Matrix {
  const Y = solveLowerTriangular(L, B);
  // Lᵀ X = Y, back substitution reading L by columns.
  const n = L.rows, p = B.cols, l = L.data;
  const X = Y.data;
  for (let i = n - 1; i >= 0; i--) {
    const xi = i * p;
    for (let k = i + 1; k < n; k++) {
      const lki = l[k * n + i];
      if (lki === 0) continue;
      const xk = k * p;
      for (let c = 0; c < p; c++) X[xi + c] -= lki * X[xk + c];
    }
    const d = l[i * n + i];
    for (let c = 0; c < p; c++) X[xi + c] /= d;
  }
  return Y;
}

/**
 * Non-throwing Cholesky factorisation in place of a symmetric n×n matrix stored flat (reads and overwrites the
 * lower triangle with L, A = LLᵀ; the strict upper triangle is left as is). Returns false when a pivot is not
 * positive or not finite (A not numerically positive definite), e.g. for a damped-step solve that should be
 * retried with more damping rather than fail.
 */
export function choleskyInPlace(A: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    let dsum = A[j * n + j];
    for (let k = 0; k < j; k++) dsum -= A[j * n + k] * A[j * n + k];
    if (!(dsum > 0) || !Number.isFinite(dsum)) return false;
    const ljj = Math.sqrt(dsum);
    A[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let v = A[i * n + j];
      for (let k = 0; k < j; k++) v -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = v / ljj;
    }
  }
  return true;
}

/** Solve LLᵀ x = b in place (b becomes x) with the flat factor from `choleskyInPlace`. */
export function choleskySolveInPlace(L: Float64Array, n: number, b: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let v = b[i];
    for (let k = 0; k < i; k++) v -= L[i * n + k] * b[k];
    b[i] = v / L[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let v = b[i];
    for (let k = i + 1; k < n; k++) v -= L[k * n + i] * b[k];
    b[i] = v / L[i * n + i];
  }
}
