import { Matrix } from '../linalg/matrix.js';
import { eigSym } from '../linalg/eigsym.js';

/** Result of inverting a symmetric positive definite matrix through its eigendecomposition. */
export interface SPDInverse {
  /** A⁻¹ (n×n), exactly symmetric. */
  inv: Matrix;
  /** Largest / smallest eigenvalue (∞ if the smallest is ≤ 0). */
  cond: number;
  minEig: number;
  maxEig: number;
}

/**
 * Inverse of a symmetric positive definite n×n matrix via eigSym (so the condition number comes for
 * free). Throws a clear error naming `what` when A is not finite, not positive definite, or so
 * ill-conditioned (cond > maxCond, default 1e12) that its inverse is numerical noise.
 */
export function spdInverse(A: Matrix, what: string, maxCond = 1e12): SPDInverse {
  const n = A.rows;
  if (A.cols !== n) throw new RangeError(`${what}: matrix is ${A.rows}x${A.cols}, expected square`);
  for (let i = 0; i < A.data.length; i++) {
    if (!Number.isFinite(A.data[i])) throw new Error(`${what}: matrix contains NaN or Infinity`);
  }
  const { values, vectors } = eigSym(A);
  const maxEig = n > 0 ? values[0] : 1;
  const minEig = n > 0 ? values[n - 1] : 1;
  const cond = minEig > 0 ? maxEig / minEig : Infinity;
  if (!(minEig > 0) || !(cond <= maxCond)) {
    throw new Error(
      `${what} is singular or not positive definite (eigenvalues in [${minEig.toExponential(3)}, ${maxEig.toExponential(3)}], ` +
        `condition number ${cond.toExponential(3)} > ${maxCond.toExponential(0)}); expected a well-conditioned covariance`,
    );
  }
  const V = vectors.data;
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const w = 1 / values[k];
    for (let i = 0; i < n; i++) {
      const vik = V[i * n + k] * w;
      if (vik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += vik * V[j * n + k];
    }
  }
  symmetrizeInPlace(out, n);
  return { inv: new Matrix(n, n, out), cond, minEig, maxEig };
}

/** Condition number (λmax/λmin) of a symmetric PSD matrix; ∞ when singular. */
export function spdCond(A: Matrix): number {
  const v = eigSym(A).values;
  const n = v.length;
  if (n === 0) return 1;
  return v[n - 1] > 0 ? v[0] / v[n - 1] : Infinity;
}

/** a ← (a + aᵀ)/2 for an n×n row-major array. */
export function symmetrizeInPlace(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = 0.5 * (a[i * n + j] + a[j * n + i]);
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
}

/** Lower Cholesky-like square root via eigen (works for PSD, used for simulation). */
export function spdSqrt(A: Matrix): Matrix {
  const n = A.rows;
  const { values, vectors } = eigSym(A);
  const V = vectors.data;
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const w = Math.sqrt(Math.max(values[k], 0));
    for (let i = 0; i < n; i++) {
      const vik = V[i * n + k] * w;
      for (let j = 0; j < n; j++) out[i * n + j] += vik * V[j * n + k];
    }
  }
  return new Matrix(n, n, out);
}
