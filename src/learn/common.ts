import { Matrix } from '../linalg/matrix.js';
import { PinvResult } from '../linalg/pinv.js';
import { DataSource, SequenceChunk, makeChunk } from '../io/dataset.js';
import { SpillSource } from '../io/spill.js';
import { UserError } from '../io/errors.js';
import { InputModel } from '../input/model.js';
import { InputDiagnostics, ResidualMoments, VAR1Stats, estimateVAR1, finishFit } from '../input/fit.js';
import { T2Accumulator } from '../moments/single.js';
import { ControlVariate, ControlVariateFit } from '../moments/control.js';
import { MomentAccumulator, PassData, chunkScores, momentPass } from '../moments/accumulator.js';
import { Tensor } from '../tensor/tensor.js';
import { jennrich } from '../decomposition/jennrich.js';
import { als } from '../decomposition/als.js';
import { RNNParams } from '../models/params.js';
import { accumulateStatesLS, forwardIORNN } from '../models/iornn.js';
import { predictBRNN } from '../models/brnn.js';
import { solveOutputLS } from '../linalg/lstsq.js';
import { RefineDiagnostics, RefineOptions, packParams, refine } from './refine.js';
import { ProgressCallback, TrainingData, asSource, forEachChunk } from './passes.js';
import { RankSelection, selectRank } from './rank.js';

/**
 * What the three GLOREE learners share (gloree.ts: IO-RNN with σ = c·z²; gloree-b.ts: BRNN; gloree-poly.ts:
 * degree-l σ). Each learner keeps its own moments, decompositions and diagnostics; the pieces here are the ones
 * whose logic is the same in all of them, so that a fix (a message, a check, a numerical detail) lands once:
 *  - the run log (warnings and per-step timings) and the spill wrapper;
 *  - pass 1 (DESIGN.md §5 step 1): input-model statistics, output means, data checks, the input model itself;
 *  - pass 2 (§5 steps 2 and 4): T2 on even/odd halves for the rank rule, the control-variate normal equations on
 *    a subsample, the input residual moments;
 *  - the CP of T2 for σ = c₂z² (§4 F1), the pseudo-inverse warnings;
 *  - the output-layer pass (§5 step 6, first part; and the U = 0 baseline of §6), the spectral bias, the
 *    refinement (§5 step 6) and the variance share of the recurrent weights;
 *  - sequence subsets of a chunk (strides, even/odd halves).
 * The pieces moved here bit-identically; later speed work (issue 8: fused output-layer pass, one-pass input
 * statistics, the control-variate Gram by distinct monomials) changed some summation orders, so fits agree with
 * the earlier ones to rounding (≈1e-14 relative), up to the sign gauge of σ = z² neurons (DESIGN.md §2).
 */

// ---------------------------------------------------------------------------------------------
// Options, run log, spill

