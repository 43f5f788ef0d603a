/**
 * One-dimensional Gaussian mixtures f(z) = Σ_k π_k N(z; m_k, v_k): the building block of the non-Gaussian
 * innovation model (src/input/var1-mixture.ts, docs/non-gaussian-inputs.md).
 *
 * What the scores need are the derivatives of φ = −log f up to order 4, in closed form:
 *   ρ_n = f⁽ⁿ⁾/f = Σ_k r_k(z) (−1)ⁿ He_n(u_k) / σ_kⁿ,   u_k = (z − m_k)/σ_k,  r_k = π_k N_k / f,
 * (each Gaussian's n-th derivative is N_k·(−1)ⁿHe_n(u_k)/σ_kⁿ, He the probabilists' Hermite polynomials), and
 * the derivatives of log f are the cumulants of the "moments" ρ_n (Faà di Bruno):
 *   ℓ1 = ρ1, ℓ2 = ρ2 − ρ1², ℓ3 = ρ3 − 3ρ1ρ2 + 2ρ1³, ℓ4 = ρ4 − 4ρ1ρ3 − 3ρ2² + 12ρ1²ρ2 − 6ρ1⁴;  φ⁽ⁿ⁾ = −ℓn.
 * For one component this is φ' = (z − m)/v, φ'' = 1/v, φ''' = φ'''' = 0: the Gaussian case.
 *
 * Fitting: EM from a deterministic start (means at the (k + ½)/K quantiles, common variance, equal weights), the
 * number of components K ∈ 1..maxComponents chosen by BIC = −2 log L + (3K − 1) log n.
 */
import { SteinPoly, steinPolyFromMoments, steinPolyNegLogDerivatives } from './stein-poly.js';

export interface Mixture1D {
  weights: number[];
  means: number[];
  variances: number[];
  /**
   * When set, the coordinate's scores are these polynomial Stein representers (src/input/stein-poly.ts, for light
   * tails and bounded support) instead of the mixture's; `weights`, `means`, `variances` then hold [1], the mean and
   * the variance of the sample, and there is no density (log f is not defined).
   */
  stein?: SteinPoly;
}

export const MAX_DERIVATIVE_ORDER = 4;

/** log f(z). */
export function mixtureLogDensity(m: Mixture1D, z: number): number {
  if (m.stein) throw new Error('a coordinate with polynomial Stein representers has no density');
  const K = m.weights.length;
  let best = -Infinity;
  const lw = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    const u = z - m.means[k];
    lw[k] = Math.log(m.weights[k]) - 0.5 * Math.log(2 * Math.PI * m.variances[k]) - (0.5 * u * u) / m.variances[k];
    if (lw[k] > best) best = lw[k];
  }
  let s = 0;
  for (let k = 0; k < K; k++) s += Math.exp(lw[k] - best);
  return best + Math.log(s);
}

/**
 * φ⁽¹⁾..φ⁽ᵒʳᵈᵉʳ⁾ of φ = −log f at z, written to out[o .. o + order). Responsibilities through log-sum-exp, so
 * far tails do not underflow to 0/0. `order` ≤ 4.
 */
export function mixtureNegLogDerivatives(m: Mixture1D, z: number, order: number, out: Float64Array, o = 0): void {
  preparedNegLogDerivatives(prepareMixture(m), z, order, out, o);
}

/** Per-term constants of a mixture, computed once (the scores evaluate φ⁽ᵏ⁾ at every row of every pass). */
export interface PreparedMixture {
  source: Mixture1D;
  K: number;
  /** log π_k − ½ log v_k. */
  logc: Float64Array;
  means: Float64Array;
  /** 1/σ_k. */
  invSd: Float64Array;
  /** Scratch for the responsibilities. */
  w: Float64Array;
  /** Scratch for the standardised u_k = (z − m_k)/σ_k (computed once per point, used by every order). */
  u: Float64Array;
}

export function prepareMixture(m: Mixture1D): PreparedMixture {
  const K = m.weights.length;
  return {
    source: m,
    K,
    logc: Float64Array.from(m.weights, (w, k) => Math.log(w) - 0.5 * Math.log(m.variances[k])),
    means: Float64Array.from(m.means),
    invSd: Float64Array.from(m.variances, (v) => 1 / Math.sqrt(v)),
    w: new Float64Array(K),
    u: new Float64Array(K),
  };
}

/**
 * mixtureNegLogDerivatives on prepared constants (no allocation), φ⁽ᵏ⁾ written to out[o + (k − 1)·stride]. This
 * runs for every coordinate of every row of every pass, so it is the non-Gaussian passes' main cost: one exp per
 * component but the largest (the responsibilities), the standardised u_k computed once, and one specialised loop
 * per order instead of a per-term test of the order. The arithmetic of every term is the same expression, in the
 * same order, as the plain formula of the file comment, so the results are bit-identical to it.
 */
