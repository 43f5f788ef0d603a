/**
 * Refinement stage (docs/method.md §5 step 6): starting from a spectral estimate, minimise the squared output
 * error Σ_t ‖y_t − (A2ᵀ h_t + b)‖² over whole training sequences with a second-order local method.
 *
 * - `lm`: Levenberg–Marquardt / Gauss–Newton with EXACT Jacobians from forward sensitivities (RTRL),
 *   accumulating JᵀJ and Jᵀr per step without storing J. By default with variable projection: the
 *   output layer (A2, b) is linear, so every trial point refits it exactly by least squares and the
 *   Gauss–Newton step on (A1, U) is taken on the reduced problem (Kaufman's approximation: Schur
 *   complement of the normal matrix, damping on the hidden block only).
 * - `lbfgs`: L-BFGS on exact full-sequence BPTT gradients (for large parameter counts).
 *
 * Why: one Newton-type step from a √n-consistent start is asymptotically efficient, whereas the
 * moment estimate alone is not (docs/method.md §5 step 6).
 *
 * Safety: sequences are split (whole sequences, seeded) into training and validation; the iterate
 * that is best on validation is kept, and finally the better of START and refined. A trial point whose
 * states blow up (the RNN kernel's rule, docs/method.md §6) on training or validation data is a rejected
 * step, so the returned model never blows up on either split; if the derivatives cannot be evaluated at an
 * accepted iterate, the optimiser stops and the best admissible iterate is returned (stopReason 'failed').
 *
 * The optimisers (src/optim/) know nothing of RNNs: this module builds the RNN problem (./rnn-problem.ts) and
 * the model selection around them.
 */
import { Matrix } from '../linalg/matrix.js';
import { makeChunk, type SequenceChunk } from '../io/dataset.js';
import type { BRNNParams, IORNNParams, RNNParams } from '../models/params.js';
import { Rng } from '../random/rng.js';
import { layoutOf, packParams, unpackParams } from '../rnn/layout.js';
import { BLOWUP_BOUND } from '../rnn/recurrence.js';
import { statePass } from '../rnn/states.js';
import { sensitivityPass } from '../rnn/sensitivity.js';
import { gradientPass } from '../rnn/gradient.js';
import { BestTracker, type IterationInfo, type OptimOptions } from '../optim/problem.js';
import { levenbergMarquardt } from '../optim/lm.js';
import { lbfgs } from '../optim/lbfgs.js';
import { leastSquaresProblem, mseOn, outputCondition, refitOutput, smoothProblem, stabilize } from './rnn-problem.js';
import { gradientOnPool } from './refine-threads.js';
import type { ChunkPool } from './chunk-pool.js';

export { BLOWUP_BOUND } from '../rnn/recurrence.js';
export { layoutOf, packParams, unpackParams } from '../rnn/layout.js';

export type RefineMethod = 'auto' | 'lm' | 'lbfgs';

