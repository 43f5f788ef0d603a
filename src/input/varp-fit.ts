import { Matrix } from '../linalg/matrix.js';
import { DataSource, SequenceChunk, sequencesStarting } from '../io/dataset.js';
import { ownRows } from '../learn/pieces.js';
import { ResidualMoments, addPowerSums } from './fit.js';
import { chanMerge } from './var1-stats.js';
import { spectralRadius } from '../linalg/lyapunov.js';
import { GaussianVARp, companion } from './varp.js';
import { spdInverse, symmetrizeInPlace } from './spd.js';

/**
 * Fitting the Gaussian VAR(p) input model (src/input/varp.ts) by least squares, with the order chosen by BIC
 * over p = 0..maxOrder, streaming over chunks with mergeable sufficient statistics.
 *
 * Statistics (merged with Chan et al.'s pairwise update, so any grouping of chunks gives the same result up to
 * rounding): the n steps' mean and centred comoment (dx), and the m windows z_t = [x_t; x_{t−1}; …; x_{t−P}]
 * (every step t ≥ P of a sequence, P = maxOrder), their mean and centred comoment ((P+1)·dx square).
 * Every order is fitted on the SAME windows, so the BIC values compare like with like:
 *   μ = mean of all steps; C_ij = Σ_windows (x_{t−i} − μ)(x_{t−j} − μ)ᵀ (from the window statistics);
 *   [A_1 … A_p] = C_{0,1:p} C_{1:p,1:p}⁻¹;  Q_p = (C_00 − [A] C_{1:p,0}) / m;
 *   BIC(p) = m log det Q_p + p·dx² log m  (Gaussian conditional likelihood; constants common to all p dropped).
 * The order with the smallest BIC is refitted the same way (p = 0: Σ from all steps). Γ_p of the chosen model
 * comes from the companion Lyapunov equation, or, when the fit is not stationary, from the windows' empirical
 * lag covariances (with a warning).
 */
export class VARpStats {
  readonly dx: number;
  readonly maxOrder: number;
  n = 0;
  m = 0;
  sequences = 0;
  readonly mean: Float64Array;
  readonly M2: Float64Array;
  readonly winMean: Float64Array;
  readonly winM2: Float64Array;

  constructor(dx: number, maxOrder: number) {
    if (!Number.isInteger(dx) || dx < 1) throw new RangeError(`VARpStats: dx must be a positive integer, got ${dx}`);
    if (!Number.isInteger(maxOrder) || maxOrder < 0) throw new RangeError(`VARpStats: maxOrder must be a non-negative integer, got ${maxOrder}`);
    this.dx = dx;
    this.maxOrder = maxOrder;
    const D = (maxOrder + 1) * dx;
    this.mean = new Float64Array(dx);
    this.M2 = new Float64Array(dx * dx);
    this.winMean = new Float64Array(D);
    this.winM2 = new Float64Array(D * D);
  }