export function preparedNegLogDerivatives(p: PreparedMixture, z: number, order: number, out: Float64Array, o = 0, stride = 1): void {
  const m = p.source;
  if (m.stein) return steinPolyNegLogDerivatives(m.stein, z, order, out, o, stride);
  const K = p.K;
  if (K === 1) {
    const v = m.variances[0];
    out[o] = (z - m.means[0]) / v;
    if (order >= 2) out[o + stride] = 1 / v;
    for (let n = 3; n <= order; n++) out[o + (n - 1) * stride] = 0;
    return;
  }
  let best = -Infinity;
  const lw = p.w, us = p.u, is = p.invSd, mu = p.means, lc = p.logc;
  for (let k = 0; k < K; k++) {
    const u = (z - mu[k]) * is[k];
    us[k] = u;
    const l = lc[k] - 0.5 * u * u;
    lw[k] = l;
    if (l > best) best = l;
  }
  let tot = 0;
  // The largest term is exp(0) = 1 exactly: one exp fewer per point.
  for (let k = 0; k < K; k++) {
    const e = lw[k] - best;
    tot += lw[k] = e === 0 ? 1 : Math.exp(e);
  }
  let r1 = 0, r2 = 0;
  if (order === 1) {
    for (let k = 0; k < K; k++) r1 -= (lw[k] / tot) * us[k] * is[k];
    out[o] = -r1;
    return;
  }
  if (order === 2) {
    for (let k = 0; k < K; k++) {
      const r = lw[k] / tot, s = is[k], u = us[k];
      r1 -= r * u * s;
      r2 += r * (u * u - 1) * s * s;
    }
    out[o] = -r1;
    out[o + stride] = -(r2 - r1 * r1);
    return;
  }
  let r3 = 0, r4 = 0;
  if (order === 3) {
    for (let k = 0; k < K; k++) {
      const r = lw[k] / tot, s = is[k], u = us[k], u2 = u * u;
      r1 -= r * u * s;
      r2 += r * (u2 - 1) * s * s;
      r3 -= r * (u2 * u - 3 * u) * s * s * s;
    }
  } else {
    for (let k = 0; k < K; k++) {
      const r = lw[k] / tot, s = is[k], u = us[k], u2 = u * u;
      r1 -= r * u * s;
      r2 += r * (u2 - 1) * s * s;
      r3 -= r * (u2 * u - 3 * u) * s * s * s;
      r4 += r * (u2 * u2 - 6 * u2 + 3) * s * s * s * s;
    }
  }
  out[o] = -r1;
  out[o + stride] = -(r2 - r1 * r1);
  out[o + 2 * stride] = -(r3 - 3 * r1 * r2 + 2 * r1 * r1 * r1);
  if (order >= 4) out[o + 3 * stride] = -(r4 - 4 * r1 * r3 - 3 * r2 * r2 + 12 * r1 * r1 * r2 - 6 * r1 ** 4);
}

export function mixtureMean(m: Mixture1D): number {
  let s = 0;
  for (let k = 0; k < m.weights.length; k++) s += m.weights[k] * m.means[k];
  return s;
}

export function mixtureVariance(m: Mixture1D): number {
  const mu = mixtureMean(m);
  let s = 0;
  for (let k = 0; k < m.weights.length; k++) s += m.weights[k] * (m.variances[k] + (m.means[k] - mu) ** 2);
  return s;
}

/**
 * The degree-K polynomial Stein representers (src/input/stein-poly.ts) of the mixture's law, from its moments in
 * closed form: E[(c + τN)ⁿ] = Σ_i C(n, i) c^{n−i} τⁱ E[Nⁱ], E[Nⁱ] = (i − 1)!! for even i, 0 for odd i. A
 * coordinate that already has representers keeps its own.
 */
export function mixtureSteinPoly(m: Mixture1D, K: number): SteinPoly {
  if (m.stein) return m.stein;
  const mean = mixtureMean(m), sd = Math.sqrt(mixtureVariance(m)), mom = new Float64Array(2 * K + 1);
  const gaussMoment = (i: number) => (i % 2 === 1 ? 0 : Array.from({ length: i / 2 }, (_, r) => 2 * r + 1).reduce((a, b) => a * b, 1));
  for (let k = 0; k < m.weights.length; k++) {
    const c = (m.means[k] - mean) / sd, tau = Math.sqrt(m.variances[k]) / sd;
    for (let n = 0; n <= 2 * K; n++) {
      let e = 0, binom = 1;
      for (let i = 0; i <= n; i++) {
        e += binom * c ** (n - i) * tau ** i * gaussMoment(i);
        binom = (binom * (n - i)) / (i + 1);
      }
      mom[n] += m.weights[k] * e;
    }
  }
  return steinPolyFromMoments(mean, sd, mom, K);
}

