import { spectralRadius } from '../linalg/lyapunov.js';
import { DataSource, SequenceChunk } from '../io/dataset.js';
import { GaussianVAR1 } from './gaussian.js';
import { FitInputResult, fitVAR1 } from './fit.js';
import { fastICA } from './ica.js';
import { Mixture1D, selectMixture1D } from './mixture1d.js';
import { fitSteinPoly } from './stein-poly.js';

function excessKurtosis(z: Float64Array): number {
  const n = z.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += z[i];
  m /= n;
  let m2 = 0, m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = (z[i] - m) ** 2;
    m2 += d;
    m4 += d * d;
  }
  m2 /= n;
  m4 /= n;
  return m4 / (m2 * m2) - 3;
}

import { MixtureVAR1 } from './var1-mixture.js';

/**
 * `--input-model auto` (docs/non-gaussian-inputs.md): fit the Gaussian VAR(1) by least squares, test its
 * residuals for Gaussianity, and keep it when they pass; otherwise fit the non-Gaussian VAR(1) of
 * src/input/var1-mixture.ts on the same F and μ (independent components of the residuals, one 1-D Gaussian
 * mixture per component, the number of components by BIC).
 *
 * The test: per residual coordinate a, the Jarque–Bera statistic JB_a = N (S_a²/6 + K_a²/24) (S skewness, K excess
 * kurtosis, N residuals), asymptotically χ²₂ under Gaussianity, so p_a = exp(−JB_a/2). The dx tests are combined
 * by Bonferroni: Gaussian unless some p_a < α/dx (default α = 0.01, so a Gaussian input is mistaken for a
 * non-Gaussian one in at most about 1% of data sets). Why marginal tests: they are what the moments are most
 * sensitive to (the third- and fourth-order cumulants of the innovations enter the score moments), and their
 * null distribution is known; a dependence between Gaussian-marginal coordinates would go unseen (documented).
 */
export interface CoordinateTest {
  column: string;
  skewness: number;
  excessKurtosis: number;
  jb: number;
  pValue: number;
}

export interface MixtureDiagnostics {
  /** Residuals used for the ICA and the EM (an even stride over all transitions). */
  residualsUsed: number;
  ica: { iterations: number; converged: boolean };
  unmixing: number[][];
  /**
   * Per independent component: its excess kurtosis, the scores used ('mixture': the Gaussian mixture with the
   * lowest BIC, whose weights/means/sds and BIC table are given; 'stein-poly': polynomial Stein representers
   * of degree `steinDegree`, for light tails, src/input/stein-poly.ts: coefficients of T_1..T_4 in the standardised
   * variable).
   */
  components: { family: 'mixture' | 'stein-poly'; excessKurtosis: number; steinDegree?: number; weights: number[]; means: number[]; sds: number[]; bic: { components: number; bic: number }[]; steinCoefficients?: number[][] }[];
}

export interface AutoDiagnostics {
  choice: 'gaussian' | 'mixture';
  requested: 'auto' | 'mixture';
  test: 'jarque-bera-bonferroni';
  alpha: number;
  /** Reject Gaussianity when some coordinate's p-value is below this (α / dx). */
  threshold: number;
  transitions: number;
  coordinates: CoordinateTest[];
  mixture?: MixtureDiagnostics;
}

export interface AutoOptions {
  /** 'auto' (default): test first; 'mixture': fit the mixture model regardless. */
  mode?: 'auto' | 'mixture';
  alpha?: number;
  /** Largest number of mixture components per independent component (BIC chooses 1..this; default 4). */
  maxComponents?: number;
  /** At most this many residuals (evenly strided) for ICA and EM (default 20 000). */
  maxResiduals?: number;
  seed?: number;
  columnNames?: readonly string[];
  /**
   * Degree K of the polynomial Stein representers of light-tailed components (src/input/stein-poly.ts; default 4):
   * the degree of the outputs in the current innovation, i.e. the activation's degree (2 for σ = z²).
   */
  steinDegree?: number;
  /** Force one score family for every component (default: by the sign of its excess kurtosis). */
  family?: 'mixture' | 'stein-poly';
}

export interface AutoResult {
  model: GaussianVAR1 | MixtureVAR1;
  gaussian: FitInputResult;
  diagnostics: AutoDiagnostics;
}

/** χ²₂ survival function of the JB statistic. */
export function jarqueBera(skewness: number, excessKurtosis: number, n: number): { jb: number; pValue: number } {
  const jb = n * ((skewness * skewness) / 6 + (excessKurtosis * excessKurtosis) / 24);
  return { jb, pValue: Math.exp(-jb / 2) };
}

/** The Gaussianity decision from the Gaussian fit's residual moments. */
export function gaussianityTest(fit: FitInputResult, alpha = 0.01, columnNames?: readonly string[]): Omit<AutoDiagnostics, 'choice' | 'requested' | 'mixture'> {
  const d = fit.diagnostics, dx = fit.model.dx;
  const n = d.kind === 'iid' ? d.steps : d.transitions;
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`input model auto: alpha must be in (0, 1), got ${alpha}`);
  const coordinates = d.residualSkewness.map((s, a) => ({ column: columnNames?.[a] ?? `x${a + 1}`, skewness: s, excessKurtosis: d.residualExcessKurtosis[a], ...jarqueBera(s, d.residualExcessKurtosis[a], n) }));
  return { test: 'jarque-bera-bonferroni', alpha, threshold: alpha / dx, transitions: n, coordinates };
}

