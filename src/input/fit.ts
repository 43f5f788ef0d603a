import { Matrix, matmul, matmulNT } from '../linalg/matrix.js';
import { spectralRadius } from '../linalg/lyapunov.js';
import { DataSource, SequenceChunk } from '../io/dataset.js';
import { GaussianVAR1 } from './gaussian.js';
import { spdCond, spdInverse, symmetrizeInPlace } from './spd.js';
import { VAR1Stats } from './var1-stats.js';

// The sufficient statistics live in ./var1-stats.ts; re-exported here for existing importers.
export { VAR1Stats };

/** How Gaussian and how well-posed the fitted input model is (docs/method.md §5 step 1 "report its diagnostics"). */
export interface InputDiagnostics {
  kind: 'iid' | 'var1';
  steps: number;
  transitions: number;
  sequences: number;
  /** Spectral radius of F̂ (0 for i.i.d.); ≥ 1 means not stationary. */
  spectralRadius: number;
  /** Condition numbers (λmax/λmin) of Q̂, Σ̂ and of the regressor Gram matrix C00 (1 for i.i.d.). */
  condQ: number;
  condSigma: number;
  condRegressors: number;
  /** Per coordinate: skewness and excess kurtosis of the residuals ε̂_t (x_t − μ̂ for i.i.d.). 0 for Gaussian. */
  residualSkewness: number[];
  residualExcessKurtosis: number[];
  /** Standard errors of those under Gaussianity: √(6/N) and √(24/N). */
  skewnessSE: number;
  kurtosisSE: number;
  maxAbsSkewness: number;
  maxAbsExcessKurtosis: number;
}

export interface FitInputResult {
  model: GaussianVAR1;
  diagnostics: InputDiagnostics;
  warnings: string[];
}

export interface FitInputOptions {
  /** Fit the i.i.d. model (F = 0) instead of VAR(1). */
  iid?: boolean;
  /** Run the second pass for residual skewness/kurtosis (default true). */
  diagnostics?: boolean;
}

/** Least-squares estimates from merged statistics (no diagnostics pass). */
export function estimateVAR1(
  stats: VAR1Stats,
  opts: { iid?: boolean; columnNames?: readonly string[] } = {},
): { model: GaussianVAR1; warnings: string[]; condRegressors: number; spectralRadius: number } {
  const dx = stats.dx;
  const warnings: string[] = [];
  // A constant input has no density (zero variance): say which column before any inversion fails.
  for (let a = 0; a < dx; a++) {
    const v = stats.n > 0 ? stats.M2[a * dx + a] / stats.n : 0;
    const scale = Math.max(1, Math.abs(stats.mean[a]));
    if (stats.n > 1 && !(v > 1e-24 * scale * scale)) {
      const name = opts.columnNames?.[a] ?? `x${a + 1}`;
      throw new Error(`input model fit: input column "${name}" is constant (value ${stats.mean[a]}); a constant input carries no information and has no Gaussian score — drop the column`);
    }
  }
  if (opts.iid) {
    if (stats.n < dx + 1) {
      throw new Error(`input model fit: need at least dx+1 = ${dx + 1} steps to fit an i.i.d. Gaussian with dx=${dx}, got ${stats.n}`);
    }
    const Sigma = new Matrix(dx, dx, stats.M2.map((v) => v / stats.n));
    spdInverse(Sigma, 'input model fit: covariance of x', 1e12);
    return { model: GaussianVAR1.iid(stats.mean, Sigma), warnings, condRegressors: 1, spectralRadius: 0 };
  }
  const m = stats.m;
  if (m < dx + 2) {
    throw new Error(
      `input model fit: need at least dx+2 = ${dx + 2} transitions (pairs of consecutive steps within a sequence) to fit a VAR(1) with dx=${dx}, ` +
        `got ${m} (${stats.sequences} sequences, ${stats.n} steps); supply longer sequences or fit the i.i.d. model`,
    );
  }
  const mu = stats.mean;
  const D = 2 * dx;
  const C00 = new Matrix(dx, dx), C10 = new Matrix(dx, dx), C11 = new Matrix(dx, dx);
  const pm = stats.pairMean, M2 = stats.pairM2;
  for (let a = 0; a < dx; a++) {
    const pa = pm[a] - mu[a], ca = pm[dx + a] - mu[a];
    for (let b = 0; b < dx; b++) {
      const pb = pm[b] - mu[b], cb = pm[dx + b] - mu[b];
      C00.data[a * dx + b] = M2[a * D + b] + m * pa * pb;
      C10.data[a * dx + b] = M2[(dx + a) * D + b] + m * ca * pb;
      C11.data[a * dx + b] = M2[(dx + a) * D + dx + b] + m * ca * cb;
    }
  }
  const c00 = spdInverse(C00, 'input model fit: Gram matrix of the lagged inputs x_{t−1} (inputs are collinear or constant)', 1e13);
  const F = matmul(C10, c00.inv);
  const Q = matmulNT(F, C10);
  for (let i = 0; i < Q.data.length; i++) Q.data[i] = (C11.data[i] - Q.data[i]) / m;
  symmetrizeInPlace(Q.data, dx);
  // Clear error for singular noise covariance (collinear / deterministic inputs) before anything else.
  spdInverse(Q, 'input model fit: noise covariance Q̂ (some input is a deterministic linear function of the others or of the past)', 1e12);
  const rho = spectralRadius(F);
  let model: GaussianVAR1;
  if (!(rho < 1)) {
    warnings.push(
      `input model: fitted transition F is not stable (spectral radius ${rho.toFixed(4)} ≥ 1), so the input is not stationary; ` +
        'using the empirical covariance of all steps as Σ for the first step. Consider differencing the inputs.',
    );
    const Sigma = new Matrix(dx, dx, stats.M2.map((v) => v / stats.n));
    model = new GaussianVAR1(mu, F, Q, Sigma);
  } else {
    if (rho > 0.98) warnings.push(`input model: fitted transition F is close to a unit root (spectral radius ${rho.toFixed(4)}); the stationary covariance is ill-determined`);
    model = new GaussianVAR1(mu, F, Q);
  }
  return { model, warnings, condRegressors: c00.cond, spectralRadius: rho };
}