export interface RefineOptions {
  /** 'auto' (default) picks 'lm' when P ≤ 300 (and, for a BRNN, the per-sequence sensitivity buffer is small), else 'lbfgs'. */
  method?: RefineMethod;
  /** Maximum iterations (Jacobian evaluations for LM, gradient iterations for L-BFGS). Default 50 (LM), 300 (L-BFGS). */
  maxIter?: number;
  /** Stop when an accepted step improves the training loss by less than this fraction. Default 1e-6 (LM), 1e-9 (L-BFGS). */
  tol?: number;
  /** Fraction of whole sequences held out for early stopping / model selection. Default 0.2; 0 disables. */
  validationFraction?: number;
  /** Seed of the sequence split. Default 0. */
  seed?: number;
  /**
   * An explicit held-out set for early stopping (e.g. the last block of one long recording, src/learn/refine-windows.ts):
   * then the training data are not split and `validationFraction` is ignored.
   */
  validation?: readonly SequenceChunk[];
  /**
   * Rows at the start of every sequence (training and validation) that only warm up the state from h = 0 and are not
   * in the loss: for windows cut from a longer recording. Default 0.
   */
  burnIn?: number;
  /** Only refit (A2, b) by least squares given A1, U (and B1, V); no iterative refinement. */
  refineOutputOnly?: boolean;
  /** Variable projection: LM refits A2, b exactly by least squares at every trial point (Kaufman step on the
   * hidden block); L-BFGS refits them once at the start. Default true. */
  variableProjection?: boolean;
  /**
   * LM only: fraction of training sequences on which JᵀJ is accumulated (exact sensitivities on a fixed
   * seeded subset, scaled up); the gradient Jᵀr stays exact on all training data (BPTT); 1 = exact
   * Gauss–Newton. Default 'auto' = min(1, max(2e4, 200·P)/trainRows), i.e. exact below ~2e4 training rows;
   * measured at 1e5 rows, dx=dy=dh=4, the fraction 0.1 reached the same loss in 5 iterations instead of 4
   * at a fifth of the CPU time (the JᵀJ accumulation costs ≈20× a BPTT gradient per row).
   */
  curvatureFraction?: number | 'auto';
  /** Stop after this many accepted iterations without a new best validation loss. Default 5 (LM), 20 (L-BFGS). */
  patience?: number;
  /** Called after every iteration. */
  onIteration?: (info: RefineIterationInfo) => void;
}

export interface RefineIterationInfo {
  iteration: number;
  /** Training MSE (mean over rows·dy of squared errors) at the current iterate. */
  trainLoss: number;
  /** Validation MSE at the current iterate (null without a validation split). */
  valLoss: number | null;
  /** LM damping after the iteration (null for L-BFGS). */
  lambda: number | null;
  /** Rejected trial steps in this iteration (LM) or backtracking halvings (L-BFGS). */
  rejected: number;
  /** Trial points rejected because the states blew up. */
  blowups: number;
  timeMs: number;
}

export interface RefineDiagnostics {
  method: 'lm' | 'lbfgs' | 'output-only';
  variableProjection: boolean;
  iterations: number;
  /** Number of parameters P. */
  parameters: number;
  trainRows: number;
  validationRows: number;
  /** Indices (global, over all input chunks in order) of the sequences held out for validation. */
  validationSequences: number[];
  /** MSE = Σ‖ŷ−y‖² / (rows·dy) of the start model (Infinity if it blew up). */
  trainLossStart: number;
  trainLossEnd: number;
  valLossStart: number | null;
  valLossEnd: number | null;
  /** True if the returned model is the start model (it was at least as good on validation). */
  keptStart: boolean;
  /** True if the start model blew up and U (V) were shrunk to obtain a stable starting point. */
  startStabilized: boolean;
  /**
   * Why the iteration stopped. 'failed': the derivatives could not be evaluated at an accepted iterate (e.g.
   * a BPTT gradient overflowed); the result is then the best admissible iterate so far (see `failure`).
   */
  stopReason: 'tol' | 'maxIter' | 'earlyStopping' | 'noProgress' | 'outputOnly' | 'failed';
  /** Set when stopReason is 'failed': what failed, and that the best admissible iterate was returned. */
  failure?: string;
  /** LM: training rows on which JᵀJ was accumulated (= trainRows for exact Gauss–Newton); null otherwise. */
  curvatureRows: number | null;
  /** 2-norm condition number of the returned model's output design matrix [h_t; 1] on the training split. */
  outputCond: number;
  history: RefineIterationInfo[];
  timeMs: number;
}

export interface RefineResult<T extends RNNParams> {
  params: T;
  diagnostics: RefineDiagnostics;
}

// ---------------------------------------------------------------------------------------------
// Public helpers: Jacobian, loss/gradient, output layer (θ packed as in `packParams`, src/rnn/layout.ts)