  /**
   * Add all sequences of a chunk. Throws on non-finite x. A piece of one long sequence with halo rows
   * (src/learn/pieces.ts, at least maxOrder of them before it) adds its own rows only: the halo rows complete the
   * windows (x_{t−P}, …, x_t) of its first own rows, so every window of the sequence enters once.
   */
  add(chunk: SequenceChunk): this {
    const dx = this.dx, P = this.maxOrder, D = (P + 1) * dx, x = chunk.x;
    if (chunk.dx !== dx) throw new RangeError(`VARpStats.add: chunk has dx=${chunk.dx}, expected ${dx}`);
    if (chunk.rows === 0) return this;
    for (let i = 0; i < chunk.rows * dx; i++) {
      if (!Number.isFinite(x[i])) throw new Error(`input model fit: x has a non-finite value (${x[i]}) at row ${Math.floor(i / dx)} of the chunk, column x${(i % dx) + 1}; clean or drop such rows first`);
    }
    const [r0, r1] = ownRows(chunk), own = r1 - r0;
    // Batch sums about the chunk's step mean (shift), then a Chan merge.
    const shift = new Float64Array(dx);
    for (let r = r0; r < r1; r++) for (let a = 0; a < dx; a++) shift[a] += x[r * dx + a];
    for (let a = 0; a < dx; a++) shift[a] /= own;
    const s1 = new Float64Array(dx), S1 = new Float64Array(dx * dx), w1 = new Float64Array(D), W1 = new Float64Array(D * D);
    const z = new Float64Array(D);
    let m = 0, row = 0;
    for (let k = 0; k < chunk.lengths.length; k++) {
      const L = chunk.lengths[k];
      for (let t = 0; t < L; t++) {
        if (row + t < r0 || row + t >= r1) continue;
        const r = (row + t) * dx;
        for (let a = 0; a < dx; a++) {
          const va = x[r + a] - shift[a];
          s1[a] += va;
          for (let b = 0; b <= a; b++) S1[a * dx + b] += va * (x[r + b] - shift[b]);
        }
        if (t < P) continue;
        for (let i = 0; i <= P; i++) for (let a = 0; a < dx; a++) z[i * dx + a] = x[r - i * dx + a] - shift[a];
        for (let i = 0; i < D; i++) {
          const zi = z[i];
          w1[i] += zi;
          const o = i * D;
          for (let j = 0; j <= i; j++) W1[o + j] += zi * z[j];
        }
        m++;
      }
      row += L;
    }
    mirror(S1, dx);
    mirror(W1, D);
    const stepMean = new Float64Array(dx), stepM2 = new Float64Array(dx * dx);
    centre(own, shift, s1, S1, stepMean, stepM2);
    this.sequences += sequencesStarting(chunk);
    chanMerge(this.n, this.mean, this.M2, own, stepMean, stepM2);
    this.n += own;
    if (m > 0) {
      const zs = new Float64Array(D);
      for (let i = 0; i <= P; i++) zs.set(shift, i * dx);
      const wm = new Float64Array(D), wM2 = new Float64Array(D * D);
      centre(m, zs, w1, W1, wm, wM2);
      chanMerge(this.m, this.winMean, this.winM2, m, wm, wM2);
      this.m += m;
    }
    return this;
  }

  /** Merge another statistics object (same dx and maxOrder) into this one. */
  merge(o: VARpStats): this {
    if (o.dx !== this.dx || o.maxOrder !== this.maxOrder) throw new RangeError(`VARpStats.merge: (dx, maxOrder) = (${o.dx}, ${o.maxOrder}), expected (${this.dx}, ${this.maxOrder})`);
    chanMerge(this.n, this.mean, this.M2, o.n, o.mean, o.M2);
    this.n += o.n;
    chanMerge(this.m, this.winMean, this.winM2, o.m, o.winMean, o.winM2);
    this.m += o.m;
    this.sequences += o.sequences;
    return this;
  }
}

function mirror(S: Float64Array, d: number): void {
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) S[j * d + i] = S[i * d + j];
}

/** From sums about `shift` (s = Σ(v − shift), S = Σ(v − shift)(v − shift)ᵀ over n rows): mean and centred comoment. */
function centre(n: number, shift: Float64Array, s: Float64Array, S: Float64Array, mean: Float64Array, M2: Float64Array): void {
  const d = shift.length;
  for (let i = 0; i < d; i++) mean[i] = shift[i] + s[i] / n;
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) M2[i * d + j] = S[i * d + j] - (s[i] * s[j]) / n;
}

/** What the order selection saw, for the fit's diagnostics. */
export interface VARpDiagnostics {
  kind: 'varp';
  /** Chosen order p. */
  order: number;
  maxOrder: number;
  criterion: 'bic' | 'given';
  /** BIC(p) for p = 0..maxOrder on the common windows (null where the fit was singular). */
  bic: (number | null)[];
  steps: number;
  /** Windows of maxOrder+1 consecutive steps (the common sample of the order selection). */
  windows: number;
  sequences: number;
  /** Spectral radius of the companion matrix (< 1: stationary). */
  spectralRadius: number;
  condQ: number;
  condGamma: number;
  /** Condition number of the regressors' Gram matrix of the chosen order (1 for p = 0). */
  condRegressors: number;
  residualSkewness?: number[];
  residualExcessKurtosis?: number[];
}

