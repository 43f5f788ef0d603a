import { Matrix } from '../linalg/matrix.js';
import { InputModel, precisionDiag } from './model.js';

/**
 * Score functions of a Gaussian input sequence (docs/method.md §3), explicit and contracted.
 *
 * All higher-order scores are Hermite polynomials of the first-order score s = Λ(x − μ) with the
 * precision blocks as "covariance" (Wick pairings): for the density p, S_m = (−1)^m ∇^m p / p, so
 * Stein's lemma E[G(x) ⊗ S_m(x)] = E[∇^m G(x)] holds with partial derivatives, all other steps fixed.
 * Generating function (used by the tests): exp(hᵀs − ½ hᵀΛh) = Σ_m S_m[h,…,h] / m!.
 *
 * Explicit tensors are dense row-major Float64Arrays (S2: dx², S3: dx³, S4: dx⁴; index [a,b,c] at
 * (a·dx + b)·dx + c) meant for tests and small dx; the `*Contract` functions evaluate the same
 * multilinear forms on given vectors/matrices in O(dx²) without forming the tensor.
 */

/** First-order scores of one sequence (L×dx): s = Λ(x − μ), O(L·dx²). */
export function firstOrderScores(model: InputModel, x: Float64Array, L: number): Float64Array {
  const out = new Float64Array(L * model.dx);
  model.scoreSequence(x, L, out);
  return out;
}

/** S1(t) = s_t (a copy of row t of the L×dx score array). */
export function hermite1(s: Float64Array, t: number, dx: number): Float64Array {
  return s.slice(t * dx, (t + 1) * dx);
}

/** S2 = s sᵀ − P (dx×dx). `s` is one step's score (length dx), P = P_t. */
export function hermite2(s: ArrayLike<number>, P: Matrix): Float64Array {
  const dx = s.length, Pd = P.data;
  const out = new Float64Array(dx * dx);
  for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) out[a * dx + b] = s[a] * s[b] - Pd[a * dx + b];
  return out;
}

/** S3_abc = s_a s_b s_c − (s_a P_bc + s_b P_ac + s_c P_ab) (dx³). */
export function hermite3(s: ArrayLike<number>, P: Matrix): Float64Array {
  const dx = s.length, Pd = P.data;
  const out = new Float64Array(dx * dx * dx);
  for (let a = 0; a < dx; a++)
    for (let b = 0; b < dx; b++)
      for (let c = 0; c < dx; c++) {
        out[(a * dx + b) * dx + c] = s[a] * s[b] * s[c] - (s[a] * Pd[b * dx + c] + s[b] * Pd[a * dx + c] + s[c] * Pd[a * dx + b]);
      }
  return out;
}

/**
 * S4_abcd = s_a s_b s_c s_d − (6 placements of s s P) + (P_ab P_cd + P_ac P_bd + P_ad P_bc) (dx⁴).
 */
export function hermite4(s: ArrayLike<number>, P: Matrix): Float64Array {
  const dx = s.length, Pd = P.data;
  const p = (i: number, j: number) => Pd[i * dx + j];
  const out = new Float64Array(dx ** 4);
  for (let a = 0; a < dx; a++)
    for (let b = 0; b < dx; b++)
      for (let c = 0; c < dx; c++)
        for (let d = 0; d < dx; d++) {
          const sa = s[a], sb = s[b], sc = s[c], sd = s[d];
          out[((a * dx + b) * dx + c) * dx + d] =
            sa * sb * sc * sd -
            (sa * sb * p(c, d) + sa * sc * p(b, d) + sa * sd * p(b, c) + sb * sc * p(a, d) + sb * sd * p(a, c) + sc * sd * p(a, b)) +
            (p(a, b) * p(c, d) + p(a, c) * p(b, d) + p(a, d) * p(b, c));
        }
  return out;
}

