import { Matrix, isFiniteMatrix } from './matrix.js';
import { hypot } from './norms.js';

/** Symmetric eigendecomposition A = V diag(values) Vᵀ. */
export interface EigSymResult {
  /** n eigenvalues, descending. */
  values: Float64Array;
  /** n×n orthogonal; column j is the unit eigenvector of values[j]. */
  vectors: Matrix;
}

const EPS = 2 ** -52;

/**
 * Eigendecomposition of a real symmetric n×n matrix: `A = V diag(values) Vᵀ`, eigenvalues
 * DESCENDING, eigenvectors as the COLUMNS of V.
 *
 * Householder tridiagonalisation + implicit-shift QL (EISPACK tred2/tql2, via JAMA), backward
 * stable: eigenvalues are accurate to about eps·‖A‖₂ (absolute).
 *
 * Layout trick: for symmetric input, running the algorithm on the transposed working array is the
 * same algorithm, and it turns every inner loop (which in JAMA walks down a column) into a walk
 * along a contiguous row. The working array `w` therefore holds Vᵀ: row j = eigenvector j.
 *
 * Input must be symmetric up to rounding: entries with |a_ij − a_ji| > 1e-8·max|a| throw (call
 * `symmetrize` first if the asymmetry is estimation noise); smaller asymmetry is averaged away.
 * Throws on non-finite input.
 */
export function eigSym(A: Matrix): EigSymResult {
  if (A.rows !== A.cols) throw new RangeError(`eigSym: matrix is ${A.rows}x${A.cols}, expected square symmetric`);
  if (!isFiniteMatrix(A)) throw new Error(`eigSym: matrix (${A.rows}x${A.cols}) contains NaN or Infinity; expected finite entries`);
  const n = A.rows;
  if (n === 0) return { values: new Float64Array(0), vectors: new Matrix(0, 0) };
  const src = A.data;
  let maxAbs = 0;
  for (let i = 0; i < src.length; i++) maxAbs = Math.max(maxAbs, Math.abs(src[i]));
  // Scale by a power of two (exact) so that max|a| ≈ 1: keeps the products inside tql2 far from
  // overflow/underflow for inputs like 1e±200; eigenvalues are scaled back at the end.
  const pow2 = maxAbs > 0 ? 2 ** Math.max(-1000, Math.min(1000, Math.round(Math.log2(maxAbs)))) : 1;
  const inv = 1 / pow2;
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const a = src[i * n + j], b = src[j * n + i];
      if (Math.abs(a - b) > 1e-8 * maxAbs) {
        throw new Error(`eigSym: matrix is not symmetric (|A[${i}][${j}] - A[${j}][${i}]| = ${Math.abs(a - b)} > 1e-8·max|A|); symmetrize it first`);
      }
      const v = 0.5 * (a + b) * inv;
      w[i * n + j] = v;
      w[j * n + i] = v;
    }
  }
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tred2(w, d, e, n);
  tql2(w, d, e, n);

  // Sort descending; output eigenvector k (row k of w) as column of V.
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[y] - d[x]);
  const values = new Float64Array(n);
  const V = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    const k = order[c];
    values[c] = d[k] * pow2;
    const row = k * n;
    for (let i = 0; i < n; i++) V[i * n + c] = w[row + i];
  }
  return { values, vectors: new Matrix(n, n, V) };
}

/** Eigenvalues only (descending). */
export function eigvalsSym(A: Matrix): Float64Array {
  return eigSym(A).values;
}

/**
 * Householder reduction to tridiagonal form (tred2). `w` holds the symmetric matrix on entry and
 * the accumulated orthogonal transform, transposed, on exit. JAMA's V[a][b] is w[b*n + a] here.
 */
function tred2(w: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = w[j * n + n - 1];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = w[j * n + i - 1];
        w[j * n + i] = 0;
        w[i * n + j] = 0;
      }
    } else {
      // Householder vector.
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h = h - f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      // Similarity transform of the remaining columns.
      for (let j = 0; j < i; j++) {
        const rj = j * n;
        f = d[j];
        w[i * n + j] = f;
        g = e[j] + w[rj + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          const wjk = w[rj + k];
          g += wjk * d[k];
          e[k] += wjk * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        const rj = j * n;
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) w[rj + k] -= f * e[k] + g * d[k];
        d[j] = w[rj + i - 1];
        w[rj + i] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate transformations.
  for (let i = 0; i < n - 1; i++) {
    const ri = i * n, ri1 = (i + 1) * n;
    w[ri + n - 1] = w[ri + i];
    w[ri + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = w[ri1 + k] / h;
      for (let j = 0; j <= i; j++) {
        const rj = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += w[ri1 + k] * w[rj + k];
        for (let k = 0; k <= i; k++) w[rj + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) w[ri1 + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = w[j * n + n - 1];
    w[j * n + n - 1] = 0;
  }
  w[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/** Implicit-shift QL on the tridiagonal (d, e), accumulating rotations into the rows of `w` (tql2). */
function tql2(w: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const maxIter = 30 * n + 60;
  let iters = 0;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= EPS * tst1) break;
      m++;
    }
    if (m > l) {
      do {
        if (++iters > maxIter) throw new Error(`eigSym: QL iteration did not converge after ${maxIter} steps (n = ${n})`);
        // Implicit shift.
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        // Implicit QL transformation.
        p = d[m];
        let c = 1, c2 = c, c3 = c;
        const el1 = e[l + 1];
        let s = 0, s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          // Rotate eigenvector rows i and i+1 (contiguous).
          const ri = i * n, ri1 = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const hk = w[ri1 + k], vk = w[ri + k];
            w[ri1 + k] = s * vk + c * hk;
            w[ri + k] = c * vk - s * hk;
          }
        }
        p = -s * s2 * c3 * el1 * (e[l] / dl1);
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > EPS * tst1);
    }
    d[l] = d[l] + f;
    e[l] = 0;
  }
}

