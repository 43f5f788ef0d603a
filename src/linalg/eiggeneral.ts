import { Matrix, isFiniteMatrix } from './matrix.js';
import { hqr2 } from './hqr2.js';

/**
 * Real eigendecomposition of a general (nonsymmetric) square matrix.
 *
 * `real[j] + i·imag[j]` are the eigenvalues (in the order the QR iteration deflates them, NOT sorted).
 * `vectors` (n×n) holds eigenvectors in the JAMA layout: for a real eigenvalue, column j is a real
 * eigenvector with unit 2-norm; for a complex pair λ = real[j] ± i·imag[j] (imag[j] > 0 first), columns
 * j and j+1 hold the real and imaginary parts of the eigenvector of real[j] + i·imag[j] (jointly
 * normalised so that ‖re‖² + ‖im‖² = 1). With D the JAMA block-diagonal eigenvalue matrix,
 * A·V = V·D holds in both cases.
 */
export interface EigGeneralResult {
  real: Float64Array;
  imag: Float64Array;
  vectors: Matrix;
}

/**
 * Eigenvalues and eigenvectors of a real n×n matrix A (nonsymmetric allowed).
 *
 * Algorithm: orthogonal Householder reduction to upper Hessenberg form (EISPACK orthes), then the
 * Francis double-shift QR iteration with accumulation of the transformations and back-substitution
 * for the eigenvectors (EISPACK hqr2), ported from JAMA / ml-matrix `EigenvalueDecomposition` onto
 * flat row-major Float64Arrays. Unlike JAMA, (a) symmetric input is NOT special-cased (use eigSym for
 * that), (b) the QR sweep count is capped (throws instead of looping forever), and (c) eigenvectors are
 * normalised to unit norm.
 *
 * Used by Jennrich's algorithm (src/decomposition/jennrich.ts), where the matrix M_u M_v⁻¹ is
 * diagonalisable with real eigenvalues in exact arithmetic but not symmetric.
 *
 * Throws on a non-square, empty or non-finite matrix.
 */
export function eigGeneral(A: Matrix): EigGeneralResult {
  if (A.rows !== A.cols) throw new RangeError(`eigGeneral: matrix is ${A.rows}x${A.cols}, expected square`);
  if (A.rows === 0) throw new RangeError('eigGeneral: matrix is empty (0x0), expected at least 1x1');
  if (!isFiniteMatrix(A)) throw new Error(`eigGeneral: matrix (${A.rows}x${A.cols}) contains NaN or Infinity; expected finite entries`);
  const n = A.rows;
  const H = A.data.slice();
  const V = new Float64Array(n * n);
  const ort = new Float64Array(n);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  orthes(n, H, ort, V);
  hqr2(n, e, d, V, H);
  // Normalise eigenvector columns (real: unit norm; complex pair: joint unit norm, both columns).
  for (let j = 0; j < n; j++) {
    if (e[j] === 0) {
      let s = 0;
      for (let i = 0; i < n; i++) s += V[i * n + j] ** 2;
      const f = s > 0 ? 1 / Math.sqrt(s) : 1;
      for (let i = 0; i < n; i++) V[i * n + j] *= f;
    } else if (e[j] > 0 && j + 1 < n) {
      let s = 0;
      for (let i = 0; i < n; i++) s += V[i * n + j] ** 2 + V[i * n + j + 1] ** 2;
      const f = s > 0 ? 1 / Math.sqrt(s) : 1;
      for (let i = 0; i < n; i++) {
        V[i * n + j] *= f;
        V[i * n + j + 1] *= f;
      }
      j++;
    }
  }
  return { real: d, imag: e, vectors: new Matrix(n, n, V) };
}

// ---- EISPACK orthes / hqr2 (via JAMA, public domain; ml-matrix port, MIT). H, V are n×n row-major. ----

function orthes(nn: number, H: Float64Array, ort: Float64Array, V: Float64Array): void {
  const n = nn;
  let low = 0;
  let high = n - 1;
  let f = 0, g = 0, h = 0, i = 0, j = 0, m = 0;
  let scale = 0;

  for (m = low + 1; m <= high - 1; m++) {
    scale = 0;
    for (i = m; i <= high; i++) {
      scale = scale + Math.abs(H[i * nn + (m - 1)]);
    }

    if (scale !== 0) {
      h = 0;
      for (i = high; i >= m; i--) {
        ort[i] = H[i * nn + (m - 1)] / scale;
        h += ort[i] * ort[i];
      }

      g = Math.sqrt(h);
      if (ort[m] > 0) {
        g = -g;
      }

      h = h - ort[m] * g;
      ort[m] = ort[m] - g;

      // H ← (I − u uᵀ/h) H (columns m..n−1), then H ← H (I − u uᵀ/h) (rows 0..high), u = ort[m..high].
      applyReflector(H, ort, m, high, h, m, n, 1, nn);
      applyReflector(H, ort, m, high, h, 0, high + 1, nn, 1);

      ort[m] = scale * ort[m];
      H[m * nn + (m - 1)] = scale * g;
    }
  }

  for (i = 0; i < n; i++) {
    for (j = 0; j < n; j++) {
      V[i * nn + j] = i === j ? 1 : 0;
    }
  }

  for (m = high - 1; m >= low + 1; m--) {
    if (H[m * nn + (m - 1)] !== 0) {
      for (i = m + 1; i <= high; i++) {
        ort[i] = H[i * nn + (m - 1)];
      }

      for (j = m; j <= high; j++) {
        g = 0;
        for (i = m; i <= high; i++) {
          g += ort[i] * V[i * nn + j];
        }

        g = g / ort[m] / H[m * nn + (m - 1)];
        for (i = m; i <= high; i++) {
          V[i * nn + j] = V[i * nn + j] + g * ort[i];
        }
      }
    }
  }
}

/**
 * For every line l in [l0, l1) of H: f = Σ_q ort[q]·H[l·ls + q·qs] over q = high down to m, then
 * H[l·ls + q·qs] −= (f/h)·ort[q] for q = m..high. Columns (ls = 1, qs = nn) or rows (ls = nn, qs = 1).
 */
function applyReflector(H: Float64Array, ort: Float64Array, m: number, high: number, h: number, l0: number, l1: number, ls: number, qs: number): void {
  for (let l = l0; l < l1; l++) {
    let f = 0;
    for (let q = high; q >= m; q--) f += ort[q] * H[l * ls + q * qs];
    f = f / h;
    for (let q = m; q <= high; q++) H[l * ls + q * qs] = H[l * ls + q * qs] - f * ort[q];
  }
}
