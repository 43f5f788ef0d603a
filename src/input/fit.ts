import { kernels, pad4 } from '../linalg/kernels/arena.js';
import { Matrix, matmul, matmulNT } from '../linalg/matrix.js';
import { spectralRadius } from '../linalg/lyapunov.js';
import { DataSource, SequenceChunk } from '../io/dataset.js';
import { GaussianVAR1 } from './gaussian.js';
import { spdCond, spdInverse, symmetrizeInPlace } from './spd.js';

/**
 * Fitting the Gaussian VAR(1) / i.i.d. input model (docs/method.md §3, §5 step 1) by least squares, streaming
 * over chunks with mergeable sufficient statistics.
 *
 * Statistics kept (all numerically stable, merged with Chan et al.'s pairwise update, so adding chunks
 * in any grouping gives the same result up to rounding):
 *   n steps, their mean x̄ and centred comoment Σ_t (x_t − x̄)(x_t − x̄)ᵀ;
 *   m transitions (pairs of consecutive steps z_t = [x_{t−1}; x_t] within a sequence), their mean and
 *   centred comoment (2dx×2dx).
 * Estimates: μ = x̄ (common mean of all steps); with c = x − μ,
 *   C00 = Σ c_{t−1} c_{t−1}ᵀ, C10 = Σ c_t c_{t−1}ᵀ, C11 = Σ c_t c_tᵀ over transitions (from the pair
 *   statistics by the shift formula), F = C10 C00⁻¹, Q = (C11 − F C10ᵀ)/m, Σ from Σ = FΣFᵀ + Q.
 * i.i.d.: F = 0, Q = Σ = comoment/n.
 */
export class VAR1Stats {
  readonly dx: number;
  n = 0;
  m = 0;
  sequences = 0;
  readonly mean: Float64Array;
  readonly M2: Float64Array;
  readonly pairMean: Float64Array;
  readonly pairM2: Float64Array;

  constructor(dx: number) {
    if (!Number.isInteger(dx) || dx < 1) throw new RangeError(`VAR1Stats: dx must be a positive integer, got ${dx}`);
    this.dx = dx;
    this.mean = new Float64Array(dx);
    this.M2 = new Float64Array(dx * dx);
    this.pairMean = new Float64Array(2 * dx);
    this.pairM2 = new Float64Array(4 * dx * dx);
  }

