import { Matrix, isFiniteMatrix } from './matrix.js';
import { hypot, scaledNorm } from './norms.js';

/** Thin singular value decomposition A = U diag(S) Vᵀ. */
export interface SVDResult {
  /** rows × k, orthonormal columns (left singular vectors). */
  U: Matrix;
  /** k singular values, descending, ≥ 0. */
  S: Float64Array;
  /** cols × k, orthonormal columns (right singular vectors). */
  V: Matrix;
}

const EPS = 2 ** -52;
const TINY = 2 ** -966;

/**
 * Thin SVD of any m×n matrix: `A = U diag(S) Vᵀ`, U m×k, S length k, V n×k, k = min(m, n),
 * singular values descending.
 *
 * Golub–Kahan: Householder bidiagonalisation followed by implicit-shift QR on the bidiagonal
 * (the LINPACK dsvdc / JAMA algorithm). It works on A directly, never on AᵀA, so it does not square
 * the condition number: every singular value is accurate to about eps·σ_max (absolute).
 * Measured faster than one-sided Jacobi at 200×200 (see docs/decisions.md "Linear algebra").
 *
 * Layout: the algorithm only ever touches columns of A, U and V, so it runs on column-major
 * copies (column j contiguous) and transposes once at the end. For wide A (m < n) it decomposes
 * Aᵀ, whose column-major layout is A's row-major data, and swaps U and V.
 *
 * Throws on non-finite input.
 */
export function svd(A: Matrix): SVDResult {
  if (!isFiniteMatrix(A)) throw new Error(`svd: matrix (${A.rows}x${A.cols}) contains NaN or Infinity; expected finite entries`);
  const m = A.rows, n = A.cols;
  if (m === 0 || n === 0) {
    return { U: new Matrix(m, 0), S: new Float64Array(0), V: new Matrix(n, 0) };
  }
  if (m >= n) {
    // Column-major copy of A = row-major Aᵀ.
    const a = new Float64Array(m * n);
    const d = A.data;
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) a[j * m + i] = d[i * n + j];
    const r = golubKahanColMajor(a, m, n);
    return { U: colMajorToMatrix(r.u, m, n), S: r.s, V: colMajorToMatrix(r.v, n, n) };
  }
  // Wide: Aᵀ (n×m, tall) has column-major data equal to A.data.
  const r = golubKahanColMajor(A.data.slice(), n, m);
  return { U: colMajorToMatrix(r.v, m, m), S: r.s, V: colMajorToMatrix(r.u, n, m) };
}

/**
 * The SVD of A with its numerical rank: the singular values above rcond·s_max (and above 0) count. `k` is the
 * number of singular values, `sMin` the smallest one kept (0 when the rank is 0).
 */
export function truncatedSVD(A: Matrix, rcond: number): SVDResult & { k: number; rank: number; sMax: number; sMin: number } {
  const r = svd(A);
  const S = r.S, k = S.length;
  const sMax = k > 0 ? S[0] : 0;
  const cut = rcond * sMax;
  let rank = 0;
  while (rank < k && S[rank] > cut && S[rank] > 0) rank++;
  const sMin = rank > 0 ? S[rank - 1] : 0;
  return { ...r, k, rank, sMax, sMin };
}

/**
 * Singular values only (descending), same algorithm as {@link svd} but without forming or rotating
 * U and V (about 3× cheaper at 200×200). Throws on non-finite input.
 */
export function singularValues(A: Matrix): Float64Array {
  if (!isFiniteMatrix(A)) throw new Error(`singularValues: matrix (${A.rows}x${A.cols}) contains NaN or Infinity; expected finite entries`);
  const m = A.rows, n = A.cols;
  if (m === 0 || n === 0) return new Float64Array(0);
  if (m >= n) {
    const a = new Float64Array(m * n);
    const d = A.data;
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) a[j * m + i] = d[i * n + j];
    return golubKahanColMajor(a, m, n, false).s;
  }
  return golubKahanColMajor(A.data.slice(), n, m, false).s;
}

/**
 * 2-norm condition number σ_max/σ_min over all min(m, n) singular values; Infinity when σ_min = 0
 * (including the zero matrix). Throws on an empty matrix.
 */
