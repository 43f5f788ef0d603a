import { Matrix, isFiniteMatrix } from './matrix.js';
import { scaledNorm } from './norms.js';

/** Thin QR factorisation A = Q R. */
export interface QRResult {
  /** rows × cols with orthonormal columns. */
  Q: Matrix;
  /** cols × cols upper triangular, diagonal ≥ 0. */
  R: Matrix;
}

/**
 * Thin Householder QR of an m×n matrix with m ≥ n: `A = Q R`, Q m×n (QᵀQ = I), R n×n upper
 * triangular. Signs are normalised so diag(R) ≥ 0, which makes the factorisation unique when A has
 * full column rank. Rank-deficient A is fine (R then has zeros on the diagonal; Q stays orthonormal).
 *
 * Works on a column-major copy so every reflection streams contiguous memory (LAPACK dgeqrf/dorgqr
 * conventions: H = I − τ v vᵀ with v₀ = 1). Throws on m < n or non-finite input.
 */
export function qr(A: Matrix): QRResult {
  const m = A.rows, n = A.cols;
  if (m < n) throw new RangeError(`qr: matrix is ${m}x${n}; thin QR needs rows >= cols (factor the transpose instead)`);
  if (!isFiniteMatrix(A)) throw new Error(`qr: matrix (${m}x${n}) contains NaN or Infinity; expected finite entries`);
  // a[j*m + i] = A[i][j]
  const a = new Float64Array(m * n);
  const src = A.data;
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) a[j * m + i] = src[i * n + j];
  const tau = new Float64Array(n);
  const rdiag = new Float64Array(n);

  for (let k = 0; k < n; k++) {
    const ck = k * m;
    const alpha = a[ck + k];
    const xnorm = scaledNorm(a, ck + k + 1, ck + m);
    if (xnorm === 0) {
      // Already zero below the diagonal: H = I.
      tau[k] = 0;
      rdiag[k] = alpha;
      continue;
    }
    const beta = -(alpha >= 0 ? 1 : -1) * pythag(alpha, xnorm);
    tau[k] = (beta - alpha) / beta;
    const inv = 1 / (alpha - beta);
    for (let i = k + 1; i < m; i++) a[ck + i] *= inv;
    a[ck + k] = 1; // v₀ (restored to R's diagonal via rdiag)
    rdiag[k] = beta;
    const t = tau[k];
    for (let j = k + 1; j < n; j++) {
      const cj = j * m;
      let w = 0;
      for (let i = k; i < m; i++) w += a[ck + i] * a[cj + i];
      w *= t;
      for (let i = k; i < m; i++) a[cj + i] -= w * a[ck + i];
    }
  }

  // R (row-major), sign-normalised.
  const sign = new Float64Array(n);
  for (let k = 0; k < n; k++) sign[k] = rdiag[k] < 0 ? -1 : 1;
  const R = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    R[i * n + i] = sign[i] * rdiag[i];
    for (let j = i + 1; j < n; j++) R[i * n + j] = sign[i] * a[j * m + i];
  }

  // Q = H₀ H₁ … H_{n−1} [I; 0], accumulated backwards on column-major q.
  const q = new Float64Array(m * n);
  for (let j = 0; j < n; j++) q[j * m + j] = 1;
  for (let k = n - 1; k >= 0; k--) {
    const t = tau[k];
    if (t === 0) continue;
    const ck = k * m;
    for (let j = k; j < n; j++) {
      const cj = j * m;
      let w = 0;
      for (let i = k; i < m; i++) w += a[ck + i] * q[cj + i];
      w *= t;
      for (let i = k; i < m; i++) q[cj + i] -= w * a[ck + i];
    }
  }
  const Q = new Float64Array(m * n);
  for (let j = 0; j < n; j++) {
    const cj = j * m, sj = sign[j];
    for (let i = 0; i < m; i++) Q[i * n + j] = sj * q[cj + i];
  }
  return { Q: new Matrix(m, n, Q), R: new Matrix(n, n, R) };
}

function pythag(a: number, b: number): number {
  const x = Math.abs(a), y = Math.abs(b);
  const mx = x > y ? x : y;
  if (mx === 0) return 0;
  const r = x > y ? y / x : x / y;
  return mx * Math.sqrt(1 + r * r);
}