/**
 * Mixed score over two steps (dx³), docs/method.md §3:
 *   H_αβγ = s_α r_β r_γ − s_α (P_r)_βγ − L_αγ r_β − L_αβ r_γ,
 * where s = s_t (mode α, differentiated once), r = s_u (modes β, γ, differentiated twice), P_r = P_u
 * and L = Λ_{t,u} (rows indexed by step t, columns by step u).
 * - Backward-in-time (t; t−1, t−1): r = s_{t−1}, P_r = P_{t−1}, L = Λ_{t,t−1}.
 * - Forward-in-time  (t; t+1, t+1): r = s_{t+1}, P_r = P_{t+1}, L = Λ_{t,t+1}.
 * Then E[G(x) ⊗ H] = E[∂_{x_t,α} ∂_{x_u,β} ∂_{x_u,γ} G].
 */
export function mixedScore(s: ArrayLike<number>, r: ArrayLike<number>, Pr: Matrix, Lb: Matrix): Float64Array {
  const dx = s.length, P = Pr.data, Ld = Lb.data;
  const out = new Float64Array(dx * dx * dx);
  for (let a = 0; a < dx; a++)
    for (let b = 0; b < dx; b++)
      for (let c = 0; c < dx; c++) {
        out[(a * dx + b) * dx + c] = s[a] * (r[b] * r[c] - P[b * dx + c]) - Ld[a * dx + c] * r[b] - Ld[a * dx + b] * r[c];
      }
  return out;
}

/** Scores and blocks for the mixed score of step t of a sequence with pairing step u = t ± 1. */
export interface MixedScoreArgs {
  s: Float64Array;
  r: Float64Array;
  Pr: Matrix;
  L: Matrix;
}

/**
 * Collect (s_t, s_u, P_u, Λ_{t,u}) for the mixed score of step t (0-based) with u = t − 1
 * (`direction = 'prev'`, needs t ≥ 1) or u = t + 1 (`'next'`, needs t ≤ L−2), from the L×dx score
 * array of one sequence. The boundary blocks come from the model (P_0 uses Σ⁻¹, P_{L−1} has no
 * FᵀQ⁻¹F term).
 */
export function mixedScoreArgs(model: InputModel, scores: Float64Array, L: number, t: number, direction: 'prev' | 'next'): MixedScoreArgs {
  const dx = model.dx;
  const u = direction === 'prev' ? t - 1 : t + 1;
  if (t < 0 || t >= L || u < 0 || u >= L) throw new RangeError(`mixedScoreArgs: step ${t} of a length-${L} sequence has no ${direction} neighbour`);
  const Lb = model.precisionBlock(t, u, L) ?? new Matrix(dx, dx);
  return { s: scores.slice(t * dx, (t + 1) * dx), r: scores.slice(u * dx, (u + 1) * dx), Pr: precisionDiag(model, u, L), L: Lb };
}

// ---------------------------------------------------------------------------------------------
// Contractions without forming tensors (O(dx²) each).

function dotv(u: ArrayLike<number>, v: ArrayLike<number>): number {
  let z = 0;
  for (let i = 0; i < u.length; i++) z += u[i] * v[i];
  return z;
}

/** uᵀ M v for a dx×dx matrix. */
export function bilinear(M: Matrix, u: ArrayLike<number>, v: ArrayLike<number>): number {
  const n = M.cols, d = M.data;
  let z = 0;
  for (let i = 0; i < M.rows; i++) {
    const ui = u[i];
    if (ui === 0) continue;
    let w = 0;
    for (let j = 0; j < n; j++) w += d[i * n + j] * v[j];
    z += ui * w;
  }
  return z;
}

/** S2[u, v] = (u·s)(v·s) − uᵀPv. */
export function hermite2Contract(s: ArrayLike<number>, P: Matrix, u: ArrayLike<number>, v: ArrayLike<number>): number {
  return dotv(u, s) * dotv(v, s) - bilinear(P, u, v);
}