function asChunks(train: SequenceChunk | readonly SequenceChunk[]): SequenceChunk[] {
  const list = Array.isArray(train) ? [...train] : [train as SequenceChunk];
  if (list.length === 0) throw new RangeError('refine: no training data (empty chunk list)');
  const { dx, dy } = list[0];
  for (const c of list) {
    if (c.dx !== dx || c.dy !== dy) throw new RangeError(`refine: chunks disagree on dx/dy (${c.dx}/${c.dy} vs ${dx}/${dy})`);
  }
  if (dy < 1) throw new RangeError('refine: the data have no outputs (dy = 0); refinement needs labelled sequences');
  for (const c of list) {
    for (let a = 0; a < c.x.length; a++) if (!Number.isFinite(c.x[a])) throw new RangeError(`refine: input x has a non-finite value at row ${Math.floor(a / dx)}`);
    for (let a = 0; a < c.y.length; a++) if (!Number.isFinite(c.y[a])) throw new RangeError(`refine: output y has a non-finite value at row ${Math.floor(a / dy)}`);
  }
  return list;
}

// ---------------------------------------------------------------------------------------------
// Public helpers: Jacobian, loss/gradient, output layer

/**
 * Dense output Jacobian of an IO-RNN (or BRNN) over one chunk: J is (rows·dy)×P, row t·dy + i is
 * ∂ŷ_t[i]/∂θ with θ packed as in `packParams`; `residual[t·dy + i] = ŷ_t[i] − y_t[i]`.
 * For tests and small problems only (memory rows·dy·P).
 */
export function ioRNNJacobian(params: RNNParams, chunk: SequenceChunk): { J: Matrix; residual: Float64Array; blowup: boolean } {
  const lay = layoutOf(params, chunk.dx, chunk.dy);
  const th = packParams(params);
  const J = new Float64Array(chunk.rows * lay.dy * lay.P);
  const res = new Float64Array(chunk.rows * lay.dy);
  const pr = sensitivityPass(lay, th, [chunk], { J, res });
  return { J: new Matrix(chunk.rows * lay.dy, lay.P, J), residual: res, blowup: pr.blowup };
}

/** Same as `ioRNNJacobian`, named for BRNNs. */
export const rnnJacobian = ioRNNJacobian;

/**
 * Sum of squared errors SSE = Σ_t ‖ŷ_t − y_t‖², MSE = SSE/(rows·dy), and the exact gradient
 * ∂SSE/∂θ (= 2 Jᵀr) by full-sequence BPTT, θ packed as in `packParams`. Throws if the states blow up.
 */
export function lossAndGradient(params: RNNParams, data: SequenceChunk | readonly SequenceChunk[]): { sse: number; mse: number; gradient: Float64Array; rows: number } {
  const chunks = asChunks(data);
  const lay = layoutOf(params, chunks[0].dx, chunks[0].dy);
  const th = packParams(params);
  const grad = new Float64Array(lay.P);
  const pr = gradientPass(lay, th, chunks, grad);
  if (pr.blowup) throw new Error(`lossAndGradient: the model blows up on the data (|h| > ${BLOWUP_BOUND} or non-finite)`);
  return { sse: pr.sse, mse: pr.sse / (pr.rows * lay.dy), gradient: grad, rows: pr.rows };
}

/** MSE of a model on data, or Infinity if its states blow up. */
export function meanSquaredError(params: RNNParams, data: SequenceChunk | readonly SequenceChunk[]): number {
  const chunks = asChunks(data);
  const lay = layoutOf(params, chunks[0].dx, chunks[0].dy);
  const pr = statePass(lay, packParams(params), chunks);
  return pr.blowup ? Infinity : pr.sse / (pr.rows * lay.dy);
}

/**
 * Output layer by least squares of y_t on [h_t; 1] (BRNN: [h_t; z_t; 1]) given the hidden layer:
 * the "A2/b refit by regression" step of docs/method.md §5 step 6. `cond` is the 2-norm condition
 * number of the design matrix (large ⇒ some neurons are nearly collinear or dead; their weights are
 * then the minimum-norm solution). Throws if the hidden states blow up on the data.
 */