  /** Add all sequences of a chunk. Throws on non-finite values (naming row and column). */
  add(chunk: SequenceChunk): this {
    const dx = this.dx;
    if (chunk.dx !== dx) throw new RangeError(`VAR1Stats.add: chunk has dx=${chunk.dx}, expected ${dx}`);
    const x = chunk.x, N = chunk.rows * dx;
    // Finiteness: one sum over the chunk (NaN/±Inf propagate), the row-by-row scan only when it is not finite.
    const colSum = new Float64Array(dx);
    for (let r = 0; r < chunk.rows; r++) for (let a = 0; a < dx; a++) colSum[a] += x[r * dx + a];
    let total = 0;
    for (let a = 0; a < dx; a++) total += colSum[a];
    if (!Number.isFinite(total)) {
      for (let i = 0; i < N; i++) {
        if (!Number.isFinite(x[i])) {
          throw new Error(`input model fit: x has a non-finite value (${x[i]}) at row ${Math.floor(i / dx)} of the chunk, column x${(i % dx) + 1}; clean or drop such rows first`);
        }
      }
    }
    if (chunk.rows === 0) return this;
    // Batch statistics in one more pass, about the chunk mean x̄ (e = x − x̄): Σ e eᵀ over all rows, the lag
    // cross-products Σ_t e_t e_{t−1}ᵀ over transitions, and e, e eᵀ of every first and last step. The pair
    // statistics of z_t = [x_{t−1}; x_t] follow: transitions see every row but the last of each sequence as
    // x_{t−1} and every row but the first as x_t. Then a Chan merge.
    const n = chunk.rows;
    const shift = new Float64Array(dx);
    for (let a = 0; a < dx; a++) shift[a] = colSum[a] / n;
    const S = new Float64Array(dx * dx), X10 = new Float64Array(dx * dx);
    const sumE = new Float64Array(dx), sumFirst = new Float64Array(dx), sumLast = new Float64Array(dx);
    const SFirst = new Float64Array(dx * dx), SLast = new Float64Array(dx * dx);
    // Σ e, Σ e eᵀ and the lag products Σ_{t>0} e_t e_{t−1}ᵀ as GEMMs over the chunk on the kernel arena: E holds
    // the centred rows (padded to a multiple of 4), E0 the same with each sequence's first row zeroed, so
    // E0[1..]ᵀ·E[..−1] sums exactly the within-sequence transitions.
    const ld = pad4(dx);
    const K = kernels(), mark = K.mark();
    let m = 0;
    try {
      const E = K.alloc(n * ld), E0 = K.alloc(n * ld), g = K.alloc(ld * ld), x10 = K.alloc(ld * ld), se = K.alloc(ld);
      const H = K.heap;
      for (let r = 0; r < n; r++) {
        const xo = r * dx, o = E + r * ld, o0 = E0 + r * ld;
        for (let a = 0; a < dx; a++) H[o0 + a] = H[o + a] = x[xo + a] - shift[a];
      }
      let row = 0;
      for (let k = 0; k < chunk.lengths.length; k++) {
        H.fill(0, E0 + row * ld, E0 + row * ld + ld);
        row += chunk.lengths[k];
      }
      K.gemm(ld, ld, n, E, 1, ld, E, ld, g, ld);
      if (n > 1) K.gemm(ld, ld, n - 1, E0 + ld, 1, ld, E, ld, x10, ld);
      K.colSums(n, dx, E, ld, se);
      for (let a = 0; a < dx; a++) {
        sumE[a] = H[se + a];
        for (let c = 0; c < dx; c++) {
          S[a * dx + c] = H[g + a * ld + c];
          X10[a * dx + c] = H[x10 + a * ld + c];
        }
      }
    } finally {
      K.release(mark);
    }
    let row = 0;
    for (let k = 0; k < chunk.lengths.length; k++) {
      const L = chunk.lengths[k];
      row += L;
      if (L > 0) {
        m += L - 1;
        const fo = (row - L) * dx, lo = (row - 1) * dx;
        for (let a = 0; a < dx; a++) {
          const fa = x[fo + a] - shift[a], la = x[lo + a] - shift[a];
          sumFirst[a] += fa;
          sumLast[a] += la;
          for (let c = a; c < dx; c++) {
            SFirst[a * dx + c] += fa * (x[fo + c] - shift[c]);
            SLast[a * dx + c] += la * (x[lo + c] - shift[c]);
          }
        }
      }
    }
    return this.merge(VAR1Stats.fromCentredSums(dx, { n, sequences: chunk.lengths.length, m, shift, sumE, S, X10, sumFirst, sumLast, SFirst, SLast }));
  }

