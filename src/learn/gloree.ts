import { Matrix, transpose } from '../linalg/matrix.js';
import { pinv } from '../linalg/pinv.js';
import { DataSource, SequenceChunk, makeChunk } from '../io/dataset.js';
import { SpillSource } from '../io/spill.js';
import { UserError } from '../io/errors.js';
import { InputModel } from '../input/model.js';
import { InputDiagnostics, ResidualMoments, VAR1Stats, estimateVAR1, finishFit } from '../input/fit.js';
import { T2Accumulator } from '../moments/single.js';
import { ControlVariate, ControlVariateFit } from '../moments/control.js';
import { ProjectedMixedAccumulator } from '../moments/mixed.js';
import { momentPass } from '../moments/accumulator.js';
import { Tensor } from '../tensor/tensor.js';
import { jennrich } from '../decomposition/jennrich.js';
import { als } from '../decomposition/als.js';
import { Activation, IORNNParams, SQUARE } from '../models/params.js';
import { forwardIORNN, predictIORNN } from '../models/iornn.js';
import { solveOutputLS } from './refine-core.js';
import { RefineDiagnostics, RefineOptions, refine } from './refine.js';
import { ProgressCallback, TrainingData, asSource, forEachChunk } from './passes.js';
import { RankSelection, selectRank } from './rank.js';

/**
 * GLOREE for IO-RNNs with σ(z) = c₂z² (DESIGN.md §5): the spectral estimator, then (by default) the
 * second-order refinement of §5 step 6.
 *
 * Passes over the data (each streaming, memory independent of the number of rows):
 *  1. input-model sufficient statistics (§5 step 1) and output means;
 *  2. T2 = mean_t (y_t − ȳ) ⊗ S2(t) over all steps (§5 step 2; centring y only lowers variance since
 *     E[S2] = 0), the control-variate normal equations (§5 step 4) and the input residual moments;
 *  3. the mixed moment (t; t−1, t−1) of the control-variate residuals, projected on the duals (§5 step 5);
 *  4. output-layer regression for Â1, Û (and for the U = 0 baseline), and a bounded subsample of whole
 *     sequences for the refinement.
 */
export interface GloreeOptions {
  /**
   * Number of hidden neurons dh (≤ dx and ≤ dy: A1 and A2 must have full row rank, DESIGN.md §2), or 'auto':
   * the number of singular values of the unfolded T2 above twice a split-sample noise floor (src/learn/rank.ts).
   */
  hidden: number | 'auto';
  /** Activation; only pure quadratics c₂z² are handled here (default z²). */
  activation?: Activation;
  /** 'var1' (default): fit a Gaussian VAR(1); 'iid': fit an i.i.d. Gaussian; or a given input model. */
  inputModel?: 'var1' | 'iid' | InputModel;
  /** Use the control variate of §5 step 4 for the mixed moment (default true). */
  controlVariate?: boolean;
  /** At most about this many rows (whole sequences, evenly spread) fit the control-variate regression. */
  controlVariateMaxRows?: number;
  /** Refit A2 and b by least squares on the simulated states (default true). */
  refitOutput?: boolean;
  /** Second-order refinement of §5 step 6 (default true). */
  refine?: boolean;
  refineOptions?: RefineOptions;
  /** At most this many rows (whole sequences, evenly spread over the data) are kept in memory for refinement. */
  refineMaxRows?: number;
  /** Seed for every random choice (Jennrich contractions, refinement split). Default 0. */
  seed?: number;
  onProgress?: ProgressCallback;
  /** Replay passes 2… from a binary temp file instead of re-parsing a file source (default true). */
  spill?: boolean;
  /** Called with human-readable warnings (input model not stable, ill-conditioned steps, …). */
  onWarning?: (message: string) => void;
}

