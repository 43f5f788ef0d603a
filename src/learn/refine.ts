/**
 * Refinement stage (DESIGN.md §5 step 6): starting from a spectral estimate, minimise the squared output
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
 * moment estimate alone is not (DESIGN.md §5 step 6).
 *
 * Safety: sequences are split (whole sequences, seeded) into training and validation; the iterate
 * that is best on validation is kept, and finally the better of START and refined. A trial point whose
 * states blow up (non-finite or |h| > 1e6, DESIGN.md §6) on training or validation data is a rejected
 * step, so the returned model never blows up on either split.
 */
import { Matrix } from '../linalg/matrix.js';
import { makeChunk, type SequenceChunk } from '../io/dataset.js';
import type { BRNNParams, IORNNParams, RNNParams } from '../models/params.js';
import { Rng } from '../random/rng.js';
import {
  BLOWUP_BOUND,
  cholesky,
  choleskySolve,
  gradientPass,
  makeLayout,
  sensitivityPass,
  solveOutputLS,
  statePass,
  type Layout,
} from './refine-core.js';

export { BLOWUP_BOUND } from './refine-core.js';

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
  /** Why the iteration stopped. */
  stopReason: 'tol' | 'maxIter' | 'earlyStopping' | 'noProgress' | 'outputOnly';
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
// Packing

/** Layout of a model's packed parameter vector (see refine-core.ts). */
export function layoutOf(params: RNNParams, dx?: number, dy?: number): Layout {
  const dh = params.A1.rows;
  const px = params.A1.cols, py = params.A2.cols;
  if (dx !== undefined && px !== dx) throw new RangeError(`refine: A1 is ${dh}x${px} but the data have dx = ${dx}`);
  if (dy !== undefined && py !== dy) throw new RangeError(`refine: A2 has ${py} columns but the data have dy = ${dy}`);
  if (params.U.rows !== dh || params.U.cols !== dh) throw new RangeError(`refine: U is ${params.U.rows}x${params.U.cols}, expected ${dh}x${dh}`);
  let dz = 0;
  let cb: readonly number[] = params.activation.coefficients;
  if (params.kind === 'brnn') {
    dz = params.B1.rows;
    if (params.B1.cols !== px) throw new RangeError(`refine: B1 is ${dz}x${params.B1.cols}, expected ${dz}x${px}`);
    if (params.V.rows !== dz || params.V.cols !== dz) throw new RangeError(`refine: V is ${params.V.rows}x${params.V.cols}, expected ${dz}x${dz}`);
    cb = (params.activationBackward ?? params.activation).coefficients;
  } else if (params.kind !== 'iornn') {
    throw new RangeError(`refine: unknown model kind ${(params as { kind: unknown }).kind}, expected 'iornn' or 'brnn'`);
  }
  if (params.A2.rows !== dh + dz) throw new RangeError(`refine: A2 has ${params.A2.rows} rows, expected ${dh + dz}`);
  if (params.b !== undefined && params.b.length !== py) throw new RangeError(`refine: b has length ${params.b.length}, expected ${py}`);
  for (const c of [params.activation.coefficients, cb]) {
    if (c.length < 2 || !c.every(Number.isFinite)) throw new RangeError('refine: activation coefficients must be finite, at least [c0, c1]');
  }
  return makeLayout(px, py, dh, dz, params.activation.coefficients, cb);
}

/** Packed θ = [A1, U, (B1, V), A2, b] (b = 0 if absent). */
export function packParams(params: RNNParams): Float64Array {
  const lay = layoutOf(params);
  const th = new Float64Array(lay.P);
  th.set(params.A1.data, 0);
  th.set(params.U.data, lay.oU);
  if (params.kind === 'brnn') {
    th.set(params.B1.data, lay.oB1);
    th.set(params.V.data, lay.oV);
  }
  th.set(params.A2.data, lay.oA2);
  if (params.b) th.set(params.b, lay.ob);
  for (let a = 0; a < th.length; a++) if (!Number.isFinite(th[a])) throw new RangeError('refine: parameters contain non-finite values');
  return th;
}