  /**
   * Statistics of n steps (in `sequences` sequences, m transitions) from their sums about `shift` (e = x − shift):
   * Σ e, Σ e eᵀ (upper triangle read), the lag products X10 = Σ_{t>0} e_t e_{t−1}ᵀ, and Σ e, Σ e eᵀ (upper) of every
   * first and last step. `add` builds its chunk's statistics with it; the SQL engines build them from one
   * aggregate query (src/sql/passes.ts).
   */
  static fromCentredSums(
    dx: number,
    c: {
      n: number;
      sequences: number;
      m: number;
      shift: Float64Array;
      sumE: Float64Array;
      S: Float64Array;
      X10: Float64Array;
      sumFirst: Float64Array;
      sumLast: Float64Array;
      SFirst: Float64Array;
      SLast: Float64Array;
    },
  ): VAR1Stats {
    const { n, m, shift, sumE, S, X10, sumFirst, sumLast, SFirst, SLast } = c;
    const b = new VAR1Stats(dx);
    b.n = n;
    b.sequences = c.sequences;
    const D = 2 * dx;
    // Mean and centred comoment of all steps: Σ (e − ē)(e − ē)ᵀ = Σ e eᵀ − n ē ēᵀ.
    for (let a = 0; a < dx; a++) b.mean[a] = shift[a] + sumE[a] / n;
    for (let a = 0; a < dx; a++) for (let c = a; c < dx; c++) b.M2[a * dx + c] = S[a * dx + c] - (sumE[a] * sumE[c]) / n;
    symmetrizeUpper(b.M2, dx);
    b.m = m;
    if (m > 0) {
      // Pair means (offsets d from the shift) and the centred pair comoment, block by block.
      const d = new Float64Array(D);
      for (let a = 0; a < dx; a++) {
        d[a] = (sumE[a] - sumLast[a]) / m;
        d[dx + a] = (sumE[a] - sumFirst[a]) / m;
        b.pairMean[a] = shift[a] + d[a];
        b.pairMean[dx + a] = shift[a] + d[dx + a];
      }
      const P = b.pairM2;
      for (let a = 0; a < dx; a++) {
        for (let c = a; c < dx; c++) {
          const s = S[a * dx + c];
          P[a * D + c] = s - SLast[a * dx + c] - m * d[a] * d[c];
          P[(dx + a) * D + dx + c] = s - SFirst[a * dx + c] - m * d[dx + a] * d[dx + c];
        }
        for (let c = 0; c < dx; c++) P[(dx + a) * D + c] = X10[a * dx + c] - m * d[dx + a] * d[c];
      }
      for (let a = 0; a < dx; a++) for (let c = 0; c < dx; c++) P[c * D + dx + a] = P[(dx + a) * D + c];
      symmetrizeUpper(P, D);
    }
    return b;
  }

  /** this ← this ∪ other (Chan's pairwise update). */
  merge(o: VAR1Stats): this {
    if (o.dx !== this.dx) throw new RangeError(`VAR1Stats.merge: dx ${o.dx} vs ${this.dx}`);
    chanMerge(this.n, this.mean, this.M2, o.n, o.mean, o.M2);
    chanMerge(this.m, this.pairMean, this.pairM2, o.m, o.pairMean, o.pairM2);
    this.n += o.n;
    this.m += o.m;
    this.sequences += o.sequences;
    return this;
  }

  /** Flat state for worker transfer: [n, m, sequences, mean, M2, pairMean, pairM2]. */
  toState(): Float64Array {
    const s = new Float64Array(3 + this.mean.length + this.M2.length + this.pairMean.length + this.pairM2.length);
    s[0] = this.n;
    s[1] = this.m;
    s[2] = this.sequences;
    let o = 3;
    for (const a of [this.mean, this.M2, this.pairMean, this.pairM2]) {
      s.set(a, o);
      o += a.length;
    }
    return s;
  }

  static fromState(dx: number, s: Float64Array): VAR1Stats {
    const r = new VAR1Stats(dx);
    if (s.length !== 3 + dx + dx * dx + 2 * dx + 4 * dx * dx) throw new RangeError('VAR1Stats.fromState: state length does not match dx');
    r.n = s[0];
    r.m = s[1];
    r.sequences = s[2];
    let o = 3;
    for (const a of [r.mean, r.M2, r.pairMean, r.pairM2]) {
      a.set(s.subarray(o, o + a.length));
      o += a.length;
    }
    return r;
  }
}

function symmetrizeUpper(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[i * n + j] = a[j * n + i];
}

/** (nA, meanA, M2A) ← merged with (nB, meanB, M2B); n is updated by the caller. */
function chanMerge(nA: number, meanA: Float64Array, M2A: Float64Array, nB: number, meanB: Float64Array, M2B: Float64Array): void {
  if (nB === 0) return;
  const d = meanA.length;
  if (nA === 0) {
    meanA.set(meanB);
    M2A.set(M2B);
    return;
  }
  const n = nA + nB;
  const delta = new Float64Array(d);
  for (let i = 0; i < d; i++) delta[i] = meanB[i] - meanA[i];
  const f = (nA * nB) / n;
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) M2A[i * d + j] += M2B[i * d + j] + f * delta[i] * delta[j];
  for (let i = 0; i < d; i++) meanA[i] += (delta[i] * nB) / n;
}

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