export interface VARpFitOptions {
  /** Largest order tried (default 8, lowered when there are too few windows). */
  maxOrder?: number;
  /** Fix the order instead of choosing it by BIC. */
  order?: number;
  columnNames?: readonly string[];
}

export interface VARpFitResult {
  model: GaussianVARp;
  diagnostics: VARpDiagnostics;
  warnings: string[];
}

/** Cross-products about μ of lags i, j (dx×dx) from the window statistics. */
function lagBlock(st: VARpStats, mu: Float64Array, i: number, j: number): Float64Array {
  const dx = st.dx, D = (st.maxOrder + 1) * dx, out = new Float64Array(dx * dx);
  for (let a = 0; a < dx; a++) {
    const da = st.winMean[i * dx + a] - mu[a];
    for (let b = 0; b < dx; b++) out[a * dx + b] = st.winM2[(i * dx + a) * D + j * dx + b] + st.m * da * (st.winMean[j * dx + b] - mu[b]);
  }
  return out;
}

/** Least squares of order p on the common windows: A_1..A_p, Q, log det Q and the regressors' condition number. */
function fitOrder(st: VARpStats, mu: Float64Array, p: number): { A: Matrix[]; Q: Matrix; logdetQ: number; condReg: number } {
  const dx = st.dx, m = st.m, n = p * dx;
  const C00 = lagBlock(st, mu, 0, 0);
  const Q = new Matrix(dx, dx);
  const A: Matrix[] = [];
  let condReg = 1;
  if (p === 0) for (let k = 0; k < dx * dx; k++) Q.data[k] = C00[k] / m;
  else {
    const R = new Matrix(n, n), X = new Matrix(dx, n);
    for (let i = 1; i <= p; i++) {
      const c0i = lagBlock(st, mu, 0, i);
      for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) X.data[a * n + (i - 1) * dx + b] = c0i[a * dx + b];
      for (let j = 1; j <= p; j++) {
        const cij = lagBlock(st, mu, i, j);
        for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) R.data[((i - 1) * dx + a) * n + (j - 1) * dx + b] = cij[a * dx + b];
      }
    }
    symmetrizeInPlace(R.data, n);
    const ri = spdInverse(R, `input model fit: Gram matrix of the lagged inputs for VAR(${p}) (inputs collinear or constant)`, 1e13);
    condReg = ri.cond;
    const AA = new Float64Array(dx * n);
    for (let a = 0; a < dx; a++) for (let c = 0; c < n; c++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += X.data[a * n + k] * ri.inv.data[k * n + c];
      AA[a * n + c] = s;
    }
    for (let i = 0; i < p; i++) {
      const Ai = new Matrix(dx, dx);
      for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) Ai.data[a * dx + b] = AA[a * n + i * dx + b];
      A.push(Ai);
    }
    for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += AA[a * n + k] * X.data[b * n + k];
      Q.data[a * dx + b] = (C00[a * dx + b] - s) / m;
    }
    symmetrizeInPlace(Q.data, dx);
  }
  // A singular innovation covariance makes the scores meaningless: say so before any order is chosen.
  spdInverse(Q, `input model fit: innovation covariance of VAR(${p}) (an input is a deterministic linear function of the others or of its past)`, 1e12);
  const logdetQ = logDetSPD(Q);
  return { A, Q, logdetQ, condReg };
}

/** log det of a small SPD matrix by Cholesky (2 Σ log L_ii). */
function logDetSPD(M: Matrix): number {
  const n = M.rows, L = new Float64Array(n * n);
  let s = 0;
  for (let j = 0; j < n; j++) {
    let d = M.data[j * n + j];
    for (let k = 0; k < j; k++) d -= L[j * n + k] ** 2;
    if (!(d > 0)) return NaN;
    const ljj = Math.sqrt(d);
    L[j * n + j] = ljj;
    s += 2 * Math.log(ljj);
    for (let i = j + 1; i < n; i++) {
      let v = M.data[i * n + j];
      for (let k = 0; k < j; k++) v -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = v / ljj;
    }
  }
  return s;
}