export function fitOutputLayer(params: RNNParams, data: SequenceChunk | readonly SequenceChunk[]): { A2: Matrix; b: Float64Array; cond: number; rankDeficient: boolean } {
  const chunks = asChunks(data);
  const lay = layoutOf(params, chunks[0].dx, chunks[0].dy);
  const th = packParams(params);
  const fit = refitOutput(lay, th, chunks);
  if (fit === null) throw new Error(`fitOutputLayer: the hidden states blow up on the data (|h| > ${BLOWUP_BOUND} or non-finite)`);
  const { dh, dz, dy } = lay;
  return {
    A2: new Matrix(dh + dz, dy, fit.W.slice(0, (dh + dz) * dy)),
    b: fit.W.slice((dh + dz) * dy),
    cond: fit.cond,
    rankDeficient: fit.rankDeficient,
  };
}

// ---------------------------------------------------------------------------------------------
// Split

interface Split {
  train: SequenceChunk[];
  val: SequenceChunk[] | null;
  valIndices: number[];
}

/** Split whole sequences into train/validation, deterministic in `seed`; copies into two contiguous chunks. */
export function splitSequences(chunks: readonly SequenceChunk[], fraction: number, seed: number): Split {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`refine: validationFraction must be in [0, 1), got ${fraction}`);
  const seqs: { c: number; r0: number; L: number }[] = [];
  chunks.forEach((c, ci) => {
    let r0 = 0;
    for (let k = 0; k < c.lengths.length; k++) {
      seqs.push({ c: ci, r0, L: c.lengths[k] });
      r0 += c.lengths[k];
    }
  });
  const n = seqs.length;
  let nVal = Math.round(fraction * n);
  if (fraction > 0 && nVal === 0 && n >= 2) nVal = 1;
  if (nVal >= n) nVal = n - 1;
  if (nVal <= 0) return { train: [...chunks], val: null, valIndices: [] };
  // Fisher–Yates on the indices; the first nVal are validation.
  const rng = new Rng(seed);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = idx[i]; idx[i] = idx[j]; idx[j] = tmp;
  }
  const isVal = new Uint8Array(n);
  for (let i = 0; i < nVal; i++) isVal[idx[i]] = 1;
  const build = (flag: number): SequenceChunk => {
    const { dx, dy } = chunks[0];
    let rows = 0;
    const lengths: number[] = [];
    for (let i = 0; i < n; i++) if (isVal[i] === flag) { rows += seqs[i].L; lengths.push(seqs[i].L); }
    const x = new Float64Array(rows * dx), y = new Float64Array(rows * dy);
    let o = 0;
    for (let i = 0; i < n; i++) {
      if (isVal[i] !== flag) continue;
      const { c, r0, L } = seqs[i];
      x.set(chunks[c].x.subarray(r0 * dx, (r0 + L) * dx), o * dx);
      y.set(chunks[c].y.subarray(r0 * dy, (r0 + L) * dy), o * dy);
      o += L;
    }
    return makeChunk(dx, dy, x, y, lengths);
  };
  const valIndices: number[] = [];
  for (let i = 0; i < n; i++) if (isVal[i]) valIndices.push(i);
  return { train: [build(0)], val: [build(1)], valIndices };
}

/** A fixed, seeded subset of the training sequences for the curvature (null if it would be everything). */
function curvatureSubset(train: readonly SequenceChunk[], fraction: number, seed: number): { set: SequenceChunk[] } | null {
  let nSeq = 0;
  for (const c of train) nSeq += c.lengths.length;
  if (nSeq < 2 || Math.round(fraction * nSeq) >= nSeq) return null;
  // splitSequences holds out round(fraction·n) sequences: use that part as the subset.
  const sp = splitSequences(train, fraction, seed ^ 0x5bd1e995);
  return sp.val ? { set: sp.val } : null;
}

// ---------------------------------------------------------------------------------------------
// Driver

/**
 * Refine a model on labelled sequences (docs/method.md §5 step 6). See the module comment for the method;
 * returns the refined parameters (b always present) and diagnostics. Losses in diagnostics are MSE
 * (mean over rows·dy of squared errors).
 */
