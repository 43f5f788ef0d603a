/**
 * Spectral start for IO-RNNs with a smooth activation (tanh, sigmoid, softplus): the pure functions after the moment
 * passes (those stream, identify/smooth-moments.ts; docs/activations.md, "Smooth activations").
 *
 * Identity (Stein with the Markov input's scores; h_{t−1} does not depend on x_t):
 *   E[y_t ⊗ S_m(t)] = Σ_j μ_j^{(m)} A2^(j) ⊗ a1_j^{⊗m},  μ_j^{(m)} = E σ^(m)(z_jt).
 * 1. Moments (smooth-moments.ts): T2 = E[ȳ ⊗ S2] and T3 = E[r ⊗ S3] on two halves of the sequences (r: control-variate
 *    residuals, valid for order ≥ 3), T1 = E[ȳ_t ⊗ s_t] over t ≤ L−2 (for ν in step 3).
 * 2. Order m (`chooseOrder`): the order whose moment stands higher above its own split-sample noise floor
 *    (σ_dh of the input-mode unfolding / spectral norm of the noise's unfolding). For odd σ with symmetric
 *    pre-activations μ^{(2)} ≈ 0 (tanh, and sigmoid = (1 + tanh(z/2))/2), so m = 3; biased pre-activations or a
 *    convex σ (softplus) give m = 2. Directions Â1 (unit rows) and components μ_j α_j^m A2^(j) by tied CP.
 * 3. U (`unitGaugeU`, the P2′ route of the polynomial learner with the mixed moment of order m): with duals G = pinv(Â1),
 *    C[·, j, k] = E[y ⊗ H(t^{m−1}; t−1)][g_j^{m−1}, g_k] = A2^(j) α_j^{m−1} α_k U_jk ω_jk, ω_jk = E[σ^(m)(z_jt) σ'(z_k,t−1)],
 *    and T1 g_k = ν_k α_k A2^(k). For a polynomial of degree m, σ^(m) is the constant c_m m!, ω_jk = c_m m! ν_k and ν
 *    cancels exactly. For smooth σ it does not: after the neuron scales α are fitted (U = diag(α) Û diag(α)^{−m}),
 *      U = U_true ⊙ [ω_jk μ_k / (μ_j ν_k lead)].
 *    Starts offered (all with the true σ, scales by least squares on simulated states as the polynomial learner does):
 *    - 'surrogate': lead = σ^(m)(0), no correction (the factor is 1 when pre-activations are small);
 *    - 'moment': the factor is evaluated on the fitted model's own pre-activations and divided out, alternating with
 *      the scale fit (a plug-in fixed point; exact at the true parameters);
 *    - 'zero': U = 0.
 */
import { Matrix } from '../../linalg/matrix.js';
import { singularValues } from '../../linalg/svd.js';
import type { SequenceChunk } from '../../io/dataset.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Activation, IORNNParams } from '../../models/params.js';
import { forwardIORNN } from '../../models/iornn.js';
import { activationSymmetry } from '../../models/activation.js';
import { applyScales, fitScales } from './poly-scales.js';
import { liftDirections, tiedCP, tiedCPOrder, unitDirections } from '../../decomposition/tied.js';
import type { SmoothMoments } from './smooth-moments.js';
import { fitOutputLayer } from '../refine.js';

/** σ^(m)(z), m = 0..3, for the named smooth activations (closed forms) and polynomials (derivative coefficients). */
export function activationDerivative(act: Activation, z: number, m: number): number {
  if (act.name === undefined) {
    let c = Array.from(act.coefficients);
    for (let k = 0; k < m; k++) c = c.slice(1).map((v, i) => v * (i + 1));
    let v = 0;
    for (let i = c.length - 1; i >= 0; i--) v = v * z + c[i];
    return v;
  }
  switch (act.name) {
    case 'tanh': {
      const t = Math.tanh(z), s = 1 - t * t;
      return [t, s, -2 * t * s, -2 * s * (1 - 3 * t * t)][m];
    }
    case 'sigmoid':
    case 'softplus': {
      const s = 1 / (1 + Math.exp(-z)), q = s * (1 - s);
      // softplus' = sigmoid: shift the order by one.
      const sig = [s, q, q * (1 - 2 * s), q * (1 - 6 * s + 6 * s * s)];
      if (act.name === 'sigmoid') return sig[m];
      return m === 0 ? (z > 30 ? z : Math.log1p(Math.exp(z))) : sig[m - 1];
    }
    case 'linear':
      return m === 0 ? z : m === 1 ? 1 : 0;
  }
  throw new RangeError(`activationDerivative: unknown activation ${JSON.stringify(act)}`);
}