/** What the learner measured about the data and each step; stored in the model file. */
export interface GloreeDiagnostics {
  data: { rows: number; sequences: number; dx: number; dy: number; minLength: number; maxLength: number };
  /** Singular-value spectrum of the unfolded T2, its split-sample noise floor and the rank rule (src/learn/rank.ts). */
  rank: { chosen: number; auto: boolean } & Omit<RankSelection, 'T2'>;
  inputModel: (InputDiagnostics & { given?: boolean }) | { given: true };
  cp: {
    method: 'jennrich+als';
    /** Relative residual ‖T2 − T̂2‖/‖T2‖ after ALS (noise in T2 shows up here). */
    residual: number;
    jennrichResidual: number;
    alsIterations: number;
    alsConverged: boolean;
    /** Jennrich: eigenvalue separation and conditioning (see JennrichDiagnostics). */
    minSeparation: number;
    condEigenvectors: number;
    projectionGapRatio: number[];
    /** Component weights w_j of T2 = Σ w_j b_j ⊗ c_j ⊗ c_j. */
    weights: number[];
  };
  /** Smallest singular values (and condition numbers) behind each pseudo-inverse. */
  pinv: {
    A1: { sMin: number; cond: number };
    A2T: { sMin: number; cond: number };
    outputLayer?: { cond: number };
  };
  controlVariate: { used: boolean; features?: number; r2?: number[] };
  mixed: { steps: number };
  /** Share of the fitted model's output variance that goes away with U = 0 (same A1, A2). */
  varianceShareU?: number;
  /** The U = 0 baseline: Â1 with U = 0 and its own least-squares output layer (§6: always compare). */
  feedforward?: { A2: number[][]; b: number[] };
  /** The spectral estimate before any regression or refinement (b = ȳ − Â2ᵀ mean h). */
  spectral: { A1: number[][]; A2: number[][]; U: number[][]; b: number[] };
  refine?: Omit<RefineDiagnostics, 'history' | 'validationSequences'> & { historyLength: number };
  timingsMs: Record<string, number>;
  warnings: string[];
}

export interface GloreeResult {
  params: IORNNParams;
  inputModel: InputModel;
  diagnostics: GloreeDiagnostics;
}

export function quadraticCoefficient(act: Activation): number {
  const c = act.coefficients;
  const deg = c.length - 1;
  for (let m = 0; m < c.length; m++) {
    if (m !== 2 && (c[m] ?? 0) !== 0) {
      throw new UserError(
        `activation ${JSON.stringify(c)}: this learner handles σ(z) = c·z² only (general polynomial activations are issue 7 of the tracker)`,
      );
    }
  }
  if (deg !== 2 || !(c[2] !== 0)) throw new UserError(`activation ${JSON.stringify(c)}: expected a quadratic c·z² with c ≠ 0`);
  return c[2];
}

/**
 * Fit an IO-RNN by GLOREE (functional core; see the `GLOREE` class for the estimator API).
 * `data`: a DataSource (e.g. a CSV file, streamed) or chunks in memory.
 */
export async function fitGloree(data: TrainingData, opts: GloreeOptions): Promise<GloreeResult> {
  const given = asSource(data);
  // Text formats are parsed once: later passes replay a binary spill file (memory stays one chunk).
  const spill = !given.inMemory && opts.spill !== false ? new SpillSource(given) : null;
  try {
    return await fitFromSource(spill ?? given, opts);
  } finally {
    spill?.close();
  }
}