/** Inverse of packParams: a model of the same kind/activation as `template` with parameters θ (b always set). */
export function unpackParams<T extends RNNParams>(template: T, theta: Float64Array): T {
  const lay = layoutOf(template);
  if (theta.length !== lay.P) throw new RangeError(`unpackParams: θ has length ${theta.length}, expected ${lay.P}`);
  const { dx, dy, dh, dz } = lay;
  const A1 = new Matrix(dh, dx, theta.slice(0, lay.oU));
  const U = new Matrix(dh, dh, theta.slice(lay.oU, lay.oB1));
  const A2 = new Matrix(dh + dz, dy, theta.slice(lay.oA2, lay.ob));
  const b = theta.slice(lay.ob, lay.P);
  if (template.kind === 'brnn') {
    const B1 = new Matrix(dz, dx, theta.slice(lay.oB1, lay.oV));
    const V = new Matrix(dz, dz, theta.slice(lay.oV, lay.oA2));
    return { ...template, A1, U, B1, V, A2, b } as T;
  }
  return { ...template, A1, U, A2, b } as T;
}

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
 * the "A2/b refit by regression" step of DESIGN.md §5 step 6. `cond` is the 2-norm condition
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

/** Refit W = [A2; bᵀ] in place in θ; returns the new SSE (from the normal statistics) or null on blow-up. */
function refitOutput(lay: Layout, th: Float64Array, chunks: readonly SequenceChunk[]): { sse: number; rows: number; W: Float64Array; cond: number; rankDeficient: boolean } | null {
  const { m, dy, oA2 } = lay;
  const gram = { G: new Float64Array(m * m), C: new Float64Array(m * dy), yy: 0 };
  const pr = statePass(lay, th, chunks, gram);
  if (pr.blowup) return null;
  const { W, cond, rankDeficient } = solveOutputLS(gram.G, gram.C, m, dy);
  th.set(W, oA2);
  // SSE at the LS solution: Σ‖y‖² − 2 tr(WᵀC) + tr(WᵀGW).
  let sse = gram.yy;
  for (let i = 0; i < dy; i++) {
    for (let a = 0; a < m; a++) {
      const wa = W[a * dy + i];
      sse -= 2 * wa * gram.C[a * dy + i];
      let gw = 0;
      for (let b2 = 0; b2 < m; b2++) gw += gram.G[a * m + b2] * W[b2 * dy + i];
      sse += wa * gw;
    }
  }
  if (!(sse >= 0)) sse = Math.max(0, sse); // rounding only; sse is a sum of squares
  return { sse, rows: pr.rows, W, cond, rankDeficient };
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

// ---------------------------------------------------------------------------------------------
// Driver

interface Evaluated {
  theta: Float64Array;
  train: number; // MSE
  val: number | null; // MSE
}

/**
 * Refine a model on labelled sequences (DESIGN.md §5 step 6). See the module comment for the method;
 * returns the refined parameters (b always present) and diagnostics. Losses in diagnostics are MSE
 * (mean over rows·dy of squared errors).
 */
export function refine<T extends RNNParams>(params: T, train: SequenceChunk | readonly SequenceChunk[], opts: RefineOptions = {}): RefineResult<T> {
  const t0 = performance.now();
  const chunks = asChunks(train);
  const lay = layoutOf(params, chunks[0].dx, chunks[0].dy);
  const theta0 = packParams(params);
  const split = splitSequences(chunks, opts.validationFraction ?? 0.2, opts.seed ?? 0);
  const trainSet = split.train, valSet = split.val;
  const { dy, P } = lay;

  const evalOn = (th: Float64Array, set: readonly SequenceChunk[]): number => {
    const pr = statePass(lay, th, set);
    return pr.blowup ? Infinity : pr.sse / (pr.rows * dy);
  };
  const rowsOf = (set: readonly SequenceChunk[] | null) => (set ? set.reduce((s, c) => s + c.rows, 0) : 0);
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

  // Best-on-validation tracking (selection on training loss when there is no validation split).
  const score = (e: Evaluated) => (e.val === null ? e.train : e.val);
  let best: Evaluated | null = startOk ? { theta: theta0, train: trainLossStart, val: valLossStart } : null;
  let bestIsStart = startOk;
  let sinceBest = 0;
  const consider = (e: Evaluated): boolean => {
    if (best === null || score(e) < score(best)) {
      best = { theta: e.theta.slice(), train: e.train, val: e.val };
      bestIsStart = false;
      sinceBest = 0;
      return true;
    }
    sinceBest++;
    return false;
  };

  // Iterate 0: start (stabilised if needed), with the output layer refitted under VP.
  let cur: Evaluated;
  {
    const th = thStart.slice();
    let tr: number;
    if (vp) {
      const fit = refitOutput(lay, th, trainSet);
      if (fit === null) throw new Error('refine: internal error, stabilised start blows up');
      tr = fit.sse / (fit.rows * dy);
    } else tr = evalOn(th, trainSet);
    // Finite: the states do not depend on the output layer, and the (stabilised) start is finite on both splits.
    const va = valSet ? evalOn(th, valSet) : null;
    cur = { theta: th, train: tr, val: va };
    consider(cur);
    onIter({ iteration: 0, trainLoss: tr, valLoss: va, lambda: null, rejected: 0, blowups: 0, timeMs: performance.now() - t0 });
  }

  let iterations = 0;
  let curvatureRows: number | null = null;
  let stopReason: RefineDiagnostics['stopReason'] = 'outputOnly';
  if (method === 'lm') {
    const r = runLM(lay, cur, trainSet, valSet, { maxIter, tol, patience, vp, curvatureFraction, seed: opts.seed ?? 0 }, consider, () => sinceBest, onIter, t0);
    iterations = r.iterations;
    stopReason = r.stopReason;
    curvatureRows = r.curvatureRows;
  } else if (method === 'lbfgs') {
    const r = runLBFGS(lay, cur, trainSet, valSet, { maxIter, tol, patience }, consider, () => sinceBest, onIter, t0);
    iterations = r.iterations;
    stopReason = r.stopReason;
  }

  const fin = best as Evaluated | null;
  if (fin === null) throw new Error('refine: internal error, no admissible model');
  const keptStart = bestIsStart;
  const out = keptStart ? params : unpackParams(params, fin.theta);
  // Conditioning of the returned model's output regression [h_t; (z_t;) 1] on the training split.
  const gram = { G: new Float64Array(lay.m * lay.m), C: new Float64Array(lay.m * dy), yy: 0 };
  statePass(lay, fin.theta, trainSet, gram);
  const outputCond = solveOutputLS(gram.G, gram.C, lay.m, dy).cond;
  return {
    params: out,
    diagnostics: {
      method,
      variableProjection: vp,
      iterations,
      parameters: P,
      trainRows,
      validationRows: valRows,
      validationSequences: split.valIndices,
      trainLossStart,
      trainLossEnd: fin.train,
      valLossStart,
      valLossEnd: fin.val,
      keptStart,
      startStabilized,
      stopReason,
      outputCond,
      curvatureRows,
      history,
      timeMs: performance.now() - t0,
    },
  };
}

/** Shrink U (and V) by halves until the model no longer blows up on either split; U = V = 0 as a last resort. */
function stabilize(lay: Layout, theta: Float64Array, train: readonly SequenceChunk[], val: readonly SequenceChunk[] | null): Float64Array {
  const th = theta.slice();
  const ok = () => !statePass(lay, th, train).blowup && (val === null || !statePass(lay, th, val).blowup);
  for (let k = 0; k < 60; k++) {
    for (let a = lay.oU; a < lay.oB1; a++) th[a] *= 0.5;
    for (let a = lay.oV; a < lay.oA2; a++) th[a] *= 0.5;
    if (ok()) return th;
  }
  th.fill(0, lay.oU, lay.oB1);
  th.fill(0, lay.oV, lay.oA2);
  if (ok()) return th;
  throw new Error(`refine: the start model blows up on the data even with U = 0 (|h| > ${BLOWUP_BOUND}); rescale the inputs or A1`);
}

// ---------------------------------------------------------------------------------------------
// Levenberg–Marquardt

function runLM(
  lay: Layout,
  start: Evaluated,
  train: readonly SequenceChunk[],
  val: readonly SequenceChunk[] | null,
  o: { maxIter: number; tol: number; patience: number; vp: boolean; curvatureFraction: number; seed: number },
  consider: (e: Evaluated) => boolean,
  sinceBest: () => number,
  onIter: (i: RefineIterationInfo) => void,
  t0: number,
): { iterations: number; stopReason: RefineDiagnostics['stopReason']; curvatureRows: number } {
  const { P, oA2, dy } = lay;
  const N = new Float64Array(P * P), g = new Float64Array(P), A = new Float64Array(P * P), delta = new Float64Array(P);
  const D = new Float64Array(P), gScratch = new Float64Array(P);
  const curv = o.curvatureFraction < 1 ? curvatureSubset(train, o.curvatureFraction, o.seed) : null;
  const curvatureRows = (curv ?? { set: train }).set.reduce((acc, c) => acc + c.rows, 0);
  let th = start.theta.slice();
  let lambda = 1e-3, nu = 2;
  let curSSE = NaN;
  let curVal = start.val;
  for (let it = 1; it <= o.maxIter; it++) {
    N.fill(0);
    g.fill(0);
    let rows: number;
    if (curv === null) {
      const pr = sensitivityPass(lay, th, train, { N, g });
      if (pr.blowup) throw new Error('refine: internal error, accepted iterate blows up');
      curSSE = pr.sse;
      rows = pr.rows;
    } else {
      // Subsampled curvature: JᵀJ from exact sensitivities on a fixed subset of sequences, scaled to
      // the full training set; exact full-data gradient Jᵀr = ½ ∂SSE/∂θ by BPTT (≈20× cheaper per row).
      const ps = sensitivityPass(lay, th, curv.set, { N, g: gScratch });
      if (ps.blowup) throw new Error('refine: internal error, accepted iterate blows up');
      const pr = gradientPass(lay, th, train, g);
      if (pr.blowup) throw new Error('refine: internal error, accepted iterate blows up');
      const sc = pr.rows / ps.rows;
      for (let a = 0; a < N.length; a++) N[a] *= sc;
      for (let a = 0; a < P; a++) g[a] *= 0.5;
      curSSE = pr.sse;
      rows = pr.rows;
    }
    // Marquardt scaling: D = diag(N), floored so parameters with no current effect are still damped.
    let maxDiag = 0;
    for (let a = 0; a < P; a++) maxDiag = Math.max(maxDiag, N[a * P + a]);
    for (let a = 0; a < P; a++) D[a] = Math.max(N[a * P + a], 1e-9 * maxDiag, 1e-300);
    let rejected = 0, blowups = 0, accepted = false, converged = false;
    let relImp = 0;
    // Under VP the output block is eliminated exactly: only a tiny ridge there (raised if the block is
    // singular, e.g. a dead neuron with s_j ≡ 0).
    let ridgeOut = 1e-10;
    for (let trial = 0; trial < 40; trial++) {
      const dampOut = o.vp ? ridgeOut : lambda;
      A.set(N);
      for (let a = 0; a < P; a++) A[a * P + a] += (a >= oA2 ? dampOut : lambda) * D[a];
      if (!cholesky(A, P)) {
        if (o.vp && ridgeOut < 1e-2) ridgeOut *= 1e4;
        else { lambda *= nu; nu *= 2; }
        rejected++;
        continue;
      }
      for (let a = 0; a < P; a++) delta[a] = -g[a];
      choleskySolve(A, P, delta);
      // Predicted reduction of Σ‖r‖² under the linear model: −δᵀg + δᵀ(damping)δ.
      let pred = 0;
      for (let a = 0; a < P; a++) pred += -delta[a] * g[a] + (a >= oA2 ? dampOut : lambda) * D[a] * delta[a] * delta[a];
      // Stationary to working precision (e.g. g = 0): nothing left to gain, stop instead of damping forever.
      if (!(pred > 1e-14 * curSSE)) { converged = true; break; }
      const trialTh = th.slice();
      for (let a = 0; a < (o.vp ? oA2 : P); a++) trialTh[a] += delta[a];
      let newSSE: number;
      if (o.vp) {
        const fit = refitOutput(lay, trialTh, train);
        newSSE = fit === null ? Infinity : fit.sse;
      } else {
        const tp = statePass(lay, trialTh, train);
        newSSE = tp.blowup ? Infinity : tp.sse;
      }
      let newVal: number | null = null;
      if (Number.isFinite(newSSE) && val) {
        newVal = (() => { const vp2 = statePass(lay, trialTh, val); return vp2.blowup ? Infinity : vp2.sse / (vp2.rows * dy); })();
      }
      if (!Number.isFinite(newSSE) || (newVal !== null && !Number.isFinite(newVal))) {
        blowups++; rejected++;
        lambda *= nu; nu *= 2;
        continue;
      }
      const actual = curSSE - newSSE;
      const rho = pred > 0 ? actual / pred : -1;
      if (actual > 0 && rho > 0) {
        // Nielsen's update of the damping.
        lambda *= Math.max(1 / 3, 1 - Math.pow(2 * rho - 1, 3));
        nu = 2;
        relImp = actual / curSSE;
        th = trialTh;
        curSSE = newSSE;
        curVal = newVal;
        accepted = true;
        break;
      }
      rejected++;
      lambda *= nu; nu *= 2;
      if (lambda > 1e16) break;
    }
    const e: Evaluated = { theta: th, train: curSSE / (rows * dy), val: curVal };
    if (accepted) consider(e);
    onIter({ iteration: it, trainLoss: e.train, valLoss: e.val, lambda, rejected, blowups, timeMs: performance.now() - t0 });
    if (converged) return { iterations: it, stopReason: 'tol', curvatureRows };
    if (!accepted) return { iterations: it, stopReason: 'noProgress', curvatureRows };
    if (relImp < o.tol) return { iterations: it, stopReason: 'tol', curvatureRows };
    if (val && sinceBest() >= o.patience) return { iterations: it, stopReason: 'earlyStopping', curvatureRows };
  }
  return { iterations: o.maxIter, stopReason: 'maxIter', curvatureRows };
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
// L-BFGS

function runLBFGS(
  lay: Layout,
  start: Evaluated,
  train: readonly SequenceChunk[],
  val: readonly SequenceChunk[] | null,
  o: { maxIter: number; tol: number; patience: number },
  consider: (e: Evaluated) => boolean,
  sinceBest: () => number,
  onIter: (i: RefineIterationInfo) => void,
  t0: number,
): { iterations: number; stopReason: RefineDiagnostics['stopReason'] } {
  const { P, dy } = lay;
  const M = 10;
  const S: Float64Array[] = [], Y: Float64Array[] = [], RHO: number[] = [];
  let th = start.theta.slice();
  let g = new Float64Array(P);
  const fg = (t: Float64Array, out: Float64Array): number => {
    out.fill(0);
    const pr = gradientPass(lay, t, train, out);
    if (pr.blowup) return Infinity;
    const sc = 1 / (pr.rows * dy);
    for (let a = 0; a < P; a++) out[a] *= sc;
    return pr.sse * sc;
  };
  let f = fg(th, g);
  if (!Number.isFinite(f)) throw new Error('refine: internal error, start blows up');
  let curVal = start.val;
  const dir = new Float64Array(P), alpha = new Float64Array(M);
  let gNew = new Float64Array(P);
  for (let it = 1; it <= o.maxIter; it++) {
    // Two-loop recursion: dir = −H g.
    for (let a = 0; a < P; a++) dir[a] = -g[a];
    const k = S.length;
    for (let i = k - 1; i >= 0; i--) {
      let s = 0;
      for (let a = 0; a < P; a++) s += S[i][a] * dir[a];
      alpha[i] = RHO[i] * s;
      for (let a = 0; a < P; a++) dir[a] -= alpha[i] * Y[i][a];
    }
    let gamma: number;
    if (k > 0) {
      let sy = 0, yy = 0;
      for (let a = 0; a < P; a++) { sy += S[k - 1][a] * Y[k - 1][a]; yy += Y[k - 1][a] * Y[k - 1][a]; }
      gamma = sy / yy;
    } else {
      let gn = 0;
      for (let a = 0; a < P; a++) gn += g[a] * g[a];
      gamma = Math.min(1, 1e-2 / Math.sqrt(gn + 1e-300)) ; // cautious first step
    }
    for (let a = 0; a < P; a++) dir[a] *= gamma;
    for (let i = 0; i < k; i++) {
      let s = 0;
      for (let a = 0; a < P; a++) s += Y[i][a] * dir[a];
      const beta = RHO[i] * s;
      for (let a = 0; a < P; a++) dir[a] += (alpha[i] - beta) * S[i][a];
    }
    let slope = 0;
    for (let a = 0; a < P; a++) slope += g[a] * dir[a];
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = 0; Y.length = 0; RHO.length = 0;
      let gn = 0;
      for (let a = 0; a < P; a++) gn += g[a] * g[a];
      const sc = 1e-2 / Math.sqrt(gn + 1e-300);
      for (let a = 0; a < P; a++) dir[a] = -g[a] * sc;
      slope = -gn * sc;
      if (!(slope < 0)) return { iterations: it, stopReason: 'noProgress' };
    }
    // Backtracking Armijo line search; blow-up on train or validation counts as failure.
    let step = 1, accepted = false, rejected = 0, blowups = 0;
    let fNew = Infinity, newVal: number | null = null;
    const trial = new Float64Array(P);
    for (let ls = 0; ls < 40; ls++) {
      for (let a = 0; a < P; a++) trial[a] = th[a] + step * dir[a];
      fNew = fg(trial, gNew);
      if (Number.isFinite(fNew) && fNew <= f + 1e-4 * step * slope) {
        if (val) {
          const vp = statePass(lay, trial, val);
          newVal = vp.blowup ? Infinity : vp.sse / (vp.rows * dy);
        }
        if (newVal === null || Number.isFinite(newVal)) { accepted = true; break; }
      }
      if (!Number.isFinite(fNew) || (newVal !== null && !Number.isFinite(newVal))) blowups++;
      rejected++;
      newVal = null;
      step *= 0.5;
    }
    if (!accepted) {
      onIter({ iteration: it, trainLoss: f, valLoss: curVal, lambda: null, rejected, blowups, timeMs: performance.now() - t0 });
      if (S.length > 0) { S.length = 0; Y.length = 0; RHO.length = 0; continue; }
      return { iterations: it, stopReason: 'noProgress' };
    }
    const s = new Float64Array(P), y = new Float64Array(P);
    let sy = 0;
    for (let a = 0; a < P; a++) { s[a] = trial[a] - th[a]; y[a] = gNew[a] - g[a]; sy += s[a] * y[a]; }
    if (sy > 1e-12 * Math.sqrt(y.reduce((acc, v) => acc + v * v, 0) * s.reduce((acc, v) => acc + v * v, 0))) {
      S.push(s); Y.push(y); RHO.push(1 / sy);
      if (S.length > M) { S.shift(); Y.shift(); RHO.shift(); }
    }
    const relImp = (f - fNew) / f;
    th = trial.slice();
    { const tmp = g; g = gNew; gNew = tmp; }
    f = fNew;
    curVal = newVal;
    consider({ theta: th, train: f, val: curVal });
    onIter({ iteration: it, trainLoss: f, valLoss: curVal, lambda: null, rejected, blowups, timeMs: performance.now() - t0 });
    if (relImp < o.tol) return { iterations: it, stopReason: 'tol' };
    if (val && sinceBest() >= o.patience) return { iterations: it, stopReason: 'earlyStopping' };
  }
  return { iterations: o.maxIter, stopReason: 'maxIter' };
}

export type { IORNNParams, BRNNParams };