export function refine<T extends RNNParams>(params: T, train: SequenceChunk | readonly SequenceChunk[], opts: RefineOptions = {}, pool: ChunkPool | null = null): RefineResult<T> {
  const t0 = performance.now();
  const chunks = asChunks(train);
  const lay = layoutOf(params, chunks[0].dx, chunks[0].dy);
  const theta0 = packParams(params);
  const burnIn = opts.burnIn ?? 0;
  if (!(Number.isInteger(burnIn) && burnIn >= 0)) throw new RangeError(`refine: burnIn must be a non-negative integer, got ${burnIn}`);
  const split: Split = opts.validation
    ? { train: chunks, val: opts.validation.length > 0 ? asChunks(opts.validation) : null, valIndices: [] }
    : splitSequences(chunks, opts.validationFraction ?? 0.2, opts.seed ?? 0);
  const trainSet = split.train, valSet = split.val;
  const { dy, P } = lay;

  const evalOn = (th: Float64Array, set: readonly SequenceChunk[]): number => mseOn(lay, th, set, burnIn);
  // Rows counted in the loss (each sequence's burn-in excluded).
  const rowsOf = (set: readonly SequenceChunk[] | null) =>
    set ? set.reduce((s, c) => s + c.rows - Array.from(c.lengths).reduce((b, L) => b + Math.min(burnIn, L), 0), 0) : 0;
  const trainRows = rowsOf(trainSet), valRows = rowsOf(valSet);
  if (trainRows === 0) throw new RangeError('refine: no training rows');

  // Start model; shrink the recurrences if it blows up (a blown-up start is not eligible for keeping).
  const trainLossStart = evalOn(theta0, trainSet);
  const valLossStart = valSet ? evalOn(theta0, valSet) : null;
  const startOk = Number.isFinite(trainLossStart) && (valLossStart === null || Number.isFinite(valLossStart));
  let thStart = theta0;
  let startStabilized = false;
  if (!startOk) {
    thStart = stabilize(lay, theta0, trainSet, valSet);
    startStabilized = true;
  }

  let method: RefineDiagnostics['method'];
  if (opts.refineOutputOnly) method = 'output-only';
  else {
    const req = opts.method ?? 'auto';
    if (req !== 'auto' && req !== 'lm' && req !== 'lbfgs') throw new RangeError(`refine: unknown method '${String(req)}', expected 'auto', 'lm' or 'lbfgs'`);
    if (req === 'auto') {
      const Lmax = chunks.reduce((mx, c) => c.lengths.reduce((a, b) => Math.max(a, b), mx), 0);
      method = P <= 300 && Lmax * lay.dz * lay.Qb <= 3e7 ? 'lm' : 'lbfgs';
    } else method = req;
    if (method === 'lm' && lay.dz > 0) {
      const Lmax = chunks.reduce((mx, c) => c.lengths.reduce((a, b) => Math.max(a, b), mx), 0);
      // Backward sensitivities of a whole sequence are stored (Lmax·dz·Qb doubles).
      if (Lmax * lay.dz * lay.Qb > 1e8) throw new RangeError(`refine: LM for a BRNN needs ${Lmax}·${lay.dz}·${lay.Qb} doubles of sensitivity storage (sequence too long); use method 'lbfgs'`);
    }
  }
  const vp = method === 'output-only' ? true : opts.variableProjection ?? true;
  const maxIter = opts.maxIter ?? (method === 'lbfgs' ? 300 : 50);
  const tol = opts.tol ?? (method === 'lbfgs' ? 1e-9 : 1e-6);
  const patience = opts.patience ?? (method === 'lbfgs' ? 20 : 5);
  if (!(Number.isInteger(maxIter) && maxIter >= 0)) throw new RangeError(`refine: maxIter must be a non-negative integer, got ${maxIter}`);
  const cfOpt = opts.curvatureFraction ?? 'auto';
  const curvatureFraction = cfOpt === 'auto' ? Math.min(1, Math.max(2e4, 200 * P) / trainRows) : cfOpt;
  if (!(curvatureFraction > 0 && curvatureFraction <= 1)) throw new RangeError(`refine: curvatureFraction must be in (0, 1], got ${curvatureFraction}`);
  if (!(tol >= 0)) throw new RangeError(`refine: tol must be ≥ 0, got ${tol}`);

  const history: RefineIterationInfo[] = [];
  const onIter = (info: RefineIterationInfo) => {
    history.push(info);
    opts.onIteration?.(info);
  };
  const onOptimIter = (i: IterationInfo) => onIter({
    iteration: i.iteration, trainLoss: i.loss, valLoss: i.val, lambda: i.lambda, rejected: i.rejected, blowups: i.inadmissible, timeMs: performance.now() - t0,
  });

  // Best-on-validation tracking (selection on training loss without a validation split); the start model as
  // given is eligible when it does not blow up.
  const tracker = new BestTracker();
  if (startOk) tracker.seed({ theta: theta0, loss: trainLossStart, val: valLossStart }, 'start');

  // Iterate 0: start (stabilised if needed), with the output layer refitted under VP.
  const th = thStart.slice();
  let tr: number;
  if (vp) {
    const fit = refitOutput(lay, th, trainSet, burnIn);
    if (fit === null) throw new Error('refine: internal error, stabilised start blows up');
    tr = fit.sse / (fit.rows * dy);
  } else tr = evalOn(th, trainSet);
  // Finite: the states do not depend on the output layer, and the (stabilised) start is finite on both splits.
  const va = valSet ? evalOn(th, valSet) : null;
  tracker.offer({ theta: th, loss: tr, val: va });
  onIter({ iteration: 0, trainLoss: tr, valLoss: va, lambda: null, rejected: 0, blowups: 0, timeMs: performance.now() - t0 });

  let iterations = 0;
  let curvatureRows: number | null = null;
  let stopReason: RefineDiagnostics['stopReason'] = 'outputOnly';
  let failure: string | undefined;
  const o: OptimOptions = { maxIter, tol, patience, onIteration: onOptimIter };
  const start = { theta: th, val: va };
  if (method === 'lm') {
    const curv = curvatureFraction < 1 ? curvatureSubset(trainSet, curvatureFraction, opts.seed ?? 0) : null;
    curvatureRows = rowsOf((curv ?? { set: trainSet }).set);
    const offload = curv && pool ? gradientOnPool(pool, lay, trainSet, burnIn) : undefined;
    const r = levenbergMarquardt(leastSquaresProblem(lay, trainSet, valSet, trainRows, vp, curv ? curv.set : null, burnIn, offload), start, tracker, o);
    iterations = r.iterations;
    stopReason = r.stopReason;
    failure = r.failure;
  } else if (method === 'lbfgs') {
    const r = lbfgs(smoothProblem(lay, trainSet, valSet, burnIn), start, tracker, o);
    iterations = r.iterations;
    stopReason = r.stopReason;
    failure = r.failure;
  }

  const fin = tracker.best;
  if (fin === null) throw new Error('refine: internal error, no admissible model');
  const keptStart = tracker.bestTag === 'start';
  const out = keptStart ? params : unpackParams(params, fin.theta);
  // Conditioning of the returned model's output regression [h_t; (z_t;) 1] on the training split.
  const outputCond = outputCondition(lay, fin.theta, trainSet, burnIn);
  const diagnostics: RefineDiagnostics = {
    method,
    variableProjection: vp,
    iterations,
    parameters: P,
    trainRows,
    validationRows: valRows,
    validationSequences: split.valIndices,
    trainLossStart,
    trainLossEnd: fin.loss,
    valLossStart,
    valLossEnd: fin.val,
    keptStart,
    startStabilized,
    stopReason,
    outputCond,
    curvatureRows,
    history,
    timeMs: performance.now() - t0,
  };
  if (failure !== undefined) diagnostics.failure = `${failure}; returned the best admissible iterate (${keptStart ? 'the start model' : 'by validation loss'})`;
  return { params: out, diagnostics };
}

export type { IORNNParams, BRNNParams };
