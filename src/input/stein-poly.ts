import { Matrix } from '../linalg/matrix.js';
import { solve } from '../linalg/solve.js';

/**
 * Polynomial Stein representers: score functions for light-tailed and bounded 1-D innovations
 * (docs/non-gaussian-inputs.md, "Bounded inputs").
 *
 * What a moment needs from the density of an innovation coordinate z is, for each order n, a function T_n with
 *   E[q(z) T_n(z)] = E[q⁽ⁿ⁾(z)]                                                    (Stein identity of order n)
 * for the test functions q the outputs are in that coordinate. The true n-th score (−1)ⁿ f⁽ⁿ⁾/f is one, but for a
 * density with a hard edge (uniform innovations) it lives on the edge, and every smooth density fitted to the data
 * replaces it with large, narrow peaks: biased and noisy moments (measured in the note). For POLYNOMIAL test
 * functions of degree ≤ K another representer exists and is exact for any density with 2K finite moments: the
 * L²(p)-projection of the functional q ↦ E[q⁽ⁿ⁾] on the polynomials of degree ≤ K,
 *   T_n(z) = Σ_j c_j zʲ,   G c = b,   G_ij = E[z^{i+j}],   b_i = i(i−1)…(i−n+1) E[z^{i−n}],   i, j = 0..K.
 * It is bounded on bounded support, and equals the Hermite polynomial Heₙ when z is standard Gaussian (K ≥ n).
 * Why this is enough here: an IO-RNN with a polynomial σ has outputs that are polynomials in every innovation;
 * for σ = z² the output y_t has degree 2 in z_t and degree 4 in z_{t−1}, so K = 4 makes T2 and the U moment exact
 * given the innovations' moments (other σ: exact up to the terms of degree > K in the differentiated coordinates).
 * The scores of the whole sequence then follow from the partition formula of src/input/nongaussian-scores.ts with
 * the "cumulants" of T_1..T_4 (κ1 = T1, κ2 = T2 − T1², …; φ⁽ⁿ⁾ := (−1)^{n+1} κ_n): for independent coordinates the
 * product Π_i T_{n_i}(z_i) and that partition sum are the same polynomial identity (moments ↔ cumulants).
 * Computed in the standardised variable s = (z − m)/σ for conditioning: T_n(z) = T̃_n(s)/σⁿ.
 */
export interface SteinPoly {
  mean: number;
  sd: number;
  /** coef[n − 1][j]: T̃_n(s) = Σ_j coef[n − 1][j] sʲ, n = 1..4. */
  coef: number[][];
}

export const STEIN_DEGREE = 4;

/** The representers T_1..T_4 (see the file comment) from a sample, with degree K (default 4). */
export function fitSteinPoly(z: Float64Array, K = STEIN_DEGREE): SteinPoly {
  const n = z.length;
  if (n < 4 * K) throw new Error(`polynomial Stein representers: ${n} values are too few for degree ${K}`);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += z[i];
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (z[i] - mean) ** 2;
  const sd = Math.sqrt(v / n);
  if (!(sd > 0)) throw new Error('polynomial Stein representers: the values are constant');
  const mom = new Float64Array(2 * K + 1);
  for (let i = 0; i < n; i++) {
    const s = (z[i] - mean) / sd;
    let p = 1;
    for (let k = 0; k <= 2 * K; k++, p *= s) mom[k] += p;
  }
  for (let k = 0; k <= 2 * K; k++) mom[k] /= n;
  return steinPolyFromMoments(mean, sd, mom, K);
}

/** The representers of degree K from the moments mom[k] = E[sᵏ], k = 0..2K, of the standardised s = (z − mean)/sd. */
export function steinPolyFromMoments(mean: number, sd: number, mom: ArrayLike<number>, K: number): SteinPoly {
  const G = new Matrix(K + 1, K + 1);
  for (let i = 0; i <= K; i++) for (let j = 0; j <= K; j++) G.data[i * (K + 1) + j] = mom[i + j];
  const B = new Matrix(K + 1, 4);
  for (let order = 1; order <= 4; order++)
    for (let i = order; i <= K; i++) {
      let f = 1;
      for (let r = 0; r < order; r++) f *= i - r;
      B.data[i * 4 + order - 1] = f * mom[i - order];
    }
  const C = solve(G, B);
  // + 0 turns −0 into 0, so the model file's JSON round trip gives back the same numbers.
  const coef = [0, 1, 2, 3].map((c) => Array.from({ length: K + 1 }, (_, j) => C.data[j * 4 + c] + 0));
  return { mean, sd, coef };
}

/** φ⁽¹⁾..φ⁽ᵒʳᵈᵉʳ⁾ in the sense of the file comment, at z, into out[o ..] (no allocation: called per row and coordinate). */
export function steinPolyNegLogDerivatives(p: SteinPoly, z: number, order: number, out: Float64Array, o = 0, stride = 1): void {
  const s = (z - p.mean) / p.sd, c = p.coef, inv = 1 / p.sd;
  const t1 = horner(c[0], s) * inv;
  out[o] = t1;
  if (order < 2) return;
  const t2 = horner(c[1], s) * inv * inv;
  out[o + stride] = t1 * t1 - t2; // −κ2
  if (order < 3) return;
  const t3 = horner(c[2], s) * inv * inv * inv;
  out[o + 2 * stride] = t3 - 3 * t1 * t2 + 2 * t1 * t1 * t1; // κ3
  if (order < 4) return;
  const t4 = horner(c[3], s) * inv * inv * inv * inv;
  out[o + 3 * stride] = -(t4 - 4 * t1 * t3 - 3 * t2 * t2 + 12 * t1 * t1 * t2 - 6 * t1 ** 4); // −κ4
}

function horner(c: number[], s: number): number {
  let v = 0;
  for (let j = c.length - 1; j >= 0; j--) v = v * s + c[j];
  return v;
}
