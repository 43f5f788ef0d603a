import { Matrix, transpose } from '../linalg/matrix.js';
import { pinv } from '../linalg/pinv.js';
import { DataSource } from '../io/dataset.js';
import { UserError } from '../io/errors.js';
import { InputModel } from '../input/model.js';
import { ProjectedMixedAccumulator } from '../moments/mixed.js';
import { momentPass } from '../moments/accumulator.js';
import { Activation, IORNNParams, SQUARE } from '../models/params.js';
import { activationDegree } from '../models/activation.js';
import { TrainingData, forEachChunk } from './passes.js';
import { ODD_ACTIVATION_HINT, RankSelection } from './rank.js';
import {
  CPDiagnostics,
  LearnerDiagnostics,
  LearnerOptions,
  autoRank,
  centredChunk,
  checkPinv,
  controlVariateDiagnostics,
  cpOfT2,
  dataPasses,
  fitOutputAndRefine,
  runLog,
  t2AndRank,
  varianceShare,
  withSpill,
  withoutT2,
} from './common.js';

// Part of the public API (src/index.ts re-exports this module); they live in common.ts, shared by all learners.
export { accumulateOutputLS, colNorm, concat, relResidual, splitOutput, strideSubchunk, varianceShare } from './common.js';

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
export interface GloreeOptions extends LearnerOptions {
  /**
   * Number of hidden neurons dh (≤ dx and ≤ dy: A1 and A2 must have full row rank, DESIGN.md §2), or 'auto':
   * the number of singular values of the unfolded T2 above twice a split-sample noise floor (src/learn/rank.ts).
   */
  hidden: number | 'auto';
  /** Activation; only pure quadratics c₂z² are handled here (default z²). */
  activation?: Activation;
}

/** What the learner measured about the data and each step; stored in the model file. */
export interface GloreeDiagnostics extends LearnerDiagnostics {
  /** Singular-value spectrum of the unfolded T2, its split-sample noise floor and the rank rule (src/learn/rank.ts). */
  rank: ({ chosen: number; auto: boolean } & Omit<RankSelection, 'T2'>) | null;
  cp: CPDiagnostics;
  /** Smallest singular values (and condition numbers) behind each pseudo-inverse. */
  pinv: {
    A1: { sMin: number; cond: number };
    A2T: { sMin: number; cond: number };
    outputLayer?: { cond: number };
  };
  mixed: { steps: number };
  /** Share of the fitted model's output variance that goes away with U = 0 (same A1, A2). */
  varianceShareU?: number;
  /** The spectral estimate before any regression or refinement (b = ȳ − Â2ᵀ mean h). */
  spectral: { A1: number[][]; A2: number[][]; U: number[][]; b: number[] };
}

export interface GloreeResult {
  params: IORNNParams;
  inputModel: InputModel;
  diagnostics: GloreeDiagnostics;
}