/** Draw from the mixture with uniforms/normals from `draw` (deterministic given the stream). */
export function mixtureSample(m: Mixture1D, uniform: number, normal: number): number {
  if (m.stein) throw new Error('a coordinate with polynomial Stein representers has no density to sample from');
  let k = 0, c = m.weights[0];
  while (uniform > c && k < m.weights.length - 1) c += m.weights[++k];
  return m.means[k] + Math.sqrt(m.variances[k]) * normal;
}

export interface MixtureFit {
  mixture: Mixture1D;
  logLik: number;
  bic: number;
  iterations: number;
}

/** EM for a K-component mixture from the deterministic quantile start (see the file comment). */
export function fitMixture1D(z: Float64Array, K: number, opts: { maxIter?: number; tol?: number } = {}): MixtureFit {
  const n = z.length;
  if (n < 3 * K) throw new Error(`mixture fit: ${n} values are too few for ${K} components`);
  // tol: a relative change of 1e-6 of log L (≈ 0.03 nats at n = 2e4) cannot move a BIC comparison, which needs ≳ 1 nat.
  const maxIter = opts.maxIter ?? 100, tol = opts.tol ?? 1e-6;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += z[i];
  mean /= n;
  let v0 = 0;
  for (let i = 0; i < n; i++) v0 += (z[i] - mean) ** 2;
  v0 /= n;
  if (!(v0 > 0)) throw new Error('mixture fit: the values are constant');
  const floor = 1e-6 * v0;
  const sorted = Float64Array.from(z).sort();
  const w = new Array<number>(K).fill(1 / K);
  const mu = Array.from({ length: K }, (_, k) => sorted[Math.min(n - 1, Math.floor(((k + 0.5) / K) * n))]);
  const va = new Array<number>(K).fill(K === 1 ? v0 : v0 / K);
  const R = new Float64Array(n * K);
  let prev = -Infinity, ll = 0, it = 0;
  for (; it < maxIter; it++) {
    ll = 0;
    // Per-component constants hoisted out of the loop over points (one log per component per iteration).
    const cst = w.map((wk, k) => Math.log(wk) - 0.5 * Math.log(2 * Math.PI * va[k])), half = va.map((v) => 0.5 / v);
    for (let i = 0; i < n; i++) {
      let best = -Infinity;
      for (let k = 0; k < K; k++) {
        const u = z[i] - mu[k];
        const l = cst[k] - half[k] * u * u;
        R[i * K + k] = l;
        if (l > best) best = l;
      }
      let s = 0;
      for (let k = 0; k < K; k++) s += R[i * K + k] = Math.exp(R[i * K + k] - best);
      for (let k = 0; k < K; k++) R[i * K + k] /= s;
      ll += best + Math.log(s);
    }
    for (let k = 0; k < K; k++) {
      let nk = 0, sk = 0;
      for (let i = 0; i < n; i++) {
        nk += R[i * K + k];
        sk += R[i * K + k] * z[i];
      }
      nk = Math.max(nk, 1e-12);
      const mk = sk / nk;
      let vk = 0;
      for (let i = 0; i < n; i++) vk += R[i * K + k] * (z[i] - mk) ** 2;
      w[k] = nk / n;
      mu[k] = mk;
      va[k] = Math.max(vk / nk, floor);
    }
    if (Math.abs(ll - prev) <= tol * Math.abs(ll)) break;
    prev = ll;
  }
  const mixture: Mixture1D = { weights: w, means: mu, variances: va };
  // Log-likelihood of the returned parameters (the loop's ll belongs to the parameters before the last M-step).
  let final = 0;
  for (let i = 0; i < n; i++) final += mixtureLogDensity(mixture, z[i]);
  return { mixture, logLik: final, bic: -2 * final + (3 * K - 1) * Math.log(n), iterations: it + 1 };
}

/** The BIC-best mixture with 1..maxComponents components (stopping at the first K whose BIC is not lower), and every fitted candidate's BIC. */
export function selectMixture1D(z: Float64Array, maxComponents = 4): MixtureFit & { candidates: { components: number; bic: number; logLik: number }[] } {
  let best: MixtureFit | null = null;
  const candidates: { components: number; bic: number; logLik: number }[] = [];
  for (let K = 1; K <= maxComponents && 3 * K <= z.length; K++) {
    const f = fitMixture1D(z, K);
    candidates.push({ components: K, bic: f.bic, logLik: f.logLik });
    // BIC rose: more components only fit noise (stop; each EM costs O(n·K) per iteration).
    if (best !== null && f.bic >= best.bic) break;
    if (best === null || f.bic < best.bic) best = f;
  }
  if (best === null) throw new Error(`mixture fit: ${z.length} values are too few`);
  return { ...best, candidates };
}