async function fitFromSource(source: DataSource, opts: GloreeOptions): Promise<GloreeResult> {
  const { dx, dy } = source;
  const activation = opts.activation ?? SQUARE;
  const c2 = quadraticCoefficient(activation);
  const seed = opts.seed ?? 0;
  const warnings: string[] = [];
  const warn = (m: string): void => {
    warnings.push(m);
    opts.onWarning?.(m);
  };
  const timings: Record<string, number> = {};
  let tick = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    timings[name] = Math.round((now - tick) * 10) / 10;
    tick = now;
  };

  if (opts.hidden !== 'auto') checkHidden(opts.hidden, dx, dy);

  // ---- Pass 1: input-model statistics, output means, data shape checks.
  const stats = new VAR1Stats(dx);
  const ySum = new Float64Array(dy);
  let minLength = Infinity, maxLength = 0;
  const pass1 = await forEachChunk(
    source,
    'input model',
    (chunk, seqOffset) => {
      for (let k = 0; k < chunk.lengths.length; k++) {
        const L = chunk.lengths[k];
        if (L < 2) {
          throw new UserError(`${source.name}: sequence ${seqOffset + k + 1} has ${L} step; GLOREE needs sequences of at least 2 steps (the recurrence is read off consecutive steps)`);
        }
        minLength = Math.min(minLength, L);
        maxLength = Math.max(maxLength, L);
      }
      for (let i = 0; i < chunk.y.length; i++) {
        const v = chunk.y[i];
        if (!Number.isFinite(v)) {
          throw new UserError(`${source.name}: y has a non-finite value (${v}) at data row ${Math.floor(i / dy) + 1}, column y${(i % dy) + 1}`);
        }
        ySum[i % dy] += v;
      }
      stats.add(chunk);
    },
    opts.onProgress,
  );
  const totalRows = pass1.rows;
  if (totalRows === 0) throw new UserError(`${source.name}: no data rows`);
  const yMean = ySum.map((v) => v / totalRows);

  let inputModel: InputModel;
  let inputDiag: GloreeDiagnostics['inputModel'];
  let residualMoments: ResidualMoments | null = null;
  let inputEstimate: ReturnType<typeof estimateVAR1> | null = null;
  if (typeof opts.inputModel === 'object') {
    inputModel = opts.inputModel;
    if (inputModel.dx !== dx) throw new UserError(`input model has dx = ${inputModel.dx}, the data has dx = ${dx}`);
    inputDiag = { given: true };
  } else {
    const columnNames = (source as { columns?: { x?: readonly string[] } }).columns?.x;
    inputEstimate = estimateVAR1(stats, { iid: opts.inputModel === 'iid', columnNames });
    inputModel = inputEstimate.model;
    residualMoments = new ResidualMoments(dx);
    inputDiag = { given: true }; // replaced after pass 2 by the full diagnostics
  }
  lap('pass1_input');

  // ---- Pass 2: T2, control-variate normal equations, input residual moments.
  // T2 is accumulated on two halves (even / odd sequences) so their difference estimates its noise for
  // rank selection (src/learn/rank.ts); the count-weighted mean of the halves is the full-data T2.
  const t2Halves = [new T2Accumulator(inputModel, dy), new T2Accumulator(inputModel, dy)];
  const useCV = opts.controlVariate ?? true;
  const cv = useCV ? new ControlVariate(dx, dy, { center: inputModel.mean }) : null;
  if (cv) for (const w of cv.warnings) warn(w);
  const cvStride = Math.max(1, Math.ceil(totalRows / (opts.controlVariateMaxRows ?? 25_000)));
  await forEachChunk(
    source,
    'moments',
    (chunk, seqOffset) => {
      const yc = new Float64Array(chunk.y.length);
      for (let i = 0; i < yc.length; i++) yc[i] = chunk.y[i] - yMean[i % dy];
      const centred = makeChunk(dx, dy, chunk.x, yc, chunk.lengths);
      for (const [h, sub] of evenOddSubchunks(centred, seqOffset)) if (sub) momentPass(inputModel, sub, [t2Halves[h]]);
      // The control variate only needs to be a good regression, not an unbiased one (§5 step 4), so its
      // O(p²)-per-row normal equations use an evenly spread subsample of sequences.
      if (cv) {
        const sub = strideSubchunk(chunk, seqOffset, cvStride);
        if (sub) momentPass(null, sub, [cv]);
      }
      if (residualMoments && inputEstimate) residualMoments.add(inputEstimate.model, chunk);
    },
    opts.onProgress,
    totalRows,
  );
  if (residualMoments && inputEstimate) {
    const fin = finishFit(stats, inputEstimate, residualMoments, opts.inputModel === 'iid');
    for (const w of fin.warnings) warn(w);
    inputDiag = fin.diagnostics;
  }
  const cvFit: ControlVariateFit | null = cv ? cv.solve() : null;
  lap('pass2_moments');

  const [ta, tb] = t2Halves;
  if (ta.count === 0 || tb.count === 0) throw new UserError(`${source.name}: GLOREE needs at least 2 sequences (the data have ${pass1.sequences})`);
  const rankSel = selectRank(ta.result(), tb.result(), dy, dx, { counts: [ta.count, tb.count] });
  let dh: number;
  if (opts.hidden === 'auto') {
    dh = rankSel.rank;
    for (const w of rankSel.warnings) warn(`rank selection: ${w}`);
    if (dh < 1) throw new UserError(`--hidden auto: no singular value of T2 stands above the noise floor (${rankSel.noiseFloor.toExponential(2)}); the outputs show no quadratic dependence on the inputs that GLOREE can use`);
  } else dh = opts.hidden;

  // ---- CP of T2 (dy×dx×dx, modes 2–3 tied): T2 = 2c₂ Σ_j A2^(j) ⊗ a1_j ⊗ a1_j (DESIGN.md §4 F1).
  const T2 = new Tensor([dy, dx, dx], rankSel.T2);
  const jr = jennrich(T2, dh, { tied: true, seed });
  const polished = als(T2, dh, { init: jr.cp, tied: true, maxIter: 500, tol: 1e-12, seed });
  const jennrichResidual = relResidual(T2, jr.cp);
  const cp = polished.residual <= jennrichResidual ? polished.cp : jr.cp;
  const [Bf, Cf] = [cp.factors[0], cp.factors[1]];
  const A1 = new Matrix(dh, dx);
  const A2 = new Matrix(dh, dy);
  for (let j = 0; j < dh; j++) {
    // Unit columns from the CP value type; the gauge ‖a1_j‖ = 1 (DESIGN.md §2) comes for free.
    const cn = colNorm(Cf, j), bn = colNorm(Bf, j);
    const w = cp.weights[j] * cn * cn * bn;
    for (let a = 0; a < dx; a++) A1.data[j * dx + a] = Cf.get(a, j) / cn;
    for (let i = 0; i < dy; i++) A2.data[j * dy + i] = (w * Bf.get(i, j)) / bn / (2 * c2);
  }
  lap('cp');

  // ---- Pass 3: projected mixed moment → U (DESIGN.md §4 F4, §5 step 5).
  // With demix W = pinv(Â2ᵀ) and duals G = pinv(Â1): C[j,k] = 4c₂² U_jk (see ProjectedMixedAccumulator).
  const pA1 = pinv(A1);
  const pA2T = pinv(transpose(A2));
  for (const [name, p] of [['A1', pA1], ['A2ᵀ', pA2T]] as const) {
    if (p.rank < dh) warn(`pseudo-inverse of ${name} is rank deficient (rank ${p.rank} < dh = ${dh}): two neurons are (nearly) indistinguishable; U is unreliable`);
    else if (p.cond > 1e6) warn(`pseudo-inverse of ${name} is ill-conditioned (condition number ${p.cond.toExponential(2)}); U is unreliable`);
  }
  const G = pA1.pinv; // dx×dh
  const mixed = new ProjectedMixedAccumulator(inputModel, dy, 'prev', pA2T.pinv, G, G, { target: cvFit ? 'residual' : 'y' });
  await forEachChunk(source, 'mixed moment', (chunk) => momentPass(inputModel, chunk, [mixed], cvFit), opts.onProgress, totalRows);
  const Cjk = mixed.result();
  const U = new Matrix(dh, dh);
  for (let i = 0; i < dh * dh; i++) U.data[i] = Cjk[i] / (4 * c2 * c2);
  lap('pass3_mixed');

  const spectralParams: IORNNParams = { kind: 'iornn', A1, U, A2, b: yMean.slice(), activation };
  let params: IORNNParams = spectralParams;

  // ---- Pass 4: output layer by regression (model and U = 0 baseline), refinement subsample.
  const wantRefit = opts.refitOutput ?? true;
  const wantRefine = opts.refine ?? true;
  const refineMaxRows = opts.refineMaxRows ?? 200_000;
  const stride = Math.max(1, Math.ceil(totalRows / refineMaxRows));
  const m = dh + 1;
  const regModel = { G: new Float64Array(m * m), C: new Float64Array(m * dy) };
  const regFF = { G: new Float64Array(m * m), C: new Float64Array(m * dy) };
  const ffParams: IORNNParams = { ...spectralParams, U: new Matrix(dh, dh) };
  const sample: SequenceChunk[] = [];
  let blownUp: string | null = null;
  await forEachChunk(
    source,
    'output layer',
    (chunk, seqOffset) => {
      if (blownUp === null) {
        try {
          accumulateOutputLS(spectralParams, chunk, regModel, seqOffset);
        } catch (e) {
          blownUp = (e as Error).message;
        }
      }
      accumulateOutputLS(ffParams, chunk, regFF, seqOffset);
      if (wantRefine) {
        const sub = strideSubchunk(chunk, seqOffset, stride);
        if (sub) sample.push(sub);
      }
    },
    opts.onProgress,
    totalRows,
  );
  let outputCond: number | undefined;
  if (blownUp !== null) {
    warn(`the spectral estimate blows up on the training data (${blownUp}); U is too large for this data. Refinement starts from a shrunk U.`);
  } else if (wantRefit) {
    const fit = solveOutputLS(regModel.G, regModel.C, m, dy);
    outputCond = fit.cond;
    params = { ...spectralParams, ...splitOutput(fit.W, dh, dy) };
  }
  // Spectral bias: ȳ = Â2ᵀ E[h] + b (the moments only see derivatives, so b comes from the means).
  const spectralBias = yMean.slice();
  if (blownUp === null) {
    const n = regModel.G[dh * m + dh];
    for (let i = 0; i < dy; i++) for (let j = 0; j < dh; j++) spectralBias[i] -= A2.data[j * dy + i] * (regModel.G[j * m + dh] / n);
  }
  const ff = solveOutputLS(regFF.G, regFF.C, m, dy);
  const feedforward = splitOutput(ff.W, dh, dy);
  lap('pass4_output');

  // ---- Refinement (DESIGN.md §5 step 6) on the in-memory subsample.
  let refineDiag: GloreeDiagnostics['refine'];
  if (wantRefine && sample.length > 0) {
    const res = refine(params, sample, { seed, ...opts.refineOptions });
    params = res.params;
    const { history, validationSequences, ...rest } = res.diagnostics;
    refineDiag = { ...rest, historyLength: history.length };
    lap('refine');
  }

  // Variance share carried by U (on the subsample, or skipped when refinement is off and no sample exists).
  let varianceShareU: number | undefined;
  if (sample.length > 0) varianceShareU = varianceShare(params, sample);

  const diagnostics: GloreeDiagnostics = {
    data: { rows: totalRows, sequences: pass1.sequences, dx, dy, minLength, maxLength },
    rank: { chosen: dh, auto: opts.hidden === 'auto', ...withoutT2(rankSel) },
    inputModel: inputDiag,
    cp: {
      method: 'jennrich+als',
      residual: Math.min(polished.residual, jennrichResidual),
      jennrichResidual,
      alsIterations: polished.iterations,
      alsConverged: polished.converged,
      minSeparation: jr.diagnostics.minSeparation,
      condEigenvectors: jr.diagnostics.condEigenvectors,
      projectionGapRatio: jr.diagnostics.projectionGapRatio,
      weights: Array.from(cp.weights),
    },
    pinv: {
      A1: { sMin: pA1.sMin, cond: pA1.cond },
      A2T: { sMin: pA2T.sMin, cond: pA2T.cond },
      ...(outputCond !== undefined ? { outputLayer: { cond: outputCond } } : {}),
    },
    controlVariate: cvFit ? { used: true, features: cvFit.p, r2: cvFit.r2 } : { used: false },
    mixed: { steps: mixed.count },
    varianceShareU,
    feedforward: { A2: feedforward.A2.toArray(), b: Array.from(feedforward.b) },
    spectral: { A1: A1.toArray(), A2: A2.toArray(), U: U.toArray(), b: Array.from(spectralBias) },
    refine: refineDiag,
    timingsMs: timings,
    warnings,
  };
  return { params, inputModel, diagnostics };
}