/** Largest order the windows support: at least 10 windows per regression coefficient of each output row. */
export function maxOrderFor(windows: number, dx: number, requested: number): number {
  let p = requested;
  while (p > 0 && windows < 10 * (p * dx + 1)) p--;
  return p;
}

/** The least-squares VAR(p) from merged statistics, order by BIC unless `opts.order` is given. */
export function estimateVARp(st: VARpStats, opts: VARpFitOptions = {}): VARpFitResult {
  const dx = st.dx, warnings: string[] = [];
  for (let a = 0; a < dx; a++) {
    const v = st.n > 0 ? st.M2[a * dx + a] / st.n : 0, scale = Math.max(1, Math.abs(st.mean[a]));
    if (st.n > 1 && !(v > 1e-24 * scale * scale)) {
      const name = opts.columnNames?.[a] ?? `x${a + 1}`;
      throw new Error(`input model fit: input column "${name}" is constant (value ${st.mean[a]}); a constant input carries no information and has no Gaussian score — drop the column`);
    }
  }
  if (st.m < 10 * (dx + 1)) {
    throw new Error(`input model fit: VAR(p) with maxOrder ${st.maxOrder} needs at least ${10 * (dx + 1)} windows of ${st.maxOrder + 1} consecutive steps, got ${st.m} (${st.sequences} sequences, ${st.n} steps); lower maxOrder or supply longer sequences`);
  }
  const usable = maxOrderFor(st.m, dx, st.maxOrder);
  if (usable < st.maxOrder) warnings.push(`input model: only ${st.m} windows, so orders above ${usable} (of maxOrder ${st.maxOrder}) were not tried`);
  const mu = st.mean;
  const bic: (number | null)[] = [];
  let best = -1;
  if (opts.order !== undefined) {
    if (!Number.isInteger(opts.order) || opts.order < 0 || opts.order > st.maxOrder) throw new RangeError(`estimateVARp: order ${opts.order} must be an integer in 0..${st.maxOrder} (the statistics' maxOrder)`);
    best = opts.order;
  } else {
    for (let p = 0; p <= st.maxOrder; p++) {
      if (p > usable) {
        bic.push(null);
        continue;
      }
      try {
        const f = fitOrder(st, mu, p);
        const b = st.m * f.logdetQ + p * dx * dx * Math.log(st.m);
        bic.push(Number.isFinite(b) ? b : null);
        if (Number.isFinite(b) && (best < 0 || b < (bic[best] as number))) best = p;
      } catch {
        bic.push(null);
      }
    }
    if (best < 0) throw new Error('input model fit: no VAR order 0..maxOrder could be fitted (inputs collinear or constant)');
  }
  const f = fitOrder(st, mu, best);
  let Q = f.Q;
  if (best === 0) Q = new Matrix(dx, dx, st.M2.map((v) => v / st.n)); // i.i.d.: all steps, not just the windows
  let model: GaussianVARp;
  let rho = 0;
  if (best === 0) model = new GaussianVARp(mu, [], Q);
  else {
    rho = spectralRadius(companion(f.A));
    if (rho < 1) {
      if (rho > 0.995) warnings.push(`input model: fitted VAR(${best}) is close to a unit root (companion spectral radius ${rho.toFixed(4)}); its stationary covariance is ill-determined`);
      model = new GaussianVARp(mu, f.A, Q);
    } else {
      warnings.push(`input model: fitted VAR(${best}) is not stable (companion spectral radius ${rho.toFixed(4)} ≥ 1); using the empirical lag covariances for the first ${best} steps. Consider differencing the inputs.`);
      const n = best * dx, G = new Matrix(n, n);
      for (let i = 0; i < best; i++)
        for (let j = 0; j < best; j++) {
          const c = lagBlock(st, mu, best - 1 - i, best - 1 - j);
          for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) G.data[(i * dx + a) * n + j * dx + b] = c[a * dx + b] / st.m;
        }
      model = new GaussianVARp(mu, f.A, Q, G);
    }
  }
  if (model.condQ > 1e8) warnings.push(`input model: innovation covariance is badly conditioned (cond ${model.condQ.toExponential(2)}); scores amplify the smallest-variance directions`);
  const diagnostics: VARpDiagnostics = {
    kind: 'varp',
    order: best,
    maxOrder: st.maxOrder,
    criterion: opts.order !== undefined ? 'given' : 'bic',
    bic,
    steps: st.n,
    windows: st.m,
    sequences: st.sequences,
    spectralRadius: rho,
    condQ: model.condQ,
    condGamma: model.condGamma,
    condRegressors: f.condReg,
  };
  return { model, diagnostics, warnings };
}

