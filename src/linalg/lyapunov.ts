import { Matrix, gemmAxpy, isFiniteMatrix, rowDots } from './matrix.js';
import { eigGeneral } from './eiggeneral.js';

/**
 * Spectral radius ρ(F) = max |λ_i(F)| of a square matrix (0 for the 0×0 matrix).
 *
 * Eigenvalues come from the Hessenberg + Francis double-shift QR solver (eigGeneral), which is
 * backward stable, so complex pairs and non-normal F are handled (power iteration is not: it does
 * not converge for a complex dominant pair). For a defective F (Jordan block of size j) the
 * eigenvalues, and hence ρ, are only accurate to about eps^(1/j)·‖F‖ — inherent to the problem.
 */
export function spectralRadius(F: Matrix): number {
  if (F.rows !== F.cols) throw new RangeError(`spectralRadius: matrix is ${F.rows}x${F.cols}, expected square`);
  if (!isFiniteMatrix(F)) throw new Error(`spectralRadius: matrix (${F.rows}x${F.cols}) contains NaN or Infinity`);
  const n = F.rows;
  if (n === 0) return 0;
  if (n === 1) return Math.abs(F.data[0]);
  const { real, imag } = eigGeneral(F);
  let rho = 0;
  for (let i = 0; i < n; i++) rho = Math.max(rho, Math.hypot(real[i], imag[i]));
  return rho;
}

/**
 * Solve the discrete Lyapunov (Stein) equation Σ = F Σ Fᵀ + Q for Σ (n×n), F and Q n×n, F stable
 * (spectral radius < 1). This is the stationary covariance of the VAR(1) input model, docs/method.md §3.
 *
 * Smith's doubling iteration: Σ = Σ_{k≥0} F^k Q F^kᵀ, and with A₀ = F, Σ₀ = Q,
 *   Σ_{j+1} = Σ_j + A_j Σ_j A_jᵀ,  A_{j+1} = A_j²,
 * Σ_j sums the first 2^j terms, so the error falls doubly exponentially once ‖A_j‖ < 1; each step
 * is three n×n products. The number of steps is about log₂(log(eps)/log ρ) (≈ 20 at ρ = 0.9999).
 * If Q is symmetric the result is symmetrised (it is symmetric in exact arithmetic).
 *
 * Throws if F or Q is not square/conforming, non-finite, if ρ(F) ≥ 1 (no stationary solution;
 * the message gives ρ), or if the iteration fails to converge within 64 doublings.
 */
export function solveDiscreteLyapunov(F: Matrix, Q: Matrix): Matrix {
  const n = F.rows;
  if (F.cols !== n) throw new RangeError(`solveDiscreteLyapunov: F is ${F.rows}x${F.cols}, expected square`);
  if (Q.rows !== n || Q.cols !== n) throw new RangeError(`solveDiscreteLyapunov: Q is ${Q.rows}x${Q.cols}, expected ${n}x${n} like F`);
  if (!isFiniteMatrix(F)) throw new Error(`solveDiscreteLyapunov: F contains NaN or Infinity`);
  if (!isFiniteMatrix(Q)) throw new Error(`solveDiscreteLyapunov: Q contains NaN or Infinity`);
  if (n === 0) return new Matrix(0, 0);
  const rho = spectralRadius(F);
  if (!(rho < 1)) {
    throw new Error(`solveDiscreteLyapunov: F is not stable (spectral radius ${rho} >= 1), so Σ = FΣFᵀ + Q has no stationary solution`);
  }
  let A = F.data.slice();
  let S = Q.data.slice();
  const T = new Float64Array(n * n); // A·Σ
  const U = new Float64Array(n * n); // A·Σ·Aᵀ
  let A2 = new Float64Array(n * n); // A² (buffers swapped each step)
  const maxSteps = 64;
  for (let step = 0; step < maxSteps; step++) {
    // T = A S
    mm(A, S, T, n);
    // U = T Aᵀ ; S += U
    mmNT(T, A, U, n);
    let incr = 0, tot = 0;
    for (let i = 0; i < n * n; i++) {
      S[i] += U[i];
      incr = Math.max(incr, Math.abs(U[i]));
      tot = Math.max(tot, Math.abs(S[i]));
    }
    // A ← A²
    mm(A, A, A2, n);
    const tmp = A;
    A = A2;
    A2 = tmp;
    let aNorm = 0;
    for (let i = 0; i < n * n; i++) aNorm += A[i] * A[i];
    aNorm = Math.sqrt(aNorm);
    // Remaining terms are bounded by ‖A_{j+1}‖_F² ‖Σ‖ (1 + ‖A_{j+1}‖² + …); stop when that is
    // below rounding, or when everything has underflowed to exactly zero.
    if ((aNorm * aNorm <= 1e-17 && incr <= 1e-15 * tot) || aNorm === 0) {
      let sym = true;
      const q = Q.data;
      for (let i = 0; i < n && sym; i++) for (let j = 0; j < i; j++) if (q[i * n + j] !== q[j * n + i]) { sym = false; break; }
      if (sym) {
        for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) {
          const v = 0.5 * (S[i * n + j] + S[j * n + i]);
          S[i * n + j] = v;
          S[j * n + i] = v;
        }
      }
      if (!isFiniteMatrix(new Matrix(n, n, S))) throw new Error(`solveDiscreteLyapunov: iteration overflowed (spectral radius ${rho})`);
      return new Matrix(n, n, S);
    }
  }
  throw new Error(`solveDiscreteLyapunov: doubling iteration did not converge in ${maxSteps} steps (spectral radius ${rho}, too close to 1)`);
}

/** C = A B for n×n row-major arrays (C overwritten). */
function mm(A: Float64Array, B: Float64Array, C: Float64Array, n: number): void {
  C.fill(0);
  gemmAxpy(A, n, 1, B, n, C, n, n, n);
}

/** C = A Bᵀ for n×n row-major arrays (row dot row; C overwritten). */
function mmNT(A: Float64Array, B: Float64Array, C: Float64Array, n: number): void {
  rowDots(A, n, B, n, C, n, n, n);
}