export function conditionNumber(A: Matrix): number {
  if (A.rows === 0 || A.cols === 0) throw new Error(`conditionNumber: matrix is empty (${A.rows}x${A.cols})`);
  const s = singularValues(A);
  const sMin = s[s.length - 1];
  return sMin === 0 ? Infinity : s[0] / sMin;
}

/** Column-major (k columns of length r, contiguous) → row-major r×k Matrix. */
function colMajorToMatrix(c: Float64Array, r: number, k: number): Matrix {
  const out = new Float64Array(r * k);
  for (let j = 0; j < k; j++) {
    const cj = j * r;
    for (let i = 0; i < r; i++) out[i * k + j] = c[cj + i];
  }
  return new Matrix(r, k, out);
}

/**
 * Golub–Kahan SVD of a column-major m×n array `a` (a[j*m + i] = A[i][j]) with m ≥ n ≥ 1.
 * Overwrites `a`. Returns column-major U (m×n), V (n×n) and descending s.
 * Port of JAMA's SingularValueDecomposition (public domain) to flat column-major arrays.
 */
function golubKahanColMajor(a: Float64Array, m: number, n: number, wantUV = true): { u: Float64Array; s: Float64Array; v: Float64Array } {
  const nu = n; // min(m, n) since m ≥ n
  const s = new Float64Array(Math.min(m + 1, n));
  const u = new Float64Array(wantUV ? m * nu : 0); // u[j*m + i] = U[i][j]
  const v = new Float64Array(wantUV ? n * n : 0); // v[j*n + i] = V[i][j]
  const e = new Float64Array(n);
  const work = new Float64Array(m);

  // Householder bidiagonalisation: diagonal into s, superdiagonal into e.
  const nct = Math.min(m - 1, n);
  const nrt = Math.max(0, Math.min(n - 2, m));
  for (let k = 0; k < Math.max(nct, nrt); k++) {
    const ck = k * m;
    if (k < nct) {
      // 2-norm of column k below the diagonal, scaled to avoid overflow.
      let sk = scaledNorm(a, ck + k, ck + m);
      if (sk !== 0) {
        if (a[ck + k] < 0) sk = -sk;
        const inv = 1 / sk;
        for (let i = k; i < m; i++) a[ck + i] *= inv;
        a[ck + k] += 1;
      }
      s[k] = -sk;
    }
    for (let j = k + 1; j < n; j++) {
      const cj = j * m;
      if (k < nct && s[k] !== 0) {
        let t = 0;
        for (let i = k; i < m; i++) t += a[ck + i] * a[cj + i];
        t = -t / a[ck + k];
        for (let i = k; i < m; i++) a[cj + i] += t * a[ck + i];
      }
      e[j] = a[cj + k];
    }
    if (wantUV && k < nct) {
      for (let i = k; i < m; i++) u[ck + i] = a[ck + i];
    }
    if (k < nrt) {
      let ek = scaledNorm(e, k + 1, n);
      if (ek !== 0) {
        if (e[k + 1] < 0) ek = -ek;
        const inv = 1 / ek;
        for (let i = k + 1; i < n; i++) e[i] *= inv;
        e[k + 1] += 1;
      }
      ek = -ek;
      e[k] = ek;
      if (k + 1 < m && ek !== 0) {
        for (let i = k + 1; i < m; i++) work[i] = 0;
        for (let j = k + 1; j < n; j++) {
          const cj = j * m, ej = e[j];
          for (let i = k + 1; i < m; i++) work[i] += ej * a[cj + i];
        }
        for (let j = k + 1; j < n; j++) {
          const cj = j * m, t = -e[j] / e[k + 1];
          for (let i = k + 1; i < m; i++) a[cj + i] += t * work[i];
        }
      }
      if (wantUV) {
        const vk = k * n;
        for (let i = k + 1; i < n; i++) v[vk + i] = e[i];
      }
    }
  }

  // The final bidiagonal matrix of order p.
  let p = Math.min(n, m + 1);
  if (nct < n) s[nct] = a[nct * m + nct];
  if (m < p) s[p - 1] = 0;
  if (nrt + 1 < p) e[nrt] = a[(p - 1) * m + nrt];
  e[p - 1] = 0;

  // Generate U (back-multiply the Householder reflections onto the identity).
  if (wantUV) generateUV(u, v, s, e, m, n, nct, nrt);

  // Implicit-shift QR iterations on the bidiagonal.
  const pp = p - 1;
  // Generous cap: the method converges in ~2 sweeps per singular value in practice; a cap only
  // guards against an infinite loop (never silently returns unconverged values).
  const maxIter = 75 * n + 100;
  let totalIter = 0;
  while (p > 0) {
    let k: number;
    let kase: number;
    // kase 1: s(p) and e[k-1] negligible, k < p  → deflate negligible s(p)
    // kase 2: s(k) negligible, k < p              → split
    // kase 3: e[k-1] negligible, k < p, rest not  → QR step
    // kase 4: e(p-1) negligible                   → convergence
    for (k = p - 2; k >= -1; k--) {
      if (k === -1) break;
      if (Math.abs(e[k]) <= TINY + EPS * (Math.abs(s[k]) + Math.abs(s[k + 1]))) {
        e[k] = 0;
        break;
      }
    }
    if (k === p - 2) {
      kase = 4;
    } else {
      let ks: number;
      for (ks = p - 1; ks >= k; ks--) {
        if (ks === k) break;
        const t = (ks !== p ? Math.abs(e[ks]) : 0) + (ks !== k + 1 ? Math.abs(e[ks - 1]) : 0);
        if (Math.abs(s[ks]) <= TINY + EPS * t) {
          s[ks] = 0;
          break;
        }
      }
      if (ks === k) kase = 3;
      else if (ks === p - 1) kase = 1;
      else {
        kase = 2;
        k = ks;
      }
    }
    k++;

    switch (kase) {
      case 1: {
        let f = e[p - 2];
        e[p - 2] = 0;
        const vp = (p - 1) * n;
        for (let j = p - 2; j >= k; j--) {
          const t = hypot(s[j], f);
          const cs = s[j] / t, sn = f / t;
          s[j] = t;
          if (j !== k) {
            f = -sn * e[j - 1];
            e[j - 1] = cs * e[j - 1];
          }
          if (wantUV) rotate(v, j * n, vp, n, cs, sn);
        }
        break;
      }
      case 2: {
        let f = e[k - 1];
        e[k - 1] = 0;
        const uk = (k - 1) * m;
        for (let j = k; j < p; j++) {
          const t = hypot(s[j], f);
          const cs = s[j] / t, sn = f / t;
          s[j] = t;
          f = -sn * e[j];
          e[j] = cs * e[j];
          if (wantUV) rotate(u, j * m, uk, m, cs, sn);
        }
        break;
      }
      case 3: {
        if (++totalIter > maxIter) {
          throw new Error(`svd: QR iteration did not converge after ${maxIter} steps (matrix ${m}x${n})`);
        }
        // Wilkinson-type shift from the trailing 2×2 of BᵀB, computed on scaled values.
        const scale = Math.max(Math.abs(s[p - 1]), Math.abs(s[p - 2]), Math.abs(e[p - 2]), Math.abs(s[k]), Math.abs(e[k]));
        const sp = s[p - 1] / scale;
        const spm1 = s[p - 2] / scale;
        const epm1 = e[p - 2] / scale;
        const sk = s[k] / scale;
        const ek = e[k] / scale;
        const b = ((spm1 + sp) * (spm1 - sp) + epm1 * epm1) / 2;
        const c = sp * epm1 * (sp * epm1);
        let shift = 0;
        if (b !== 0 || c !== 0) {
          shift = Math.sqrt(b * b + c);
          if (b < 0) shift = -shift;
          shift = c / (b + shift);
        }
        let f = (sk + sp) * (sk - sp) + shift;
        let g = sk * ek;
        // Chase the bulge down the bidiagonal.
        for (let j = k; j < p - 1; j++) {
          let t = hypot(f, g);
          let cs = f / t, sn = g / t;
          if (j !== k) e[j - 1] = t;
          f = cs * s[j] + sn * e[j];
          e[j] = cs * e[j] - sn * s[j];
          g = sn * s[j + 1];
          s[j + 1] = cs * s[j + 1];
          if (wantUV) rotate(v, j * n, (j + 1) * n, n, cs, sn);
          t = hypot(f, g);
          cs = f / t;
          sn = g / t;
          s[j] = t;
          f = cs * e[j] + sn * s[j + 1];
          s[j + 1] = -sn * e[j] + cs * s[j + 1];
          g = sn * e[j + 1];
          e[j + 1] = cs * e[j + 1];
          if (wantUV && j < m - 1) rotate(u, j * m, (j + 1) * m, m, cs, sn);
        }
        e[p - 2] = f;
        break;
      }
      default: {
        // Convergence: make s[k] non-negative, then bubble it into descending place.
        if (s[k] <= 0) {
          s[k] = s[k] < 0 ? -s[k] : 0;
          if (wantUV) {
            const vk = k * n;
            for (let i = 0; i <= pp; i++) v[vk + i] = -v[vk + i];
          }
        }
        while (k < pp) {
          if (s[k] >= s[k + 1]) break;
          const t = s[k];
          s[k] = s[k + 1];
          s[k + 1] = t;
          if (wantUV && k < n - 1) swap(v, k * n, (k + 1) * n, n);
          if (wantUV && k < m - 1) swap(u, k * m, (k + 1) * m, m);
          k++;
        }
        p--;
      }
    }
  }
  return { u, s: s.length === n ? s : s.slice(0, n), v };
}


