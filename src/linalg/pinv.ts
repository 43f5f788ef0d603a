import { Matrix, rowDots } from './matrix.js';
import { truncatedSVD } from './svd.js';

const EPS = 2 ** -52;

/** Moore–Penrose pseudo-inverse with a conditioning report. */
export interface PinvResult {
  /** cols × rows pseudo-inverse A⁺. */
  pinv: Matrix;
  /** Smallest singular value that was INVERTED (not truncated); 0 when rank = 0. */
  sMin: number;
  /** Largest singular value. */
  sMax: number;
  /** sMax / sMin: the condition number of the part of A that was inverted (Infinity when rank = 0). */
  cond: number;
  /** Number of singular values kept (s_i > rcond·sMax). */
  rank: number;
  /** All min(rows, cols) singular values, descending. */
  sAll: Float64Array;
}

/**
 * Moore–Penrose pseudo-inverse of an m×n matrix via the thin SVD: A⁺ = V diag(1/s_i) Uᵀ over
 * s_i > rcond·s_max, the rest truncated. Default rcond = max(m, n)·eps (numpy's default), so the
 * cut-off is max(m, n)·eps·s_max. Throws on non-finite input (via svd).
 */
export function pinv(A: Matrix, opts: { rcond?: number } = {}): PinvResult {
  const m = A.rows, n = A.cols;
  const rcond = opts.rcond ?? Math.max(m, n) * EPS;
  if (!(rcond >= 0)) throw new RangeError(`pinv: rcond must be >= 0, got ${rcond}`);
  const { U, S, V, k, rank, sMax, sMin } = truncatedSVD(A, rcond);
  // A⁺[i][j] = Σ_r V[i][r] U[j][r] / s_r ; scale V's columns once, then row-dot-row products.
  const vs = new Float64Array(n * rank);
  const v = V.data, u = U.data;
  for (let i = 0; i < n; i++) for (let r = 0; r < rank; r++) vs[i * rank + r] = v[i * k + r] / S[r];
  const out = new Float64Array(n * m);
  rowDots(vs, rank, u, k, out, n, m, rank);
  return { pinv: new Matrix(n, m, out), sMin, sMax, cond: rank > 0 ? sMax / sMin : Infinity, rank, sAll: S };
}