/** Residuals ε_t = c_t − F c_{t−1} of every `stride`-th transition (global transition count), appended to `out`. */
export function collectResiduals(model: GaussianVAR1, chunk: SequenceChunk, stride: number, counter: { k: number }, out: number[]): void {
  const dx = model.dx, x = chunk.x, mu = model.mean, F = model.F.data;
  let row = 0;
  for (const L of chunk.lengths) {
    for (let t = 1; t < L; t++, counter.k++) {
      if (counter.k % stride !== 0) continue;
      const r = (row + t) * dx, p = r - dx;
      for (let a = 0; a < dx; a++) {
        let v = x[r + a] - mu[a];
        for (let b = 0; b < dx; b++) v -= F[a * dx + b] * (x[p + b] - mu[b]);
        out.push(v);
      }
    }
    row += L;
  }
}

/** The non-Gaussian model on the Gaussian fit's μ and F, from a sample of its residuals (n×dx). */
export function fitMixtureVAR1(
  gaussian: GaussianVAR1,
  eps: Float64Array,
  opts: { maxComponents?: number; seed?: number; steinDegree?: number; family?: 'mixture' | 'stein-poly' } = {},
): { model: MixtureVAR1; diagnostics: MixtureDiagnostics } {
  const dx = gaussian.dx, n = eps.length / dx;
  const ica = fastICA(eps, dx, { seed: opts.seed ?? 0 });
  const W = ica.W.data;
  const comps: Mixture1D[] = [];
  const diag: MixtureDiagnostics['components'] = [];
  for (let i = 0; i < dx; i++) {
    // z_i = w_iᵀ ε (the residual mean is absorbed by the mixture means).
    const z = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      let v = 0;
      for (let a = 0; a < dx; a++) v += W[i * dx + a] * eps[r * dx + a];
      z[r] = v;
    }
    const kurt = excessKurtosis(z);
    // Light tails (negative excess kurtosis; bounded support at the extreme) are what a mixture of Gaussians
    // captures worst: its edge components get ever narrower and the score moments ever noisier. Their
    // polynomial moments, on the other hand, are well estimated, so the polynomial Stein representers replace the
    // mixture's scores there (src/input/stein-poly.ts). Heavy tails keep the mixture (its scores are bounded).
    const fam = opts.family ?? (kurt < 0 ? 'stein-poly' : 'mixture');
    if (fam === 'stein-poly') {
      const st = fitSteinPoly(z, opts.steinDegree);
      comps.push({ weights: [1], means: [st.mean], variances: [st.sd * st.sd], stein: st });
      diag.push({ family: fam, excessKurtosis: kurt, weights: [1], means: [st.mean], sds: [st.sd], bic: [], steinDegree: st.coef[0].length - 1, steinCoefficients: st.coef });
    } else {
      const fit = selectMixture1D(z, opts.maxComponents ?? 4);
      comps.push(fit.mixture);
      diag.push({ family: fam, excessKurtosis: kurt, weights: fit.mixture.weights, means: fit.mixture.means, sds: fit.mixture.variances.map(Math.sqrt), bic: fit.candidates.map((c) => ({ components: c.components, bic: c.bic })) });
    }
  }
  // A non-stable F has no stationary covariance: keep the Gaussian fit's (empirical) Σ for the first step then.
  const model = new MixtureVAR1(gaussian.mean, gaussian.F, ica.W, comps, spectralRadius(gaussian.F) < 1 ? undefined : gaussian.Sigma);
  return { model, diagnostics: { residualsUsed: n, ica: { iterations: ica.iterations, converged: ica.converged }, unmixing: ica.W.toArray(), components: diag } };
}

function isSource(s: unknown): s is DataSource {
  return typeof s === 'object' && s !== null && typeof (s as DataSource).chunks === 'function';
}

/**
 * Fit the input model automatically (see the file comment). Streams: the Gaussian fit's two passes, then (only
 * when the mixture is needed) one pass collecting an evenly strided sample of residuals.
 */
export async function fitInputModelAuto(source: DataSource | SequenceChunk | SequenceChunk[], opts: AutoOptions = {}): Promise<AutoResult> {
  const gaussian = await fitVAR1(source);
  const base = gaussianityTest(gaussian, opts.alpha ?? 0.01, opts.columnNames);
  const mode = opts.mode ?? 'auto';
  const nonGaussian = base.coordinates.some((c) => c.pValue < base.threshold);
  if (mode === 'auto' && !nonGaussian) return { model: gaussian.model, gaussian, diagnostics: { ...base, choice: 'gaussian', requested: mode } };
  if (gaussian.model.order === 0) throw new Error('input model auto: the non-Gaussian model needs a VAR(1) fit (the i.i.d. fit has no transitions to model)');
  const maxRes = opts.maxResiduals ?? 20_000;
  const stride = Math.max(1, Math.ceil(gaussian.diagnostics.transitions / maxRes));
  const buf: number[] = [], counter = { k: 0 };
  const chunks = isSource(source) ? source.chunks() : (Array.isArray(source) ? source : [source])[Symbol.iterator]();
  for await (const c of chunks as AsyncIterable<SequenceChunk> | Iterable<SequenceChunk>) collectResiduals(gaussian.model, c, stride, counter, buf);
  const mix = fitMixtureVAR1(gaussian.model, Float64Array.from(buf), opts);
  return { model: mix.model, gaussian, diagnostics: { ...base, choice: 'mixture', requested: mode, mixture: mix.diagnostics } };
}