export function quadraticCoefficient(act: Activation): number {
  const c = act.coefficients ?? [];
  const deg = activationDegree(act); // trailing zero coefficients do not raise the degree
  for (let m = 0; m < c.length; m++) {
    if (m !== 2 && (c[m] ?? 0) !== 0) {
      throw new UserError(
        `activation ${JSON.stringify(c)}: fitGloree handles σ(z) = c·z² only; use fitRNN (or fitGloreePoly) for other polynomial activations`,
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
  return withSpill(data, opts.spill, (source) => fitFromSource(source, opts));
}

async function fitFromSource(source: DataSource, opts: GloreeOptions): Promise<GloreeResult> {
  const { dx, dy } = source;
  const activation = opts.activation ?? SQUARE;
  const c2 = quadraticCoefficient(activation);
  const seed = opts.seed ?? 0;
  const log = runLog(opts.onWarning);

  if (opts.hidden !== 'auto') checkHidden(opts.hidden, dx, dy);

  // ---- Pass 1: input-model statistics, output means, data shape checks; pass 2: T2 (on even / odd halves),
  // control-variate normal equations, input residual moments.
  const { p1, input, p2 } = await dataPasses(source, 'GLOREE', opts, log, { t2: true, minSequences: 1 });
  const totalRows = p1.data.rows;
  const { yMean } = p1;
  const inputModel = input.model;
  const { cvFit } = p2;

  const { T2, rank: rankSel } = t2AndRank(p2.t2Halves!, dy, dx, opts.hidden, source.name);
  const dh = opts.hidden === 'auto' ? autoRank(rankSel!, log, `${'the outputs show no quadratic dependence on the inputs that GLOREE can use'}; ${ODD_ACTIVATION_HINT}`) : opts.hidden;

  // ---- CP of T2 (dy×dx×dx, modes 2–3 tied): T2 = 2c₂ Σ_j A2^(j) ⊗ a1_j ⊗ a1_j (DESIGN.md §4 F1).
  const { C: A1, A2, diagnostics: cpDiag } = cpOfT2(T2, dy, dx, dh, c2, seed);
  log.lap('cp');

  // ---- Pass 3: projected mixed moment → U (DESIGN.md §4 F4, §5 step 5).
  // With demix W = pinv(Â2ᵀ) and duals G = pinv(Â1): C[j,k] = 4c₂² U_jk (see ProjectedMixedAccumulator).
  const pA1 = pinv(A1);
  const pA2T = pinv(transpose(A2));
  for (const [name, p] of [['A1', pA1], ['A2ᵀ', pA2T]] as const) checkPinv(name, p, dh, 'dh', 'U is unreliable', log);
  const G = pA1.pinv; // dx×dh
  const mixed = new ProjectedMixedAccumulator(inputModel, dy, 'prev', pA2T.pinv, G, G, { target: cvFit ? 'residual' : 'y' });
  // Without the control variate, y is centred: E[H] = 0 keeps either unbiased, but an output offset would
  // add ‖ȳ‖²-sized variance to the third-order moment.
  await forEachChunk(source, 'mixed moment', (chunk) => momentPass(inputModel, cvFit ? chunk : centredChunk(chunk, yMean), [mixed], cvFit), opts.onProgress, totalRows);
  const Cjk = mixed.result();
  const U = new Matrix(dh, dh);
  for (let i = 0; i < dh * dh; i++) U.data[i] = Cjk[i] / (4 * c2 * c2);
  log.lap('pass3_mixed');

  const spectralParams: IORNNParams = { kind: 'iornn', A1, U, A2, b: yMean.slice(), activation };

  // ---- Pass 4: output layer by regression (model and U = 0 baseline), refinement subsample.
  // ---- Refinement (DESIGN.md §5 step 6) on the in-memory subsample.
  const out = await fitOutputAndRefine(source, spectralParams, yMean, totalRows, opts, log, { tooLarge: 'U is', shrunk: 'a shrunk U', lapName: 'pass4_output' });
  const { params, sample } = out;

  // Variance share carried by U (on the subsample, or skipped when refinement is off and no sample exists).
  let varianceShareU: number | undefined;
  if (sample.length > 0) varianceShareU = varianceShare(params, sample);

  const diagnostics: GloreeDiagnostics = {
    data: p1.data,
    rank: rankSel ? { chosen: dh, auto: opts.hidden === 'auto', ...withoutT2(rankSel) } : null,
    inputModel: p2.inputDiagnostics,
    cp: cpDiag,
    pinv: {
      A1: { sMin: pA1.sMin, cond: pA1.cond },
      A2T: { sMin: pA2T.sMin, cond: pA2T.cond },
      ...(out.cond !== undefined ? { outputLayer: { cond: out.cond } } : {}),
    },
    controlVariate: controlVariateDiagnostics(cvFit),
    mixed: { steps: mixed.count },
    varianceShareU,
    feedforward: { A2: out.feedforward.A2.toArray(), b: Array.from(out.feedforward.b) },
    spectral: { A1: A1.toArray(), A2: A2.toArray(), U: U.toArray(), b: Array.from(out.spectralBias) },
    refine: out.refine,
    timingsMs: log.timings,
    warnings: log.warnings,
  };
  return { params, inputModel, diagnostics };
}

function checkHidden(dh: number, dx: number, dy: number): void {
  if (!Number.isInteger(dh) || dh < 1) throw new UserError(`--hidden must be a positive integer or "auto", got ${dh}`);
  if (dh > dx || dh > dy) {
    throw new UserError(
      `--hidden ${dh} is larger than ${dh > dx ? `the input dimension dx = ${dx}` : `the output dimension dy = ${dy}`}: ` +
        `GLOREE needs A1 and A2 of full row rank, so dh ≤ min(dx, dy) = ${Math.min(dx, dy)} (DESIGN.md §2)` +
        (dh > dy ? `; with fewer outputs than neurons σ = z² is not identified — a cubic activation (--activation z3) identifies dh ≤ dx neurons even from a scalar output (App. E.2)` : ''),
    );
  }
}