/** Form U (m×n) and V (n×n), column-major, from the Householder vectors left in u and v. */
function generateUV(u: Float64Array, v: Float64Array, s: Float64Array, e: Float64Array, m: number, n: number, nct: number, nrt: number): void {
  const nu = n;
  for (let j = nct; j < nu; j++) {
    const cj = j * m;
    for (let i = 0; i < m; i++) u[cj + i] = 0;
    u[cj + j] = 1;
  }
  for (let k = nct - 1; k >= 0; k--) {
    const ck = k * m;
    if (s[k] !== 0) {
      for (let j = k + 1; j < nu; j++) {
        const cj = j * m;
        let t = 0;
        for (let i = k; i < m; i++) t += u[ck + i] * u[cj + i];
        t = -t / u[ck + k];
        for (let i = k; i < m; i++) u[cj + i] += t * u[ck + i];
      }
      for (let i = k; i < m; i++) u[ck + i] = -u[ck + i];
      u[ck + k] = 1 + u[ck + k];
      for (let i = 0; i < k; i++) u[ck + i] = 0;
    } else {
      for (let i = 0; i < m; i++) u[ck + i] = 0;
      u[ck + k] = 1;
    }
  }

  // Generate V.
  for (let k = n - 1; k >= 0; k--) {
    const vk = k * n;
    if (k < nrt && e[k] !== 0) {
      for (let j = k + 1; j < nu; j++) {
        const vj = j * n;
        let t = 0;
        for (let i = k + 1; i < n; i++) t += v[vk + i] * v[vj + i];
        t = -t / v[vk + k + 1];
        for (let i = k + 1; i < n; i++) v[vj + i] += t * v[vk + i];
      }
    }
    for (let i = 0; i < n; i++) v[vk + i] = 0;
    v[vk + k] = 1;
  }
}


/** Plane rotation of two contiguous vectors x[i0..i0+len), x[j0..j0+len): (xi, xj) ← (c xi + s xj, −s xi + c xj). */
function rotate(x: Float64Array, i0: number, j0: number, len: number, c: number, s: number): void {
  for (let t = 0; t < len; t++) {
    const xi = x[i0 + t], xj = x[j0 + t];
    x[i0 + t] = c * xi + s * xj;
    x[j0 + t] = -s * xi + c * xj;
  }
}

function swap(x: Float64Array, i0: number, j0: number, len: number): void {
  for (let t = 0; t < len; t++) {
    const tmp = x[i0 + t];
    x[i0 + t] = x[j0 + t];
    x[j0 + t] = tmp;
  }
}