function checkHidden(dh: number, dx: number, dy: number): void {
  if (!Number.isInteger(dh) || dh < 1) throw new UserError(`--hidden must be a positive integer or "auto", got ${dh}`);
  if (dh > dx || dh > dy) {
    throw new UserError(
      `--hidden ${dh} is larger than ${dh > dx ? `the input dimension dx = ${dx}` : `the output dimension dy = ${dy}`}: ` +
        `GLOREE needs A1 and A2 of full row rank, so dh ≤ min(dx, dy) = ${Math.min(dx, dy)} (DESIGN.md §2)`,
    );
  }
}

function withoutT2(r: RankSelection): Omit<RankSelection, 'T2'> {
  const { T2: _t2, ...rest } = r;
  void _t2;
  return rest;
}

/** The even- and odd-indexed sequences of a chunk (by global index), as [half, subchunk | null] pairs. */
function evenOddSubchunks(chunk: SequenceChunk, seqOffset: number): [number, SequenceChunk | null][] {
  const even = strideSubchunkPhase(chunk, seqOffset, 2, 0);
  const odd = strideSubchunkPhase(chunk, seqOffset, 2, 1);
  return [
    [0, even],
    [1, odd],
  ];
}

export function relResidual(T: Tensor, cp: { weights: Float64Array; factors: Matrix[] }): number {
  const [I, J, K] = T.shape;
  const R = cp.weights.length;
  const [A, B, C] = cp.factors;
  let num = 0, den = 0;
  for (let i = 0; i < I; i++)
    for (let j = 0; j < J; j++)
      for (let k = 0; k < K; k++) {
        let v = 0;
        for (let r = 0; r < R; r++) v += cp.weights[r] * A.get(i, r) * B.get(j, r) * C.get(k, r);
        const t = T.data[(i * J + j) * K + k];
        num += (t - v) ** 2;
        den += t * t;
      }
  return Math.sqrt(num / den);
}

