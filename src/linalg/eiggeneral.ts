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

      for (j = m; j < n; j++) {
        f = 0;
        for (i = high; i >= m; i--) {
          f += ort[i] * H[i * nn + j];
        }

        f = f / h;
        for (i = m; i <= high; i++) {
          H[i * nn + j] = H[i * nn + j] - f * ort[i];
        }
      }

      for (i = 0; i <= high; i++) {
        f = 0;
        for (j = high; j >= m; j--) {
          f += ort[j] * H[i * nn + j];
        }

        f = f / h;
        for (j = m; j <= high; j++) {
          H[i * nn + j] = H[i * nn + j] - f * ort[j];
        }
      }

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