/**
 * Per-coordinate residual moment sums Σe, Σe², Σe³, Σe⁴ for the Gaussianity diagnostics (mergeable).
 * Residual of step t: ε_t = c_t − F c_{t−1} for t ≥ 1 (VAR) or c_t (i.i.d., every step).
 */
export class ResidualMoments {
  readonly dx: number;
  count = 0;
  readonly sums: Float64Array; // 4·dx: [Σe, Σe², Σe³, Σe⁴]
  constructor(dx: number) {
    this.dx = dx;
    this.sums = new Float64Array(4 * dx);
  }
  add(model: GaussianVAR1, chunk: SequenceChunk): this {
    const dx = this.dx, x = chunk.x, mu = model.mean, F = model.F.data, S = this.sums;
    const e = new Float64Array(dx), cp = new Float64Array(dx);
    const iid = model.isIID;
    let row = 0;
    for (let k = 0; k < chunk.lengths.length; k++) {
      const L = chunk.lengths[k];
      for (let t = iid ? 0 : 1; t < L; t++) {
        const r = (row + t) * dx, p = r - dx;
        if (!iid) for (let b = 0; b < dx; b++) cp[b] = x[p + b] - mu[b];
        for (let a = 0; a < dx; a++) {
          let v = x[r + a] - mu[a];
          if (!iid) for (let b = 0; b < dx; b++) v -= F[a * dx + b] * cp[b];
          e[a] = v;
        }
        addPowerSums(S, e, dx);
        this.count++;
      }
      row += L;
    }
    return this;
  }
  merge(o: ResidualMoments): this {
    for (let i = 0; i < this.sums.length; i++) this.sums[i] += o.sums[i];
    this.count += o.count;
    return this;
  }
  /** Skewness and excess kurtosis per coordinate (central moments from the raw sums). */
  result(): { skewness: number[]; excessKurtosis: number[] } {
    const dx = this.dx, N = this.count, S = this.sums;
    const skewness: number[] = [], excessKurtosis: number[] = [];
    for (let a = 0; a < dx; a++) {
      const m1 = S[a] / N, r2 = S[dx + a] / N, r3 = S[2 * dx + a] / N, r4 = S[3 * dx + a] / N;
      const m2 = r2 - m1 * m1;
      const m3 = r3 - 3 * m1 * r2 + 2 * m1 ** 3;
      const m4 = r4 - 4 * m1 * r3 + 6 * m1 * m1 * r2 - 3 * m1 ** 4;
      skewness.push(m2 > 0 ? m3 / m2 ** 1.5 : 0);
      excessKurtosis.push(m2 > 0 ? m4 / (m2 * m2) - 3 : 0);
    }
    return { skewness, excessKurtosis };
  }
}

function isDataSource(s: unknown): s is DataSource {
  return typeof s === 'object' && s !== null && typeof (s as DataSource).chunks === 'function';
}

async function* iterate(source: DataSource | SequenceChunk | SequenceChunk[]): AsyncGenerator<SequenceChunk> {
  if (isDataSource(source)) {
    for await (const c of source.chunks()) yield c;
  } else if (Array.isArray(source)) {
    for (const c of source) yield c;
  } else yield source;
}

/**
 * Fit the Gaussian VAR(1) (or i.i.d. with `iid: true`) input model by least squares over all
 * sequences, streaming over the chunks (docs/method.md §3). Makes a second pass for the residual
 * Gaussianity diagnostics unless `diagnostics: false`.
 *
 * Throws (one-line message) on: non-finite inputs; too little data (fewer than dx+2 transitions for
 * VAR(1), fewer than dx+1 steps for i.i.d.); a singular noise covariance or collinear regressors.
 * Warns (in `warnings`) when F̂ is not stable (spectral radius ≥ 1) or near a unit root, when Q̂ is
 * badly conditioned, and when the residuals look clearly non-Gaussian.
 */