export function colNorm(M: Matrix, j: number): number {
  let s = 0;
  for (let i = 0; i < M.rows; i++) s += M.get(i, j) ** 2;
  return Math.sqrt(s);
}

/** Σ [h;1][h;1]ᵀ and Σ [h;1] yᵀ for the output-layer least squares (DESIGN.md §5 step 6, first part). */
export function accumulateOutputLS(p: IORNNParams, chunk: SequenceChunk, acc: { G: Float64Array; C: Float64Array }, seqOffset: number): void {
  const dh = p.A1.rows, dy = chunk.dy, m = dh + 1;
  const hidden = new Float64Array(chunk.rows * dh);
  predictIORNN(p, chunk, { sequenceOffset: seqOffset, hidden });
  const g = new Float64Array(m);
  g[dh] = 1;
  for (let r = 0; r < chunk.rows; r++) {
    for (let j = 0; j < dh; j++) g[j] = hidden[r * dh + j];
    for (let a = 0; a < m; a++) {
      const ga = g[a];
      for (let b = a; b < m; b++) acc.G[a * m + b] += ga * g[b];
      for (let i = 0; i < dy; i++) acc.C[a * dy + i] += ga * chunk.y[r * dy + i];
    }
  }
  for (let a = 0; a < m; a++) for (let b = 0; b < a; b++) acc.G[a * m + b] = acc.G[b * m + a];
}