/** Options every learner takes. */
export interface LearnerOptions {
  /** 'var1' (default): fit a Gaussian VAR(1); 'iid': fit an i.i.d. Gaussian; or a given input model. */
  inputModel?: 'var1' | 'iid' | InputModel;
  /** Use the control variate of §5 step 4 for the moments of order ≥ 3 (default true). */
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

/** Warnings (also passed to `onWarning` as they happen) and the milliseconds each step took. */
export interface RunLog {
  warnings: string[];
  timings: Record<string, number>;
  warn(message: string): void;
  /** Record the time since the previous lap (or the start) under `name`. */
  lap(name: string): void;
}

export function runLog(onWarning?: (message: string) => void): RunLog {
  const warnings: string[] = [];
  const timings: Record<string, number> = {};
  let tick = performance.now();
  return {
    warnings,
    timings,
    warn(m) {
      warnings.push(m);
      onWarning?.(m);
    },
    lap(name) {
      const now = performance.now();
      timings[name] = Math.round((now - tick) * 10) / 10;
      tick = now;
    },
  };
}

/**
 * Run a learner on `data`. Text formats are parsed once: later passes replay a binary spill file (memory stays
 * one chunk), unless `spill` is false or the data are in memory.
 */
export async function withSpill<R>(data: TrainingData, spill: boolean | undefined, fit: (source: DataSource) => Promise<R>): Promise<R> {
  const given = asSource(data);
  const spilled = !given.inMemory && spill !== false ? new SpillSource(given) : null;
  try {
    return await fit(spilled ?? given);
  } finally {
    spilled?.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Diagnostics shared by the learners

export interface DataDiagnostics {
  rows: number;
  sequences: number;
  dx: number;
  dy: number;
  minLength: number;
  maxLength: number;
}

/** The fitted input model's diagnostics, or `{ given: true }` for a model the caller supplied. */
export type InputModelDiagnostics = (InputDiagnostics & { given?: boolean }) | { given: true };

export interface ControlVariateDiagnostics {
  used: boolean;
  features?: number;
  r2?: number[];
}

/** Diagnostics every learner reports (each adds its own). */
export interface LearnerDiagnostics {
  data: DataDiagnostics;
  inputModel: InputModelDiagnostics;
  controlVariate: ControlVariateDiagnostics;
  /** The model without recurrence and its own least-squares output layer (§6: always compare). */
  feedforward?: { A2: number[][]; b: number[] };
  refine?: RefineSummary;
  timingsMs: Record<string, number>;
  warnings: string[];
}

/** The refinement's diagnostics without the per-iteration history (only its length) and the split. */
export type RefineSummary = Omit<RefineDiagnostics, 'history' | 'validationSequences'> & { historyLength: number };

export function controlVariateDiagnostics(cvFit: ControlVariateFit | null): ControlVariateDiagnostics {
  return cvFit ? { used: true, features: cvFit.p, r2: cvFit.r2 } : { used: false };
}

/** The rank selection without its T2 (dy·dx² numbers, recoverable from the data), for the model file. */
export function withoutT2(r: RankSelection): Omit<RankSelection, 'T2'> {
  const { T2: _t2, ...rest } = r;
  void _t2;
  return rest;
}

// ---------------------------------------------------------------------------------------------
// Pass 1: input-model statistics, output means, data checks (DESIGN.md §5 step 1)

export interface InputPass {
  stats: VAR1Stats;
  /** Mean of every output column over all rows. */
  yMean: Float64Array;
  data: DataDiagnostics;
}

/**
 * Pass 1. Checks that every sequence has at least 2 steps (UserError naming the sequence; `learner` names the
 * learner in the message), that y is finite, and that there are rows (and at least `minSequences` sequences).
 */
export async function inputPass(
  source: DataSource,
  learner: 'GLOREE' | 'GLOREE-B',
  opts: { minSequences?: number; onProgress?: ProgressCallback } = {},
): Promise<InputPass> {
  const { onProgress } = opts;
  const { dx, dy } = source;
  const stats = new VAR1Stats(dx);
  const ySum = new Float64Array(dy);
  const yMin = new Float64Array(dy).fill(Infinity), yMax = new Float64Array(dy).fill(-Infinity);
  let minLength = Infinity, maxLength = 0;
  const readOff = learner === 'GLOREE-B' ? 'the recurrences are' : 'the recurrence is';
  const pass = await forEachChunk(
    source,
    'input model',
    (chunk, seqOffset) => {
      for (let k = 0; k < chunk.lengths.length; k++) {
        const L = chunk.lengths[k];
        if (L < 2) {
          throw new UserError(`${source.name}: sequence ${seqOffset + k + 1} has ${L} step; ${learner} needs sequences of at least 2 steps (${readOff} read off consecutive steps)`);
        }
        minLength = Math.min(minLength, L);
        maxLength = Math.max(maxLength, L);
      }
      // Sums row by row; NaN/±Inf propagate into them, so the value-by-value scan (for the message) runs only
      // when a sum is not finite.
      const y = chunk.y;
      for (let r = 0, o = 0; r < chunk.rows; r++)
        for (let i = 0; i < dy; i++, o++) {
          const v = y[o];
          ySum[i] += v;
          if (v < yMin[i]) yMin[i] = v;
          if (v > yMax[i]) yMax[i] = v;
        }
      let sumsFinite = true;
      for (let i = 0; i < dy; i++) if (!Number.isFinite(ySum[i])) sumsFinite = false;
      if (!sumsFinite) {
        for (let i = 0; i < y.length; i++) {
          const v = y[i];
          if (!Number.isFinite(v)) {
            throw new UserError(`${source.name}: y has a non-finite value (${v}) at data row ${Math.floor(i / dy) + 1}, column y${(i % dy) + 1}`);
          }
        }
      }
      stats.add(chunk);
    },
    onProgress,
  );
  const rows = pass.rows;
  if (rows === 0) throw new UserError(`${source.name}: no data rows`);
  if (pass.sequences < (opts.minSequences ?? 1)) throw new UserError(`${source.name}: ${learner} needs at least ${opts.minSequences} sequences (the data have ${pass.sequences})`);
  // A constant output has no dependence on the inputs to learn, and makes every moment of it exactly zero.
  for (let i = 0; i < dy; i++) {
    if (rows > 1 && yMin[i] === yMax[i]) {
      const name = (source as { columns?: { y?: readonly string[] } }).columns?.y?.[i] ?? `y${i + 1}`;
      throw new UserError(`${source.name}: output column "${name}" is constant (value ${yMin[i]}); it carries nothing to learn — drop it`);
    }
  }
  const yMean = ySum.map((v) => v / rows);
  return { stats, yMean, data: { rows, sequences: pass.sequences, dx, dy, minLength, maxLength } };
}

/** The input model for the moment passes, and what pass 2 needs to finish its diagnostics. */
export interface InputModelSetup {
  model: InputModel;
  /** The least-squares estimate (null for a given model). */
  estimate: ReturnType<typeof estimateVAR1> | null;
  /** Residual moment sums for the Gaussianity diagnostics, filled in pass 2 (null for a given model). */
  residual: ResidualMoments | null;
  iid: boolean;
}

/**
 * The input model from pass 1's statistics ('var1' default, or 'iid'), or the given one (checked against dx).
 * Column names for the messages of the fit come from the source's `columns.x` when it has them.
 */
export function setupInputModel(source: DataSource, stats: VAR1Stats, spec: 'var1' | 'iid' | InputModel | undefined): InputModelSetup {
  const dx = source.dx;
  if (typeof spec === 'object') {
    if (spec.dx !== dx) throw new UserError(`input model has dx = ${spec.dx}, the data has dx = ${dx}`);
    return { model: spec, estimate: null, residual: null, iid: false };
  }
  const columnNames = (source as { columns?: { x?: readonly string[] } }).columns?.x;
  const estimate = estimateVAR1(stats, { iid: spec === 'iid', columnNames });
  return { model: estimate.model, estimate, residual: new ResidualMoments(dx), iid: spec === 'iid' };
}

// ---------------------------------------------------------------------------------------------
// Pass 2: T2 halves, control variate, input residual moments (DESIGN.md §5 steps 2 and 4)

export interface MomentsPassOptions {
  /** Accumulate T2 on the even / odd sequences (for the rank rule of src/learn/rank.ts). */
  t2: boolean;
  /** Further accumulators of centred y over all sequences (passed together with the T2 halves). */
  extra?: MomentAccumulator[];
  controlVariate?: boolean;
  controlVariateMaxRows?: number;
  /** Called with every control-variate subchunk and the chunk it came from. */
  onControlSample?: (sub: SequenceChunk, chunk: SequenceChunk) => void;
  onProgress?: ProgressCallback;
}

export interface MomentsPass {
  /** T2 on the even and the odd sequences (by global index); null unless `t2`. */
  t2Halves: [T2Accumulator, T2Accumulator] | null;
  cvFit: ControlVariateFit | null;
  inputDiagnostics: InputModelDiagnostics;
}

/**
 * Pass 2. T2 = mean_t (y_t − ȳ) ⊗ S2(t): centring y only lowers variance since E[S2] = 0. T2 is accumulated on
 * two halves (even / odd sequences) so their difference estimates its noise for rank selection; the
 * count-weighted mean of the halves is the full-data T2. The control variate only needs to be a good regression,
 * not an unbiased one (§5 step 4), so its O(p²)-per-row normal equations use an evenly spread subsample of
 * sequences (about `controlVariateMaxRows` rows, default 25 000).
 */
export async function momentsPass(source: DataSource, p1: InputPass, input: InputModelSetup, log: RunLog, opts: MomentsPassOptions): Promise<MomentsPass> {
  const { dx, dy } = source;
  const inputModel = input.model;
  const { yMean } = p1;
  const totalRows = p1.data.rows;
  const extra = opts.extra ?? [];
  const t2Halves: [T2Accumulator, T2Accumulator] | null = opts.t2 ? [new T2Accumulator(inputModel, dy), new T2Accumulator(inputModel, dy)] : null;
  const cv = (opts.controlVariate ?? true) ? new ControlVariate(dx, dy, { center: inputModel.mean }) : null;
  if (cv) for (const w of cv.warnings) log.warn(w);
  const cvStride = Math.max(1, Math.ceil(totalRows / (opts.controlVariateMaxRows ?? 25_000)));
  const { estimate, residual } = input;
  await forEachChunk(
    source,
    'moments',
    (chunk, seqOffset) => {
      const centred = centredChunk(chunk, yMean);
      if (t2Halves) {
        // Scores once for the chunk; each half reads its sequences through a mask (no subchunk copies).
        const data: PassData = { chunk: centred, scores: chunkScores(inputModel, centred), residual: null };
        const nSeq = chunk.lengths.length;
        for (const h of [0, 1] as const) {
          const mask = new Uint8Array(nSeq);
          let any = false;
          for (let k = 0; k < nSeq; k++) if ((seqOffset + k) % 2 === h) mask[k] = 1, any = true;
          if (!any) continue;
          t2Halves[h].sequenceMask = mask;
          try {
            t2Halves[h].addData(data);
          } finally {
            t2Halves[h].sequenceMask = null;
          }
        }
        for (const a of extra) a.addData(data);
      } else if (extra.length > 0) momentPass(inputModel, centred, extra);
      if (cv) {
        const sub = strideSubchunk(chunk, seqOffset, cvStride);
        if (sub) {
          momentPass(null, sub, [cv]);
          opts.onControlSample?.(sub, chunk);
        }
      }
      if (residual && estimate) residual.add(estimate.model, chunk);
    },
    opts.onProgress,
    totalRows,
  );
  let inputDiagnostics: InputModelDiagnostics = { given: true };
  if (residual && estimate) {
    const fin = finishFit(p1.stats, estimate, residual, input.iid);
    for (const w of fin.warnings) log.warn(w);
    inputDiagnostics = fin.diagnostics;
  }
  const cvFit = cv ? cv.solve() : null;
  return { t2Halves, cvFit, inputDiagnostics };
}

export interface DataPasses {
  p1: InputPass;
  input: InputModelSetup;
  p2: MomentsPass;
}

/**
 * Passes 1 and 2 with the input model in between, timed as 'pass1_input' and 'pass2_moments'. `extra` makes
 * the learner's own centred-y accumulators of pass 2 once the input model is known.
 */
export async function dataPasses(
  source: DataSource,
  learner: 'GLOREE' | 'GLOREE-B',
  opts: LearnerOptions,
  log: RunLog,
  hooks: {
    t2: boolean;
    minSequences?: number;
    extra?: (model: InputModel) => MomentAccumulator[];
    onControlSample?: (sub: SequenceChunk, chunk: SequenceChunk) => void;
  },
): Promise<DataPasses> {
  const p1 = await inputPass(source, learner, { minSequences: hooks.minSequences, onProgress: opts.onProgress });
  const input = setupInputModel(source, p1.stats, opts.inputModel);
  log.lap('pass1_input');
  const p2 = await momentsPass(source, p1, input, log, {
    t2: hooks.t2,
    extra: hooks.extra?.(input.model),
    controlVariate: opts.controlVariate,
    controlVariateMaxRows: opts.controlVariateMaxRows,
    onControlSample: hooks.onControlSample,
    onProgress: opts.onProgress,
  });
  log.lap('pass2_moments');
  return { p1, input, p2 };
}

/** The chunk with y − ȳ in place of y (x shared, not copied). */
export function centredChunk(chunk: SequenceChunk, yMean: Float64Array): SequenceChunk {
  const dy = chunk.dy;
  const yc = new Float64Array(chunk.y.length);
  for (let i = 0; i < yc.length; i++) yc[i] = chunk.y[i] - yMean[i % dy];
  return makeChunk(chunk.dx, dy, chunk.x, yc, chunk.lengths);
}

/** Rank selection from the two T2 halves (src/learn/rank.ts); null when a half is empty (fewer than 2 sequences). */
export function rankFromHalves(halves: [T2Accumulator, T2Accumulator], dy: number, dx: number): RankSelection | null {
  const [ta, tb] = halves;
  if (ta.count === 0 || tb.count === 0) return null;
  return selectRank(ta.result(), tb.result(), dy, dx, { counts: [ta.count, tb.count] });
}

/**
 * T2 of all the data and, when both halves are non-empty, the rank rule's spectrum. With a single sequence (a file
 * without `seq`) there is no split-sample noise estimate: `rank` is null, and `hidden: 'auto'` is refused.
 */
export function t2AndRank(
  halves: [T2Accumulator, T2Accumulator],
  dy: number,
  dx: number,
  hidden: number | 'auto',
  name: string,
): { T2: Float64Array; rank: RankSelection | null } {
  const rank = rankFromHalves(halves, dy, dx);
  if (rank) return { T2: rank.T2, rank };
  if (hidden === 'auto') {
    throw new UserError(`${name}: --hidden auto compares two halves of the sequences, and the data have one sequence; give --hidden K`);
  }
  const full = halves[0].count > 0 ? halves[0] : halves[1];
  return { T2: full.result(), rank: null };
}

/**
 * `--hidden auto`: the rank rule's choice (its warnings passed on); a UserError ending in `hint` when nothing
 * stands above the noise floor.
 */
export function autoRank(rs: RankSelection, log: RunLog, hint: string): number {
  for (const w of rs.warnings) log.warn(`rank selection: ${w}`);
  if (rs.rank < 1) throw new UserError(`--hidden auto: no singular value of T2 stands above the noise floor (${rs.noiseFloor.toExponential(2)}); ${hint}`);
  return rs.rank;
}

// ---------------------------------------------------------------------------------------------
// CP of T2 for σ = c₂z² (DESIGN.md §4 F1) and pseudo-inverses

export interface CPDiagnostics {
  method: 'jennrich+als';
  /** Relative residual ‖T2 − T̂2‖/‖T2‖ of the better of Jennrich and ALS (noise in T2 shows up here). */
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
}

/**
 * CP of T2 (dy×dx×dx, modes 2–3 tied) with K components: T2 = 2c₂ Σ_j A2^(j) ⊗ c_j ⊗ c_j (DESIGN.md §4 F1; for a
 * BRNN the sum runs over all neurons, forward and backward alike, F5). Jennrich, polished by tied ALS; the
 * better of the two is kept. Returns C (K×dx, unit rows: the gauge ‖c_j‖ = 1 of §2 comes for free) and
 * A2 (K×dy).
 */
export function cpOfT2(t2: Float64Array, dy: number, dx: number, K: number, c2: number, seed: number): { C: Matrix; A2: Matrix; diagnostics: CPDiagnostics } {
  const T2 = new Tensor([dy, dx, dx], t2);
  const jr = jennrich(T2, K, { tied: true, seed });
  const polished = als(T2, K, { init: jr.cp, tied: true, maxIter: 500, tol: 1e-12, seed });
  const jennrichResidual = relResidual(T2, jr.cp);
  const cp = polished.residual <= jennrichResidual ? polished.cp : jr.cp;
  const [Bf, Cf] = [cp.factors[0], cp.factors[1]];
  const C = new Matrix(K, dx);
  const A2 = new Matrix(K, dy);
  for (let j = 0; j < K; j++) {
    const cn = colNorm(Cf, j), bn = colNorm(Bf, j);
    const w = cp.weights[j] * cn * cn * bn;
    // T2 only sees c_j ⊗ c_j, so the sign of c_j is free here (U is read off relative to it, and (a1_j, U_j·)
    // flip together, DESIGN.md §2). Fix it — largest-magnitude entry positive — so that rounding-level changes
    // in T2 cannot flip it.
    let amax = 0;
    for (let a = 1; a < dx; a++) if (Math.abs(Cf.get(a, j)) > Math.abs(Cf.get(amax, j))) amax = a;
    const sgn = Cf.get(amax, j) < 0 ? -1 : 1;
    for (let a = 0; a < dx; a++) C.data[j * dx + a] = (sgn * Cf.get(a, j)) / cn;
    for (let i = 0; i < dy; i++) A2.data[j * dy + i] = (w * Bf.get(i, j)) / bn / (2 * c2);
  }
  const diagnostics: CPDiagnostics = {
    method: 'jennrich+als',
    residual: Math.min(polished.residual, jennrichResidual),
    jennrichResidual,
    alsIterations: polished.iterations,
    alsConverged: polished.converged,
    minSeparation: jr.diagnostics.minSeparation,
    condEigenvectors: jr.diagnostics.condEigenvectors,
    projectionGapRatio: jr.diagnostics.projectionGapRatio,
    weights: Array.from(cp.weights),
  };
  return { C, A2, diagnostics };
}

/** ‖T − [[w; A, B, C]]‖ / ‖T‖ for an order-3 tensor. */
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

/**
 * Warn when a pseudo-inverse the mixed-moment step relies on is rank deficient (fewer than `K` = `sizeLabel`
 * independent directions) or ill-conditioned; `consequence` says what becomes unreliable.
 */
export function checkPinv(name: string, p: PinvResult, K: number, sizeLabel: string, consequence: string, log: RunLog): void {
  if (p.rank < K) log.warn(`pseudo-inverse of ${name} is rank deficient (rank ${p.rank} < ${sizeLabel} = ${K}): two neurons are (nearly) indistinguishable; ${consequence}`);
  else if (p.cond > 1e6) log.warn(`pseudo-inverse of ${name} is ill-conditioned (condition number ${p.cond.toExponential(2)}); ${consequence}`);
}

// ---------------------------------------------------------------------------------------------
// Output layer, refinement, variance share (DESIGN.md §5 step 6, §6)

/** Normal equations Σ g gᵀ (G, m×m) and Σ g yᵀ (C, m×dy) of the output-layer least squares, g = [states; 1]. */
export interface OutputLS {
  G: Float64Array;
  C: Float64Array;
}

/** Number of hidden states (dh, or dh + dz for a BRNN). */
export function stateCount(p: RNNParams): number {
  return p.kind === 'brnn' ? p.A1.rows + p.B1.rows : p.A1.rows;
}

/**
 * Σ [h;1][h;1]ᵀ and Σ [h;1] yᵀ for the output-layer least squares (DESIGN.md §5 step 6, first part); h = [h; z]
 * for a BRNN. Throws (a BlowUpError) if the states escape.
 */
export function accumulateOutputLS(p: RNNParams, chunk: SequenceChunk, acc: OutputLS, seqOffset: number): void {
  const K = stateCount(p), dy = chunk.dy, m = K + 1;
  if (p.kind !== 'brnn') {
    // Fused recursion + sums (no state array): same numbers, bit for bit, as the general path below.
    accumulateStatesLS(p, chunk, acc.G, acc.C, { sequenceOffset: seqOffset });
    mirrorUpper(acc.G, m);
    return;
  }
  const hidden = new Float64Array(chunk.rows * K);
  predictBRNN(p, chunk, { sequenceOffset: seqOffset, hidden });
  const g = new Float64Array(m);
  g[K] = 1;
  for (let r = 0; r < chunk.rows; r++) {
    for (let j = 0; j < K; j++) g[j] = hidden[r * K + j];
    for (let a = 0; a < m; a++) {
      const ga = g[a];
      for (let b = a; b < m; b++) acc.G[a * m + b] += ga * g[b];
      for (let i = 0; i < dy; i++) acc.C[a * dy + i] += ga * chunk.y[r * dy + i];
    }
  }
  for (let a = 0; a < m; a++) for (let b = 0; b < a; b++) acc.G[a * m + b] = acc.G[b * m + a];
}

/** Copy the upper triangle of the m×m row-major G to its lower triangle. */
function mirrorUpper(G: Float64Array, m: number): void {
  for (let a = 0; a < m; a++) for (let b = 0; b < a; b++) G[a * m + b] = G[b * m + a];
}

/** The solution W (m×dy, m = K + 1) of the output-layer least squares as A2 (K×dy) and b (dy). */
export function splitOutput(W: Float64Array, K: number, dy: number): { A2: Matrix; b: Float64Array } {
  return { A2: new Matrix(K, dy, W.slice(0, K * dy)), b: W.slice(K * dy, (K + 1) * dy) };
}

/** The same model with all recurrent weights zero (U = 0, and V = 0 for a BRNN): §6's feedforward baseline. */
export function withoutRecurrence<P extends RNNParams>(p: P): P {
  if (p.kind === 'brnn') return { ...p, U: new Matrix(p.U.rows, p.U.cols), V: new Matrix(p.V.rows, p.V.cols) };
  return { ...p, U: new Matrix(p.U.rows, p.U.cols) };
}

export interface OutputLayerPass {
  /** Normal equations for the model; valid only when `blownUp` is null. */
  model: OutputLS;
  /** Normal equations for the model without recurrence (always complete: its states cannot blow up). */
  feedforward: OutputLS;
  /** Whole sequences every `sampleStride`-th (empty without a stride), for the refinement. */
  sample: SequenceChunk[];
  /** The message of the blow-up if the model's states escaped on some chunk (then `model` is partial). */
  blownUp: string | null;
}

/**
 * The output-layer pass: normal equations for `model` and its U = 0 baseline over all data and (with
 * `sampleStride`) the refinement subsample. A blow-up of the model's states stops its accumulation only.
 */
export async function outputLayerPass(
  source: DataSource,
  model: RNNParams,
  opts: { sampleStride: number | null; onProgress?: ProgressCallback; totalRows: number },
): Promise<OutputLayerPass> {
  const m = stateCount(model) + 1, dy = source.dy;
  const reg: OutputLS = { G: new Float64Array(m * m), C: new Float64Array(m * dy) };
  const regFF: OutputLS = { G: new Float64Array(m * m), C: new Float64Array(m * dy) };
  const ffParams = withoutRecurrence(model);
  const sample: SequenceChunk[] = [];
  let blownUp: string | null = null;
  await forEachChunk(
    source,
    'output layer',
    (chunk, seqOffset) => {
      if (model.kind !== 'brnn' && blownUp === null) {
        // IO-RNN: the model and its U = 0 baseline in one fused loop (same sums, bit for bit, as below).
        const failure = accumulateStatesLS(model, chunk, reg.G, reg.C, { sequenceOffset: seqOffset, feedforward: regFF });
        if (failure) blownUp = failure.message;
        mirrorUpper(reg.G, m);
        mirrorUpper(regFF.G, m);
      } else {
        if (blownUp === null) {
          try {
            accumulateOutputLS(model, chunk, reg, seqOffset);
          } catch (e) {
            blownUp = (e as Error).message;
          }
        }
        accumulateOutputLS(ffParams, chunk, regFF, seqOffset);
      }
      if (opts.sampleStride !== null) {
        const sub = strideSubchunk(chunk, seqOffset, opts.sampleStride);
        if (sub) sample.push(keptSubchunk(source, sub, chunk));
      }
    },
    opts.onProgress,
    opts.totalRows,
  );
  return { model: reg, feedforward: regFF, sample, blownUp };
}

/** Stride that spreads about `maxRows` rows (whole sequences) evenly over `totalRows`. */
export function sampleStride(totalRows: number, maxRows: number): number {
  return Math.max(1, Math.ceil(totalRows / maxRows));
}

export interface OutputLayer<P extends RNNParams> {
  /** The model with the least-squares output layer (or `model` itself after a blow-up or without refit). */
  params: P;
  /** Condition number of the least squares, when it was solved. */
  cond?: number;
  /**
   * Spectral bias: ȳ = Â2ᵀ E[h] + b (the moments only see derivatives, so b comes from the means, E[h] from the
   * pass); ȳ itself after a blow-up.
   */
  spectralBias: Float64Array;
  /** Output layer of the U = 0 baseline. */
  feedforward: { A2: Matrix; b: Float64Array };
}

/**
 * Solve the output layer(s) of an `outputLayerPass` over `model`. After a blow-up the model keeps its spectral
 * output layer and a warning says `tooLarge` ('U is', 'U or V is') too large (and, with `refine`, that the
 * refinement starts from `shrunk` recurrent weights).
 */
export function solveOutputLayer<P extends RNNParams>(
  model: P,
  pass: OutputLayerPass,
  yMean: Float64Array,
  opts: { refit: boolean; refine: boolean; tooLarge: string; shrunk: string },
  log: RunLog,
): OutputLayer<P> {
  const K = stateCount(model), m = K + 1, dy = yMean.length;
  let params = model;
  let cond: number | undefined;
  if (pass.blownUp !== null) {
    log.warn(`the spectral estimate blows up on the training data (${pass.blownUp}); ${opts.tooLarge} too large for this data.${opts.refine ? ` Refinement starts from ${opts.shrunk}.` : ''}`);
  } else if (opts.refit) {
    const fit = solveOutputLS(pass.model.G, pass.model.C, m, dy);
    cond = fit.cond;
    params = { ...model, ...splitOutput(fit.W, K, dy) };
  }
  const spectralBias = yMean.slice();
  const n = pass.model.G[K * m + K];
  if (pass.blownUp === null && n > 0) {
    for (let i = 0; i < dy; i++) for (let j = 0; j < K; j++) spectralBias[i] -= model.A2.data[j * dy + i] * (pass.model.G[j * m + K] / n);
  }
  const feedforward = splitOutput(solveOutputLS(pass.feedforward.G, pass.feedforward.C, m, dy).W, K, dy);
  return { params, cond, spectralBias, feedforward };
}

/**
 * The last steps of every learner: the output-layer pass over `model` (with the refinement subsample when
 * `opts.refine`, default true) and its solution, timed as `lapName` (see `outputLayerPass`, `solveOutputLayer`);
 * then the refinement of §5 step 6 from the refitted model. `params` is the final model.
 */
export async function fitOutputAndRefine<P extends RNNParams>(
  source: DataSource,
  model: P,
  yMean: Float64Array,
  totalRows: number,
  opts: LearnerOptions,
  log: RunLog,
  labels: { tooLarge: string; shrunk: string; lapName: string },
): Promise<OutputLayer<P> & { sample: SequenceChunk[]; refine?: RefineSummary }> {
  const wantRefine = opts.refine ?? true;
  const pass = await outputLayerPass(source, model, {
    sampleStride: wantRefine ? sampleStride(totalRows, opts.refineMaxRows ?? 200_000) : null,
    onProgress: opts.onProgress,
    totalRows,
  });
  const out = solveOutputLayer(model, pass, yMean, { refit: opts.refitOutput ?? true, refine: wantRefine, tooLarge: labels.tooLarge, shrunk: labels.shrunk }, log);
  log.lap(labels.lapName);
  const refined = runRefinement(out.params, pass.sample, opts.seed ?? 0, opts.refineOptions, log);
  return { ...out, params: refined.params, sample: pass.sample, refine: refined.diagnostics };
}

/** Refinement (DESIGN.md §5 step 6) on the in-memory subsample; the model unchanged when the sample is empty. */
export function runRefinement<P extends RNNParams>(
  params: P,
  sample: SequenceChunk[],
  seed: number,
  options: RefineOptions | undefined,
  log: RunLog,
): { params: P; diagnostics?: RefineSummary } {
  if (sample.length === 0) return { params };
  // Least squares over P parameters needs clearly more residuals than P (else it fits the noise; the validation
  // split then has nothing to stop on): skip with a warning below 10 residuals per parameter.
  const P = packParams(params).length;
  const residuals = sample.reduce((m, c) => m + c.rows * c.dy, 0);
  if (residuals < 10 * P) {
    log.warn(`refinement skipped: its sample has ${residuals} output values for ${P} parameters (fewer than 10 per parameter); raise --refine-max-rows`);
    return { params };
  }
  const res = refine(params, sample, { seed, ...options });
  const { history, validationSequences, ...rest } = res.diagnostics;
  void validationSequences;
  log.lap('refine');
  return { params: res.params, diagnostics: { ...rest, historyLength: history.length } };
}

/**
 * Share of the model's output variance (around its own mean, per chunk) that goes away when the recurrent
 * weights are set to zero (same input and output layers): Σ (ŷ − ŷ₀)² / Σ (ŷ − mean ŷ)².
 */
export function varianceShare(p: RNNParams, chunks: SequenceChunk[]): number {
  const p0 = withoutRecurrence(p);
  const run = (q: RNNParams, c: SequenceChunk): Float64Array => (q.kind === 'brnn' ? predictBRNN(q, c) : forwardIORNN(q, c).yhat);
  let num = 0, den = 0;
  for (const c of chunks) {
    const y1 = run(p, c);
    const y0 = run(p0, c);
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

// ---------------------------------------------------------------------------------------------
// Sequence subsets of a chunk

/** The sequences of a chunk whose global index is a multiple of `stride` (copied; the chunk itself for stride 1), or null if none. */
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

export function copyChunk(c: SequenceChunk): SequenceChunk {
  return makeChunk(c.dx, c.dy, c.x.slice(), c.y.slice(), Int32Array.from(c.lengths));
}

/**
 * A subchunk to keep after the pass: `strideSubchunk` returns the chunk itself for stride 1, and a streaming
 * source may hand out buffers it later reuses, so those are copied (in-memory chunks are the caller's, stable).
 */
export function keptSubchunk(source: DataSource, sub: SequenceChunk, chunk: SequenceChunk): SequenceChunk {
  return sub === chunk && !source.inMemory ? copyChunk(sub) : sub;
}