/**
 * Singular values of the input-mode unfolding (k × dy·k^{m−1}) of the count-weighted mean of two half-sample moments
 * (dy×k^m, row-major) and of their split-sample difference D = (Ta − Tb)·√(na·nb)/n, whose covariance is the mean's
 * noise covariance (src/learn/rank.ts).
 */
export function unfoldingSpectra(Ta: Float64Array, Tb: Float64Array, counts: [number, number], dy: number, k: number, m: number): { spectrum: number[]; noise: number[] } {
  const [na, nb] = counts, n = na + nb, w = Math.sqrt(na * nb) / n;
  const km1 = k ** (m - 1), rest = dy * km1;
  const M = new Matrix(k, rest), D = new Matrix(k, rest);
  // entry [i, a, rest…] at (i·k + a)·k^{m−1} + r → unfolding row a, column i·k^{m−1} + r.
  for (let i = 0; i < dy; i++)
    for (let a = 0; a < k; a++)
      for (let r = 0; r < km1; r++) {
        const e = (i * k + a) * km1 + r;
        M.data[a * rest + i * km1 + r] = (na * Ta[e] + nb * Tb[e]) / n;
        D.data[a * rest + i * km1 + r] = (Ta[e] - Tb[e]) * w;
      }
  return { spectrum: Array.from(singularValues(M)), noise: Array.from(singularValues(D)) };
}

/** σ_dh of the unfolding over the spectral norm of the noise's unfolding. */
function snr(Ta: Float64Array, Tb: Float64Array, counts: [number, number], dy: number, k: number, m: number, dh: number): number {
  const s = unfoldingSpectra(Ta, Tb, counts, dy, k, m);
  return (s.spectrum[dh - 1] ?? 0) / (s.noise[0] || Number.MIN_VALUE);
}

export interface OrderChoice {
  m: 2 | 3;
  snr2: number;
  snr3: number;
  reason: string;
}

/** Order m of the direction moment (see the file comment); m = 2 also needs dy ≥ dh (a matrix-slice CP). */
export function chooseOrder(mom: SmoothMoments, dh: number, forced?: 2 | 3): OrderChoice {
  const k = mom.Q ? mom.Q.cols : mom.dx;
  const snr2 = snr(mom.T2[0], mom.T2[1], mom.counts, mom.dy, mom.dx, 2, dh);
  const snr3 = snr(mom.T3[0], mom.T3[1], mom.counts, mom.dy, k, 3, dh);
  if (forced) return { m: forced, snr2, snr3, reason: 'given' };
  if (mom.dy < dh) return { m: 3, snr2, snr3, reason: `dy = ${mom.dy} < dh = ${dh}: E[y ⊗ S2] identifies at most dy neurons` };
  return snr2 >= snr3
    ? { m: 2, snr2, snr3, reason: `E[y ⊗ S2] stands ${snr2.toPrecision(3)}× above its noise floor, E[y ⊗ S3] ${snr3.toPrecision(3)}×` }
    : { m: 3, snr2, snr3, reason: `E[y ⊗ S3] stands ${snr3.toPrecision(3)}× above its noise floor, E[y ⊗ S2] ${snr2.toPrecision(3)}× (E σ″ ≈ 0: symmetric pre-activations of an odd σ)` };
}

/** Order-3 tied CP of T2 as unit directions and components (src/decomposition/tied.ts). */
function tied2(T: Tensor, dh: number, seed: number): { dirs: Matrix; comps: Matrix; residual: number } {
  const r = tiedCP(T, dh, { seed });
  return { ...unitDirections(r.cp, 2), residual: r.residual };
}