export function splitOutput(W: Float64Array, dh: number, dy: number): { A2: Matrix; b: Float64Array } {
  return { A2: new Matrix(dh, dy, W.slice(0, dh * dy)), b: W.slice(dh * dy, (dh + 1) * dy) };
}

/** The sequences of a chunk whose global index is a multiple of `stride` (copied), or null if none. */
export function strideSubchunk(chunk: SequenceChunk, seqOffset: number, stride: number): SequenceChunk | null {
  return strideSubchunkPhase(chunk, seqOffset, stride, 0);
}

/** Sequences whose global index ≡ phase (mod stride). */
function strideSubchunkPhase(chunk: SequenceChunk, seqOffset: number, stride: number, phase: number): SequenceChunk | null {
  if (stride === 1) return chunk;
  const { dx, dy } = chunk;
  let row = 0;
  const lengths: number[] = [];
  const xParts: Float64Array[] = [], yParts: Float64Array[] = [];
  for (let k = 0; k < chunk.lengths.length; k++) {
    const L = chunk.lengths[k];
    if ((seqOffset + k) % stride === phase) {
      lengths.push(L);
      xParts.push(chunk.x.subarray(row * dx, (row + L) * dx));
      yParts.push(chunk.y.subarray(row * dy, (row + L) * dy));
    }
    row += L;
  }
  if (lengths.length === 0) return null;
  return makeChunk(dx, dy, concat(xParts), concat(yParts), lengths);
}

export function concat(parts: Float64Array[]): Float64Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Float64Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function varianceShare(p: IORNNParams, chunks: SequenceChunk[]): number {
  const p0: IORNNParams = { ...p, U: new Matrix(p.U.rows, p.U.cols) };
  let num = 0, den = 0;
  for (const c of chunks) {
    const y1 = forwardIORNN(p, c).yhat;
    const y0 = forwardIORNN(p0, c).yhat;
    const dy = c.dy;
    const mean = new Float64Array(dy);
    for (let i = 0; i < y1.length; i++) mean[i % dy] += y1[i] / c.rows;
    for (let i = 0; i < y1.length; i++) {
      num += (y1[i] - y0[i]) ** 2;
      den += (y1[i] - mean[i % dy]) ** 2;
    }
  }
  return den > 0 ? num / den : 0;
}