/** S3[u, v, w] = (u·s)(v·s)(w·s) − (u·s) vᵀPw − (v·s) uᵀPw − (w·s) uᵀPv. */
export function hermite3Contract(s: ArrayLike<number>, P: Matrix, u: ArrayLike<number>, v: ArrayLike<number>, w: ArrayLike<number>): number {
  const a = dotv(u, s), b = dotv(v, s), c = dotv(w, s);
  return a * b * c - (a * bilinear(P, v, w) + b * bilinear(P, u, w) + c * bilinear(P, u, v));
}

/** S4[u, v, w, z] by the same Wick expansion as `hermite4`. */
export function hermite4Contract(
  s: ArrayLike<number>,
  P: Matrix,
  u: ArrayLike<number>,
  v: ArrayLike<number>,
  w: ArrayLike<number>,
  z: ArrayLike<number>,
): number {
  const a = dotv(u, s), b = dotv(v, s), c = dotv(w, s), d = dotv(z, s);
  const ab = bilinear(P, u, v), ac = bilinear(P, u, w), ad = bilinear(P, u, z);
  const bc = bilinear(P, v, w), bd = bilinear(P, v, z), cd = bilinear(P, w, z);
  return a * b * c * d - (a * b * cd + a * c * bd + a * d * bc + b * c * ad + b * d * ac + c * d * ab) + (ab * cd + ac * bd + ad * bc);
}

/** H[u, v, w] = (u·s)((v·r)(w·r) − vᵀP_r w) − (uᵀLw)(v·r) − (uᵀLv)(w·r). */
export function mixedContract(
  s: ArrayLike<number>,
  r: ArrayLike<number>,
  Pr: Matrix,
  Lb: Matrix,
  u: ArrayLike<number>,
  v: ArrayLike<number>,
  w: ArrayLike<number>,
): number {
  const a = dotv(u, s), b = dotv(v, r), c = dotv(w, r);
  return a * (b * c - bilinear(Pr, v, w)) - bilinear(Lb, u, w) * b - bilinear(Lb, u, v) * c;
}

/**
 * H contracted on mode α with u, as a dx×dx matrix over (β, γ):
 *   H[u,·,·] = (u·s)(r rᵀ − P_r) − r (Lᵀu)ᵀ − (Lᵀu) rᵀ.
 */
export function mixedContractMode1(s: ArrayLike<number>, r: ArrayLike<number>, Pr: Matrix, Lb: Matrix, u: ArrayLike<number>): Matrix {
  const dx = s.length, P = Pr.data, Ld = Lb.data;
  const a = dotv(u, s);
  const lu = new Float64Array(dx); // Lᵀu
  for (let i = 0; i < dx; i++) {
    const ui = u[i];
    if (ui === 0) continue;
    for (let j = 0; j < dx; j++) lu[j] += Ld[i * dx + j] * ui;
  }
  const out = new Matrix(dx, dx);
  const o = out.data;
  for (let b = 0; b < dx; b++)
    for (let c = 0; c < dx; c++) o[b * dx + c] = a * (r[b] * r[c] - P[b * dx + c]) - r[b] * lu[c] - lu[b] * r[c];
  return out;
}

/** S2 contracted on both modes with the columns of G (dx×k): Gᵀ S2 G = (Gᵀs)(Gᵀs)ᵀ − GᵀPG (k×k). */
export function hermite2Project(s: ArrayLike<number>, P: Matrix, G: Matrix): Matrix {
  const dx = G.rows, k = G.cols, g = G.data, Pd = P.data;
  const q = new Float64Array(k);
  for (let a = 0; a < dx; a++) for (let j = 0; j < k; j++) q[j] += g[a * k + j] * s[a];
  const PG = new Float64Array(dx * k);
  for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) {
    const p = Pd[a * dx + b];
    for (let j = 0; j < k; j++) PG[a * k + j] += p * g[b * k + j];
  }
  const out = new Matrix(k, k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
    let w = 0;
    for (let a = 0; a < dx; a++) w += g[a * k + i] * PG[a * k + j];
    out.data[i * k + j] = q[i] * q[j] - w;
  }
  return out;
}