/**
 * Residual sums (ε_t = c_t − Σ A_i c_{t−i}, every step t ≥ p) into a ResidualMoments, for the Gaussianity check.
 * A piece with halo rows (as in `VARpStats.add`) adds the residuals of its own rows.
 */
export function addVARpResiduals(res: ResidualMoments, model: GaussianVARp, chunk: SequenceChunk): void {
  const dx = model.dx, p = model.order, x = chunk.x, mu = model.mean, S = res.sums;
  const e = new Float64Array(dx);
  const [r0, r1] = ownRows(chunk);
  let row = 0;
  for (let k = 0; k < chunk.lengths.length; k++) {
    const L = chunk.lengths[k];
    for (let t = p; t < L; t++) {
      if (row + t < r0 || row + t >= r1) continue;
      const r = (row + t) * dx;
      for (let a = 0; a < dx; a++) {
        let v = x[r + a] - mu[a];
        for (let i = 1; i <= p; i++) {
          const Ai = model.A[i - 1].data, q = r - i * dx;
          for (let b = 0; b < dx; b++) v -= Ai[a * dx + b] * (x[q + b] - mu[b]);
        }
        e[a] = v;
      }
      addPowerSums(S, e, dx);
      res.count++;
    }
    row += L;
  }
}

async function* iterate(source: DataSource | SequenceChunk[]): AsyncGenerator<SequenceChunk> {
  if (Array.isArray(source)) yield* source;
  else for await (const c of source.chunks()) yield c;
}

/**
 * Fit a Gaussian VAR(p) input model (order by BIC up to maxOrder, default 8) over all sequences, streaming: one
 * pass for the statistics, one for the residual skewness / excess kurtosis (reported in the diagnostics, with a
 * warning when clearly non-Gaussian, since Gaussian scores are then biased).
 */
export async function fitVARp(source: DataSource | SequenceChunk[], opts: VARpFitOptions = {}): Promise<VARpFitResult> {
  let st: VARpStats | null = null;
  for await (const c of iterate(source)) {
    if (st === null) st = new VARpStats(c.dx, opts.maxOrder ?? 8);
    st.add(c);
  }
  if (st === null) throw new Error('input model fit: the data source yielded no chunks');
  const fit = estimateVARp(st, opts);
  const res = new ResidualMoments(st.dx);
  for await (const c of iterate(source)) addVARpResiduals(res, fit.model, c);
  if (res.count > 0) {
    const { skewness, excessKurtosis } = res.result();
    fit.diagnostics.residualSkewness = skewness;
    fit.diagnostics.residualExcessKurtosis = excessKurtosis;
    const se = Math.sqrt(6 / res.count), ke = Math.sqrt(24 / res.count);
    const bad = skewness.map((s, a) => (Math.abs(s) > Math.max(0.3, 5 * se) || Math.abs(excessKurtosis[a]) > Math.max(0.5, 5 * ke) ? `x${a + 1}` : '')).filter((s) => s);
    if (bad.length > 0) fit.warnings.push(`input model: VAR(${fit.diagnostics.order}) residuals look non-Gaussian in ${bad.join(', ')}; Gaussian score functions make the moments biased for such inputs`);
  }
  return fit;
}