/** Unit directions Â1 (dh×dx) and components comps (dh×dy, ∝ μ_j α_j^m A2^(j)) from the order-m moment. */
export function smoothDirections(mom: SmoothMoments, m: 2 | 3, dh: number, seed = 0): { A1: Matrix; comps: Matrix; cpResidual: number } {
  const { dx, dy } = mom;
  const [na, nb] = mom.counts;
  const mean = (a: Float64Array, b: Float64Array) => a.map((v, e) => (na * v + nb * b[e]) / (na + nb));
  const k = m === 3 && mom.Q ? mom.Q.cols : dx;
  const cp = m === 2 ? tied2(new Tensor([dy, dx, dx], mean(mom.T2[0], mom.T2[1])), dh, seed) : tiedCPOrder(mean(mom.T3[0], mom.T3[1]), dy, k, 3, dh, seed);
  const Q = m === 3 ? mom.Q : null;
  const { A1, norms } = liftDirections(cp.dirs, Q, dx);
  const comps = new Matrix(dh, dy);
  for (let j = 0; j < dh; j++) for (let i = 0; i < dy; i++) comps.data[j * dy + i] = cp.comps.get(i, j) * norms[j] ** m;
  return { A1, comps, cpResidual: cp.residual };
}

/** Û in the unit gauge (the P2′ formula with `lead` for σ^(m)); see the file comment. */
export function unitGaugeU(C: Float64Array, T1: Float64Array, G: Matrix, comps: Matrix, lead: number): Matrix {
  const dh = comps.rows, dy = comps.cols, dx = G.rows;
  const onComp = (j: number, vec: (i: number) => number): number => {
    let num = 0, den = 0;
    for (let i = 0; i < dy; i++) {
      num += vec(i) * comps.data[j * dy + i];
      den += comps.data[j * dy + i] ** 2;
    }
    return (num / den) * lead; // coefficient on A2t^(j) = comps_j / lead
  };
  const U = new Matrix(dh, dh);
  for (let k = 0; k < dh; k++) {
    const nu = onComp(k, (i) => {
      let v = 0;
      for (let a = 0; a < dx; a++) v += T1[i * dx + a] * G.get(a, k);
      return v;
    });
    for (let j = 0; j < dh; j++) U.data[j * dh + k] = onComp(j, (i) => C[(i * dh + j) * dh + k]) / (lead * nu);
  }
  return U;
}

/**
 * Factor F_jk = ω_jk μ_k / (μ_j ν_k) of the moment route on a model's own pre-activations z_t = A1 x_t + U h_{t−1}:
 * μ over all steps, ν over t ≤ L−2, ω over t ≥ 1 (the steps of T3, T1 and the mixed moment).
 */
export function uFactor(p: IORNNParams, chunks: readonly SequenceChunk[], m: number): Float64Array | null {
  const dh = p.A1.rows, dx = p.A1.cols;
  const mu = new Float64Array(dh), nu = new Float64Array(dh), om = new Float64Array(dh * dh);
  let nMu = 0, nNu = 0, nOm = 0;
  for (const c of chunks) {
    let hidden: Float64Array;
    try {
      hidden = forwardIORNN(p, c).hidden;
    } catch {
      return null;
    }
    const z = new Float64Array(c.rows * dh);
    let r = 0;
    for (let s = 0; s < c.lengths.length; s++) {
      const L = c.lengths[s];
      for (let t = 0; t < L; t++, r++) {
        for (let j = 0; j < dh; j++) {
          let v = 0;
          for (let a = 0; a < dx; a++) v += p.A1.data[j * dx + a] * c.x[r * dx + a];
          if (t > 0) for (let k = 0; k < dh; k++) v += p.U.data[j * dh + k] * hidden[(r - 1) * dh + k];
          z[r * dh + j] = v;
          mu[j] += activationDerivative(p.activation, v, m);
          if (t <= L - 2) nu[j] += activationDerivative(p.activation, v, 1);
        }
        nMu++;
        if (t <= L - 2) nNu++;
        if (t >= 1) {
          for (let j = 0; j < dh; j++) {
            const dm = activationDerivative(p.activation, z[r * dh + j], m);
            for (let k = 0; k < dh; k++) om[j * dh + k] += dm * activationDerivative(p.activation, z[(r - 1) * dh + k], 1);
          }
          nOm++;
        }
      }
    }
  }
  const F = new Float64Array(dh * dh);
  for (let j = 0; j < dh; j++) for (let k = 0; k < dh; k++) F[j * dh + k] = (om[j * dh + k] / nOm) * (mu[k] / nMu) / ((mu[j] / nMu) * (nu[k] / nNu));
  return F.every(Number.isFinite) ? F : null;
}

