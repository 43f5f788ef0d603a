/**
 * The refinement's RNN problem adapter (docs/method.md §5 step 6): the squared output error of a packed IO-RNN
 * or BRNN (src/rnn/layout.ts) over whole training sequences, as a least-squares problem for
 * Levenberg–Marquardt (exact Gauss–Newton normal equations by forward sensitivities; with variable
 * projection the output layer [A2; bᵀ] is the linear block, refit exactly at every trial point) and as a
 * smooth problem for L-BFGS (MSE and its exact BPTT gradient). A point whose states blow up (the kernel's one
 * rule, docs/method.md §6) on the training or validation split is inadmissible.
 */
import type { SequenceChunk } from '../io/dataset.js';
import { residualSumOfSquares, solveNormalEquations } from '../linalg/lstsq.js';
import type { Layout } from '../rnn/layout.js';
import { statePass } from '../rnn/states.js';
import { sensitivityPass } from '../rnn/sensitivity.js';
import { gradientPass } from '../rnn/gradient.js';
import { BLOWUP_BOUND } from '../rnn/recurrence.js';
import type { LeastSquaresProblem } from '../optim/lm.js';
import type { SmoothProblem } from '../optim/lbfgs.js';
import type { GradientOffload } from './refine-threads.js';

/**
 * MSE = SSE / (rows·dy) of θ on a set, or Infinity if its states blow up. `burnIn` (here and below): the first
 * burnIn rows of every sequence warm up the state and are not counted (src/rnn/states.ts).
 */
export function mseOn(lay: Layout, th: Float64Array, set: readonly SequenceChunk[], burnIn = 0): number {
  const pr = statePass(lay, th, set, undefined, burnIn);
  return pr.blowup ? Infinity : pr.sse / (pr.rows * lay.dy);
}

/**
 * Refit W = [A2; bᵀ] in place in θ by least squares on [h_t; (z_t;) 1]; returns the SSE at the solution (from
 * the normal statistics), or null if the states blow up.
 */
export function refitOutput(lay: Layout, th: Float64Array, chunks: readonly SequenceChunk[], burnIn = 0): { sse: number; rows: number; W: Float64Array; cond: number; rankDeficient: boolean } | null {
  const { m, dy, oA2 } = lay;
  const gram = { G: new Float64Array(m * m), C: new Float64Array(m * dy), yy: 0 };
  const pr = statePass(lay, th, chunks, gram, burnIn);
  if (pr.blowup) return null;
  const { W, cond, rankDeficient } = solveNormalEquations(gram.G, gram.C, m, dy);
  th.set(W, oA2);
  const sse = residualSumOfSquares(gram.yy, gram.G, gram.C, W, m, dy);
  return { sse, rows: pr.rows, W, cond, rankDeficient };
}

/** 2-norm condition number of the output design matrix [h_t; (z_t;) 1] of θ on a set. */
export function outputCondition(lay: Layout, th: Float64Array, set: readonly SequenceChunk[], burnIn = 0): number {
  const gram = { G: new Float64Array(lay.m * lay.m), C: new Float64Array(lay.m * lay.dy), yy: 0 };
  statePass(lay, th, set, gram, burnIn);
  return solveNormalEquations(gram.G, gram.C, lay.m, lay.dy).cond;
}

/** Validation hook shared by both problems: MSE on the held-out sequences (Infinity on blow-up). */
function validator(lay: Layout, val: readonly SequenceChunk[] | null, burnIn: number): ((th: Float64Array) => number) | undefined {
  return val ? (th) => mseOn(lay, th, val, burnIn) : undefined;
}

/**
 * Least-squares problem for LM. `curvature` (a fixed subset of the training sequences, or null for all):
 * JᵀJ from exact sensitivities on the subset, scaled to the training set, with the exact full-data gradient
 * Jᵀr = ½ ∂SSE/∂θ by BPTT (≈20× cheaper per row than the sensitivities).
 */
export function leastSquaresProblem(
  lay: Layout, train: readonly SequenceChunk[], val: readonly SequenceChunk[] | null, trainRows: number,
  vp: boolean, curvature: readonly SequenceChunk[] | null, burnIn = 0, offload?: GradientOffload,
): LeastSquaresProblem {
  const { P, dy } = lay;
  const gScratch = new Float64Array(P);
  return {
    size: P,
    linearFrom: vp ? lay.oA2 : undefined,
    normalEquations(th, N, g) {
      if (curvature === null) {
        const pr = sensitivityPass(lay, th, train, { N, g }, burnIn);
        return pr.blowup ? Infinity : pr.sse;
      }
      // `offload`: the gradient pass runs on another thread meanwhile (src/learn/refine-threads.ts; the same bits).
      const pending = offload?.(th);
      const ps = sensitivityPass(lay, th, curvature, { N, g: gScratch }, burnIn);
      const done = pending?.(g) ?? null;
      if (ps.blowup) return Infinity;
      const pr = done ?? gradientPass(lay, th, train, g, burnIn);
      if (pr.blowup) return Infinity;
      const sc = pr.rows / ps.rows;
      for (let a = 0; a < N.length; a++) N[a] *= sc;
      for (let a = 0; a < P; a++) g[a] *= 0.5;
      return pr.sse;
    },
    sumOfSquares(th) {
      if (vp) {
        const fit = refitOutput(lay, th, train, burnIn);
        return fit === null ? Infinity : fit.sse;
      }
      const tp = statePass(lay, th, train, undefined, burnIn);
      return tp.blowup ? Infinity : tp.sse;
    },
    loss: (sse) => sse / (trainRows * dy),
    validate: validator(lay, val, burnIn),
  };
}

/** Smooth problem for L-BFGS: the training MSE and its exact BPTT gradient. */
export function smoothProblem(lay: Layout, train: readonly SequenceChunk[], val: readonly SequenceChunk[] | null, burnIn = 0): SmoothProblem {
  const { P, dy } = lay;
  return {
    size: P,
    lossAndGradient(th, out) {
      out.fill(0);
      const pr = gradientPass(lay, th, train, out, burnIn);
      if (pr.blowup) return Infinity;
      const sc = 1 / (pr.rows * dy);
      for (let a = 0; a < P; a++) out[a] *= sc;
      return pr.sse * sc;
    },
    validate: validator(lay, val, burnIn),
  };
}

/** Shrink U (and V) by halves until the model no longer blows up on either split; U = V = 0 as a last resort. */
export function stabilize(lay: Layout, theta: Float64Array, train: readonly SequenceChunk[], val: readonly SequenceChunk[] | null): Float64Array {
  const th = theta.slice();
  // Blow-up is judged on every row (burn-in rows included), so no burn-in here.
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