export async function fitVAR1(source: DataSource | SequenceChunk | SequenceChunk[], opts: FitInputOptions = {}): Promise<FitInputResult> {
  let stats: VAR1Stats | null = null;
  for await (const c of iterate(source)) {
    if (stats === null) stats = new VAR1Stats(c.dx);
    stats.add(c);
  }
  if (stats === null) throw new Error('input model fit: the data source yielded no chunks');
  const est = estimateVAR1(stats, opts);
  let res: ResidualMoments | null = null;
  if (opts.diagnostics !== false) {
    res = new ResidualMoments(stats.dx);
    for await (const c of iterate(source)) res.add(est.model, c);
  }
  return finishFit(stats, est, res, !!opts.iid);
}

/** Synchronous variant over in-memory chunks. */
export function fitVAR1Sync(chunks: SequenceChunk | SequenceChunk[], opts: FitInputOptions = {}): FitInputResult {
  const list = Array.isArray(chunks) ? chunks : [chunks];
  if (list.length === 0) throw new Error('input model fit: no chunks');
  const stats = new VAR1Stats(list[0].dx);
  for (const c of list) stats.add(c);
  const est = estimateVAR1(stats, opts);
  let res: ResidualMoments | null = null;
  if (opts.diagnostics !== false) {
    res = new ResidualMoments(stats.dx);
    for (const c of list) res.add(est.model, c);
  }
  return finishFit(stats, est, res, !!opts.iid);
}

/**
 * Assemble the public fit result (diagnostics + warnings) from merged statistics, the least-squares
 * estimate and (optionally) the residual moments — for callers that run their own (e.g. parallel) passes.
 */
export function finishFit(stats: VAR1Stats, est: ReturnType<typeof estimateVAR1>, res: ResidualMoments | null, iid: boolean): FitInputResult {
  const { model } = est;
  const warnings = [...est.warnings];
  const N = res ? res.count : 0;
  const mom = res && N > 0 ? res.result() : { skewness: [] as number[], excessKurtosis: [] as number[] };
  const skewnessSE = N > 0 ? Math.sqrt(6 / N) : NaN;
  const kurtosisSE = N > 0 ? Math.sqrt(24 / N) : NaN;
  const maxAbsSkewness = mom.skewness.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const maxAbsExcessKurtosis = mom.excessKurtosis.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  if (N > 0) {
    // Practical thresholds AND statistical significance, so large clean samples do not warn on noise.
    const badS = mom.skewness.map((v, a) => (Math.abs(v) > Math.max(0.3, 5 * skewnessSE) ? a : -1)).filter((a) => a >= 0);
    const badK = mom.excessKurtosis.map((v, a) => (Math.abs(v) > Math.max(0.5, 5 * kurtosisSE) ? a : -1)).filter((a) => a >= 0);
    if (badS.length + badK.length > 0) {
      warnings.push(
        `input model: residuals look non-Gaussian (max |skewness| ${maxAbsSkewness.toFixed(3)}, max |excess kurtosis| ${maxAbsExcessKurtosis.toFixed(3)} ` +
          `in coordinates ${[...new Set([...badS, ...badK])].map((a) => 'x' + (a + 1)).join(', ')}); Gaussian score functions make the moments biased for such inputs`,
      );
    }
  }
  if (model.condQ > 1e8) warnings.push(`input model: noise covariance is badly conditioned (cond ${model.condQ.toExponential(2)}); scores amplify the smallest-variance directions`);
  const diagnostics: InputDiagnostics = {
    kind: iid ? 'iid' : 'var1',
    steps: stats.n,
    transitions: stats.m,
    sequences: stats.sequences,
    spectralRadius: est.spectralRadius,
    condQ: model.condQ,
    condSigma: iid ? model.condQ : spdCond(model.Sigma),
    condRegressors: est.condRegressors,
    residualSkewness: mom.skewness,
    residualExcessKurtosis: mom.excessKurtosis,
    skewnessSE,
    kurtosisSE,
    maxAbsSkewness,
    maxAbsExcessKurtosis,
  };
  return { model, diagnostics, warnings };
}

/** S[m·dx + a] += e_a^(m+1) for m = 0..3: the sums behind residual skewness and kurtosis (4·dx entries). */
export function addPowerSums(S: Float64Array, e: Float64Array, dx: number): void {
  for (let a = 0; a < dx; a++) {
    const v = e[a], v2 = v * v;
    S[a] += v;
    S[dx + a] += v2;
    S[2 * dx + a] += v2 * v;
    S[3 * dx + a] += v2 * v2;
  }
}