export type UStart = 'moment' | 'surrogate' | 'zero';

export interface SmoothStart {
  start: UStart;
  params: IORNNParams;
  /** MSE of the start (output layer by least squares) on the scale-fit sample. */
  mse: number;
  alpha: number[];
  /** Moment route: the largest |log F_jk| of the last correction (how far the surrogate's factor 1 is off). */
  maxLogFactor?: number;
}

/** Neuron scales by least squares, then A2, b by least squares on `chunks` (the true σ). */
function scaled(unit: IORNNParams, m: number, sample: SequenceChunk[], signSym: boolean): { p: IORNNParams; mse: number; alpha: Float64Array } {
  const sf = fitScales(unit, m, sample, signSym);
  const p = applyScales(unit, sf.alpha, m);
  // Every trial scale blew the states up: no output layer exists for this start; it is reported with MSE ∞ and
  // loses to any finite start (the pipeline's stability check has the U = 0 fallback if every start is like that).
  if (!Number.isFinite(sf.mse)) return { p, mse: Infinity, alpha: sf.alpha };
  const out = fitOutputLayer(p, sample);
  return { p: { ...p, A2: out.A2, b: out.b }, mse: sf.mse, alpha: sf.alpha };
}

/** The three U starts from the unit-gauge pieces (see the file comment). */
export function smoothStarts(
  act: Activation, m: 2 | 3, A1: Matrix, Uunit: Matrix, comps: Matrix, yMean: Float64Array, sample: SequenceChunk[], which: UStart[] = ['moment'], iterations = 2,
): SmoothStart[] {
  const dh = A1.rows;
  const signSym = activationSymmetry(act) === 'odd';
  const base = (U: Matrix): IORNNParams => ({ kind: 'iornn', A1, U, A2: comps, b: yMean.slice(), activation: act });
  const out: SmoothStart[] = [];
  const lead = activationDerivative(act, 0, m);
  for (const w of which) {
    if (w === 'zero') {
      const s = scaled(base(new Matrix(dh, dh)), m, sample, signSym);
      out.push({ start: w, params: s.p, mse: s.mse, alpha: Array.from(s.alpha) });
    } else if (w === 'surrogate') {
      if (lead === 0) continue; // σ^(m)(0) = 0: no surrogate of this order (e.g. tanh, m = 2)
      const s = scaled(base(new Matrix(dh, dh, Uunit.data.map((v) => v / lead))), m, sample, signSym);
      out.push({ start: w, params: s.p, mse: s.mse, alpha: Array.from(s.alpha) });
    } else {
      // Start from lead = σ^(m)(0) (or 1 when it vanishes), then divide out the factor evaluated on the fitted model
      // and refit the scales (they move with U: keeping them fixed made the corrected start worse in the bench).
      const l0 = lead !== 0 ? lead : 1;
      let s = scaled(base(new Matrix(dh, dh, Uunit.data.map((v) => v / l0))), m, sample, signSym);
      let maxLog = 0;
      for (let it = 0; it < iterations; it++) {
        const F = uFactor(s.p, sample, m);
        // A factor of 0 (σ^(m) of saturated pre-activations underflows, e.g. tanh far out) would put ±∞ into U.
        if (!F || Uunit.data.some((v, e) => !Number.isFinite(v / F[e]))) break;
        // U_true = U_est / F with U_est = diag(α) Uunit diag(α)^{−m}: elementwise factors commute with diagonal scaling.
        maxLog = Math.max(...Array.from(F, (f) => Math.abs(Math.log(Math.abs(f)))));
        const next = scaled(base(new Matrix(dh, dh, Uunit.data.map((v, e) => v / F[e]))), m, sample, signSym);
        if (!(next.mse <= s.mse * 1.5)) break; // the correction made things clearly worse: keep the last
        s = next;
      }
      out.push({ start: w, params: s.p, mse: s.mse, alpha: Array.from(s.alpha), maxLogFactor: maxLog });
    }
  }
  return out;
}

