import { Matrix, transpose } from '../linalg/matrix.js';
import { pinv } from '../linalg/pinv.js';
import { DataSource, SequenceChunk, makeChunk } from '../io/dataset.js';
import { UserError } from '../io/errors.js';
import { InputModel } from '../input/model.js';
import { ProjectedMixedAccumulator } from '../moments/mixed.js';
import { momentPass } from '../moments/accumulator.js';
import { BRNNParams, SQUARE } from '../models/params.js';
import { forEachChunk, TrainingData } from './passes.js';
import { ODD_ACTIVATION_HINT, RankSelection } from './rank.js';
import { GloreeOptions, quadraticCoefficient } from './gloree.js';
import {
  CPDiagnostics,
  LearnerDiagnostics,
  autoRank,
  centredChunk,
  checkPinv,
  concat,
  controlVariateDiagnostics,
  cpOfT2,
  dataPasses,
  fitOutputAndRefine,
  rankFromHalves,
  runLog,
  varianceShare,
  withSpill,
  withoutT2,
} from './common.js';

/**
 * GLOREE-B: the bidirectional learner (DESIGN.md §2 BRNN, §4 F5; the paper's Algorithm 2 for σ = c₂z²).
 *
 *   h_t = σ(A1 x_t + U h_{t−1}),  z_t = σ(B1 x_t + V z_{t+1}),  y_t = A2ᵀ [h_t; z_t] + b.
 *
 * Passes over the data (each streaming; memory independent of the number of rows), as in `fitGloree`:
 *  1. input-model sufficient statistics and output means;
 *  2. T2 = mean_t (y_t − ȳ) ⊗ S2(t) over all steps (on even / odd sequences, for the rank rule of `total: 'auto'`),
 *     control-variate normal equations, input residual moments; CP of T2 with rank K = dh + dz gives every input
 *     direction (rows of [A1; B1], in unknown order) and every output row (F5: F1 sums over all neurons, forward
 *     and backward alike);
 *  3. BOTH mixed moments, (t; t−1, t−1) ('prev') and (t; t+1, t+1) ('next'), of the control-variate residuals,
 *     demixed with pinv(Â2ᵀ) over all K components and projected on the duals G = pinv(Â) of all K directions:
 *        C_prev[j,k] = 4c₂² U_jk  if j, k are both forward, 0 otherwise;
 *        C_next[j,k] = 4c₂² V_jk  if j, k are both backward, 0 otherwise
 *     (F5: a backward neuron's output does not depend on x_{t−1}, a forward one's not on x_{t+1}; and for a
 *     forward m and backward k, a_m·g_k = 0). Each is accumulated in `splitFolds` folds of whole sequences so
 *     that every entry gets a standard error (with fewer than 2·splitFolds sequences, e.g. one long sequence, the
 *     folds are blocks of cut sequences and the point estimate comes from an uncut accumulator), and the components are split into forward and backward by
 *     minimising the sum of squared z-scores of the entries that must vanish (see `chooseSplit`). The paper's
 *     Algorithm 2 has no rule for this step; how clear the split was goes into the diagnostics.
 *     Then U = C_prev[F,F]/(4c₂²) and V = C_next[B,B]/(4c₂²) (the least-squares solution of §5 step 5 for
 *     each, exact with dual directions);
 *  3b. (default, when both groups are non-empty) the same two moments again, each projected on its own group's
 *     duals pinv(Â1) resp. pinv(B̂1): same expectation, lower variance; U and V are taken from these;
 *  4. output layer [h; z; 1] → y by least squares for the model and for the U = V = 0 baseline, and a
 *     bounded subsample of whole sequences for the refinement of §5 step 6 (which supports BRNNs).
 */
export interface GloreeBOptions extends Omit<GloreeOptions, 'hidden'> {
  /** Number of forward neurons dh (with `backward`, or with `total`). */
  forward?: number;
  /** Number of backward neurons dz (with `forward`, or with `total`). */
  backward?: number;
  /**
   * Total dh + dz; alone, the split is inferred from the mixed moments (and reported). Needs dh + dz ≤ min(dx, dy).
   * 'auto' (alone): the total is chosen from T2 as for `fitGloree`'s `hidden: 'auto'` (src/learn/rank.ts; T2 sums
   * over all neurons, forward and backward alike, DESIGN.md §4 F5), then the split is inferred.
   */
  total?: number | 'auto';
  /** Folds of whole sequences for the standard errors of the split statistics (default 10, at least 3). */
  splitFolds?: number;
  /**
   * After the split, re-estimate U and V in one more pass with each group's own dual directions (default true;
   * lower variance, see the comment in the code). False: U, V come from the all-component moments of the split.
   */
  groupDuals?: boolean;
}

/** How one CP component was assigned (DESIGN.md §4 F5). */
export interface SplitComponent {
  /** Index of the component in the CP of T2. */
  component: number;
  assigned: 'forward' | 'backward';
  /** Row of the component in A1 (forward) or B1 (backward) of the returned model. */
  index: number;
  /**
   * √(Σ z²) over row j and column j of the 'prev' projected moment (the (t; t−1, t−1) one): how far the data say
   * this component talks to the past. About √(2K−1) (noise) for a backward neuron.
   */
  forwardEvidence: number;
  /** The same over the 'next' moment: about √(2K−1) for a forward neuron. */
  backwardEvidence: number;
  /** ‖row/col j of C_prev‖ / (‖row/col j of C_prev‖ + ‖row/col j of C_next‖): ≈ 1 forward, ≈ 0 backward. */
  forwardShare: number;
  /**
   * Increase of the split statistic (a sum of squared z-scores) if this component alone were moved to the other
   * group. Large (≫ 25, i.e. beyond 5σ) means a clear assignment; near 0 means the data cannot tell (e.g. a
   * neuron without recurrent connections, which behaves the same in either group); negative only when the user
   * fixed the group sizes against what the data say.
   */
  margin: number;
}

export interface GloreeBDiagnostics extends LearnerDiagnostics {
  /** CP of T2 with rank K = dh + dz. */
  cp: CPDiagnostics & { rank: number };
  /** Singular-value spectrum of the unfolded T2 and the rank rule (src/learn/rank.ts); absent with fewer than 2 sequences. */
  rank?: { chosen: number; auto: boolean } & Omit<RankSelection, 'T2'>;
  split: {
    /** True if the user gave only the total and the group sizes were inferred. */
    inferred: boolean;
    forward: number;
    backward: number;
    /** Group sizes the data favour without any constraint (equal to forward/backward when inferred). */
    suggestedForward: number;
    suggestedBackward: number;
    /** Split statistic of the chosen assignment: Σ z² over entries that must vanish (≈ their number if all is well). */
    statistic: number;
    /** Number of entries in that sum (K² + K² − dh² − dz²). */
    statisticTerms: number;
    /** Smallest per-component margin, and its reading: 'clear' (≥ 25), 'weak' (≥ 9) or 'ambiguous'. */
    minMargin: number;
    clarity: 'clear' | 'weak' | 'ambiguous';
    folds: number;
    /** 'sequences': folds of whole sequences; 'blocks': too few sequences, so each was cut into blocks (standard errors only). */
    foldUnit: 'sequences' | 'blocks';
    components: SplitComponent[];
    /** K×K projected moments C_prev, C_next (CP component order) and their standard errors. */
    prev: number[][];
    next: number[][];
    prevSE: number[][];
    nextSE: number[][];
  };
  pinv: {
    /** pinv of [Â1; B̂1] (all K directions) and of Â2ᵀ. */
    AB: { sMin: number; cond: number };
    A2T: { sMin: number; cond: number };
    outputLayer?: { cond: number };
  };
  /** Steps behind the split moments, and behind the group-dual re-estimate of U and V (when it ran). */
  mixed: { stepsPrev: number; stepsNext: number; stepsGroupDuals?: number };
  /** Share of the fitted model's output variance that goes away with U = V = 0 (same A1, B1, A2). */
  varianceShareRecurrent?: number;
  /** The spectral estimate before any regression or refinement (b = ȳ − Â2ᵀ mean [h; z]). */
  spectral: { A1: number[][]; U: number[][]; B1: number[][]; V: number[][]; A2: number[][]; b: number[] };
}

export interface GloreeBResult {
  params: BRNNParams;
  inputModel: InputModel;
  diagnostics: GloreeBDiagnostics;
}

/** Resolve forward/backward/total into (K, fixed sizes or null). Throws a UserError on inconsistent options. */
function resolveSizes(opts: GloreeBOptions, dx: number, dy: number): { K: number | 'auto'; dh: number | null } {
  if (opts.total === 'auto') {
    if (opts.forward !== undefined || opts.backward !== undefined) {
      throw new UserError('an automatic total (--hidden auto) cannot be combined with a given number of forward or backward neurons');
    }
    return { K: 'auto', dh: null };
  }
  const nonNeg = (v: number | undefined, name: string): void => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw new UserError(`${name} must be a non-negative integer, got ${v}`);
  };
  nonNeg(opts.forward, 'the number of forward neurons');
  nonNeg(opts.backward, 'the number of backward neurons (--backward)');
  if (opts.total !== undefined && !(Number.isInteger(opts.total) && opts.total >= 1)) {
    throw new UserError(`the total number of neurons must be a positive integer, got ${opts.total}`);
  }
  let K: number, dh: number | null;
  const { forward: f, backward: b } = opts;
  const t = opts.total as number | undefined;
  if (t !== undefined) {
    K = t;
    if (f !== undefined && b !== undefined && f + b !== t) throw new UserError(`forward ${f} + backward ${b} ≠ total ${t}`);
    if ((f ?? 0) > t || (b ?? 0) > t) throw new UserError(`the group sizes (forward ${f ?? '-'}, backward ${b ?? '-'}) exceed the total ${t}`);
    dh = f !== undefined ? f : b !== undefined ? t - b : null;
  } else {
    if (f === undefined || b === undefined) {
      throw new UserError('GLOREE-B needs either the total number of neurons (the forward/backward split is then inferred) or both the forward and the backward count');
    }
    K = f + b;
    if (K < 1) throw new UserError('GLOREE-B needs at least one neuron (forward + backward ≥ 1)');
    dh = f;
  }
  if (K > dx || K > dy) {
    throw new UserError(
      `${K} neurons (forward + backward) is more than ${K > dx ? `the input dimension dx = ${dx}` : `the output dimension dy = ${dy}`}: ` +
        `GLOREE-B needs [A1; B1] and A2 of full row rank, so dh + dz ≤ min(dx, dy) = ${Math.min(dx, dy)} (DESIGN.md §2)`,
    );
  }
  return { K, dh };
}

/**
 * Fit a BRNN by GLOREE-B (functional core). `data`: a DataSource (e.g. a CSV file, streamed) or chunks in memory.
 * Give `forward` and `backward`, or `total` (optionally with one of them); with `total` alone the split is inferred.
 */
export async function fitGloreeB(data: TrainingData, opts: GloreeBOptions): Promise<GloreeBResult> {
  return withSpill(data, opts.spill, (source) => fitFromSource(source, opts));
}

async function fitFromSource(source: DataSource, opts: GloreeBOptions): Promise<GloreeBResult> {
  const { dx, dy } = source;
  const activation = opts.activation ?? SQUARE;
  const c2 = quadraticCoefficient(activation);
  const seed = opts.seed ?? 0;
  const sizes = resolveSizes(opts, dx, dy);
  const fixedDh = sizes.dh;
  const nFolds = opts.splitFolds ?? 10;
  if (!(Number.isInteger(nFolds) && nFolds >= 3)) throw new UserError(`splitFolds must be an integer ≥ 3, got ${nFolds}`);
  const log = runLog(opts.onWarning);
  const warn = log.warn;

  // ---- Pass 1: input-model statistics, output means, data shape checks; pass 2: T2 (on even / odd halves),
  // control-variate normal equations, input residual moments (as in fitGloree).
  const { p1, input, p2 } = await dataPasses(source, 'GLOREE-B', opts, log, { t2: true });
  const totalRows = p1.data.rows;
  const { yMean } = p1;
  const inputModel = input.model;
  const { cvFit } = p2;

  // The count-weighted mean of the halves is the full-data T2; it is formed here even when one half is empty
  // (a single sequence: no rank rule then, but given sizes still work).
  const t2Halves = p2.t2Halves!;
  const [ta, tb] = t2Halves;
  const t2Mean = new Float64Array(dy * dx * dx);
  for (const h of t2Halves) if (h.count > 0) for (let i = 0; i < t2Mean.length; i++) t2Mean[i] += h.sum[i];
  for (let i = 0; i < t2Mean.length; i++) t2Mean[i] /= ta.count + tb.count;
  const rankSel: RankSelection | null = rankFromHalves(t2Halves, dy, dx);
  let K: number;
  if (sizes.K === 'auto') {
    if (rankSel === null) throw new UserError(`${source.name}: --hidden auto needs at least 2 sequences (the data have ${p1.data.sequences}); give the number of neurons`);
    K = autoRank(rankSel, log, `${'the outputs show no quadratic dependence on the inputs that GLOREE-B can use'}; ${ODD_ACTIVATION_HINT}`);
  } else K = sizes.K;

  // ---- CP of T2 with rank K = dh + dz (F5: T2 = 2c₂ Σ over ALL neurons of A2^(j) ⊗ c_j ⊗ c_j, c_j rows of [A1; B1]).
  // Aall: rows c_j with ‖c_j‖ = 1 (gauge of §2), in unknown forward/backward order; A2all: the matching output rows.
  const { C: Aall, A2: A2all, diagnostics: cpDiag } = cpOfT2(t2Mean, dy, dx, K, c2, seed);
  log.lap('cp');

  // ---- Pass 3: both projected mixed moments, per fold (DESIGN.md §4 F5).
  const pAll = pinv(Aall);
  const pA2T = pinv(transpose(A2all));
  for (const [name, p] of [['[A1; B1]', pAll], ['A2ᵀ', pA2T]] as const) checkPinv(name, p, K, 'dh + dz', 'the split, U and V are unreliable', log);
  const G = pAll.pinv; // dx×K duals
  const target = cvFit ? 'residual' : 'y';
  const mk = (dir: 'prev' | 'next') => new ProjectedMixedAccumulator(inputModel, dy, dir, pA2T.pinv, G, G, { target });
  // Folds of whole sequences when there are enough of them; otherwise cut sequences into blocks for the
  // standard errors only (a cut makes the block's scores those of its own marginal density, slightly
  // wrong for y at the cut), and take the point estimate from an uncut accumulator.
  const byBlocks = p1.data.sequences < 2 * nFolds;
  const foldPrev = Array.from({ length: nFolds }, () => mk('prev'));
  const foldNext = Array.from({ length: nFolds }, () => mk('next'));
  const fullPrev = byBlocks ? mk('prev') : null;
  const fullNext = byBlocks ? mk('next') : null;
  await forEachChunk(
    source,
    'mixed moments',
    (raw, seqOffset) => {
      // Without the control variate, y is centred (see fitGloree's mixed pass).
      const chunk = cvFit ? raw : centredChunk(raw, yMean);
      const parts = foldParts(chunk, seqOffset, nFolds, byBlocks);
      for (let f = 0; f < nFolds; f++) {
        const part = parts[f];
        if (part) momentPass(inputModel, part, [foldPrev[f], foldNext[f]], cvFit);
      }
      if (fullPrev && fullNext) momentPass(inputModel, chunk, [fullPrev, fullNext], cvFit);
    },
    opts.onProgress,
    totalRows,
  );
  const prevStats = foldStatistics(foldPrev, fullPrev);
  const nextStats = foldStatistics(foldNext, fullNext);
  log.lap('pass3_mixed');

  // ---- Split into forward and backward components.
  const sp = chooseSplit(prevStats.mean, prevStats.se, nextStats.mean, nextStats.se, K, fixedDh);
  log.lap('split');
  const fwdIdx: number[] = [], bwdIdx: number[] = [];
  for (let j = 0; j < K; j++) (sp.forward[j] ? fwdIdx : bwdIdx).push(j);
  const dh = fwdIdx.length, dz = bwdIdx.length;
  const order = [...fwdIdx, ...bwdIdx];
  const A1 = new Matrix(dh, dx), B1 = new Matrix(dz, dx), A2 = new Matrix(K, dy);
  fwdIdx.forEach((j, r) => A1.data.set(Aall.data.subarray(j * dx, (j + 1) * dx), r * dx));
  bwdIdx.forEach((j, r) => B1.data.set(Aall.data.subarray(j * dx, (j + 1) * dx), r * dx));
  order.forEach((j, r) => A2.data.set(A2all.data.subarray(j * dy, (j + 1) * dy), r * dy));
  const U = new Matrix(dh, dh), V = new Matrix(dz, dz);
  const s = 1 / (4 * c2 * c2);
  for (let r = 0; r < dh; r++) for (let c = 0; c < dh; c++) U.data[r * dh + c] = prevStats.mean[fwdIdx[r] * K + fwdIdx[c]] * s;
  for (let r = 0; r < dz; r++) for (let c = 0; c < dz; c++) V.data[r * dz + c] = nextStats.mean[bwdIdx[r] * K + bwdIdx[c]] * s;
  // Once the groups are known, U and V are re-estimated with each group's own duals (one more pass): G_F =
  // pinv(Â1) still gives a_m·g_k = δ_mk for forward m, k (backward neurons do not enter the 'prev' moment), but
  // with fewer constraints its columns are shorter than those of pinv([Â1; B̂1]), and the moment's variance
  // grows with ‖g‖⁴‖f‖². Measured at 2e5 rows (4 planted BRNNs, dx 4–8, K = 4–6): U error 0.17/0.066/0.32/0.040 →
  // 0.077/0.016/0.15/0.042, NMSE 2–9× lower. Demixing still uses pinv(Â2ᵀ) over all K rows (it separates
  // forward from backward outputs).
  let groupSteps: number | undefined;
  if ((opts.groupDuals ?? true) && dh > 0 && dz > 0) {
    const W = pA2T.pinv;
    const rowsOf = (idx: number[]) => new Matrix(idx.length, dy, Float64Array.from(idx.flatMap((j) => Array.from(W.data.subarray(j * dy, (j + 1) * dy)))));
    const GF = pinv(A1).pinv, GB = pinv(B1).pinv;
    const accF = new ProjectedMixedAccumulator(inputModel, dy, 'prev', rowsOf(fwdIdx), GF, GF, { target });
    const accB = new ProjectedMixedAccumulator(inputModel, dy, 'next', rowsOf(bwdIdx), GB, GB, { target });
    await forEachChunk(source, 'mixed moments (groups)', (chunk) => momentPass(inputModel, cvFit ? chunk : centredChunk(chunk, yMean), [accF, accB], cvFit), opts.onProgress, totalRows);
    const rf = accF.result(), rb = accB.result();
    for (let i = 0; i < dh * dh; i++) U.data[i] = rf[i] * s;
    for (let i = 0; i < dz * dz; i++) V.data[i] = rb[i] * s;
    groupSteps = accF.count;
    log.lap('pass3b_group_duals');
  }

  const components: SplitComponent[] = [];
  for (let j = 0; j < K; j++) {
    const isF = sp.forward[j];
    components.push({
      component: j,
      assigned: isF ? 'forward' : 'backward',
      index: isF ? fwdIdx.indexOf(j) : bwdIdx.indexOf(j),
      forwardEvidence: Math.sqrt(crossSum(sp.zPrev2, K, j)),
      backwardEvidence: Math.sqrt(crossSum(sp.zNext2, K, j)),
      forwardShare: share(prevStats.mean, nextStats.mean, K, j),
      margin: sp.margins[j],
    });
  }
  const minMargin = K > 0 ? Math.min(...sp.margins) : Infinity;
  const clarity: GloreeBDiagnostics['split']['clarity'] = minMargin >= 25 ? 'clear' : minMargin >= 9 ? 'weak' : 'ambiguous';
  if (fixedDh !== null && sp.suggestedForward !== dh) {
    const forced = components.filter((c) => c.margin < 0).map((c) => `component ${c.component} (${c.assigned}, margin ${c.margin.toFixed(1)})`);
    warn(
      `the mixed moments favour ${sp.suggestedForward} forward + ${K - sp.suggestedForward} backward neurons, not the requested ${dh} + ${dz}: ` +
        `${forced.join(', ')} went against the data, so their recurrent weights are (near) zero in that group. Fit with only the total to let the data choose.`,
    );
  } else if (clarity !== 'clear') {
    const weakOnes = components.filter((c) => c.margin < 25).map((c) => `component ${c.component} (${c.assigned}, margin ${c.margin.toFixed(1)})`);
    warn(
      `forward/backward split is ${clarity}: ${weakOnes.join(', ')}. A neuron with (nearly) no recurrent connections looks the same in ` +
        `either group; more data sharpen the split. See diagnostics.split.`,
    );
  }

  const spectralParams: BRNNParams = { kind: 'brnn', A1, U, B1, V, A2, b: yMean.slice(), activation };

  // ---- Pass 4: output layer by regression (model and U = V = 0 baseline), refinement subsample.
  // ---- Refinement (DESIGN.md §5 step 6, which supports BRNNs) on the in-memory subsample.
  const out = await fitOutputAndRefine(source, spectralParams, yMean, totalRows, opts, log, { tooLarge: 'U or V is', shrunk: 'shrunk U, V', lapName: 'pass4_output' });
  const { params, sample } = out;

  let varianceShareRecurrent: number | undefined;
  if (sample.length > 0) varianceShareRecurrent = varianceShare(params, sample);

  const toNested = (a: Float64Array): number[][] => new Matrix(K, K, a).toArray();
  const diagnostics: GloreeBDiagnostics = {
    data: p1.data,
    inputModel: p2.inputDiagnostics,
    ...(rankSel ? { rank: { chosen: K, auto: sizes.K === 'auto', ...withoutT2(rankSel) } } : {}),
    cp: { method: cpDiag.method, rank: K, ...withoutMethod(cpDiag) },
    split: {
      inferred: fixedDh === null,
      forward: dh,
      backward: dz,
      suggestedForward: sp.suggestedForward,
      suggestedBackward: K - sp.suggestedForward,
      statistic: sp.cost,
      statisticTerms: 2 * K * K - dh * dh - dz * dz,
      minMargin,
      clarity,
      folds: nFolds,
      foldUnit: byBlocks ? 'blocks' : 'sequences',
      components,
      prev: toNested(prevStats.mean),
      next: toNested(nextStats.mean),
      prevSE: toNested(prevStats.se),
      nextSE: toNested(nextStats.se),
    },
    pinv: {
      AB: { sMin: pAll.sMin, cond: pAll.cond },
      A2T: { sMin: pA2T.sMin, cond: pA2T.cond },
      ...(out.cond !== undefined ? { outputLayer: { cond: out.cond } } : {}),
    },
    controlVariate: controlVariateDiagnostics(cvFit),
    mixed: { stepsPrev: prevStats.count, stepsNext: nextStats.count, ...(groupSteps !== undefined ? { stepsGroupDuals: groupSteps } : {}) },
    varianceShareRecurrent,
    feedforward: { A2: out.feedforward.A2.toArray(), b: Array.from(out.feedforward.b) },
    spectral: { A1: A1.toArray(), U: U.toArray(), B1: B1.toArray(), V: V.toArray(), A2: A2.toArray(), b: Array.from(out.spectralBias) },
    refine: out.refine,
    timingsMs: log.timings,
    warnings: log.warnings,
  };
  return { params, inputModel, diagnostics };
}

// ---------------------------------------------------------------------------------------------
// Split of the components (DESIGN.md §4 F5)

export interface SplitChoice {
  /** forward[j]: component j is a forward neuron. */
  forward: boolean[];
  /** Split statistic of the choice (see chooseSplit). */
  cost: number;
  /** Per component: statistic with j alone moved to the other group, minus `cost`. */
  margins: number[];
  /** Number of forward components of the unconstrained optimum. */
  suggestedForward: number;
  /** Squared z-scores of C_prev and C_next (K×K). */
  zPrev2: Float64Array;
  zNext2: Float64Array;
}

/**
 * Choose which components are forward. Entries of C_prev must vanish unless both indices are forward, entries
 * of C_next unless both are backward (DESIGN.md §4 F5). With z = C / se, the statistic of a split F is
 *   S(F) = Σ_{(j,k) ∉ F×F} z_prev[j,k]² + Σ_{(j,k) ∉ B×B} z_next[j,k]²,
 * a sum of (approximately) χ²₁ terms when F is right; a wrong assignment of j adds the squared signal of
 * its row and column. Minimised exactly over all 2^K splits (all K-subsets of size `dh` if it is fixed)
 * for K ≤ 16, else by greedy single moves (swaps with fixed sizes) from the per-component evidence.
 * `prev`, `next`, `prevSE`, `nextSE`: K×K row-major.
 */
export function chooseSplit(prev: Float64Array, prevSE: Float64Array, next: Float64Array, nextSE: Float64Array, K: number, dh: number | null): SplitChoice {
  const z2 = (C: Float64Array, S: Float64Array): Float64Array => {
    let scale = 0;
    for (let i = 0; i < C.length; i++) scale = Math.max(scale, Math.abs(C[i]));
    const floor = 1e-15 * scale + 1e-300; // exact zeros (noise-free data) would divide 0 by 0
    return C.map((c, i) => (c / Math.max(S[i], floor)) ** 2);
  };
  const zPrev2 = z2(prev, prevSE), zNext2 = z2(next, nextSE);
  const cost = (f: boolean[]): number => {
    let s = 0;
    for (let j = 0; j < K; j++)
      for (let k = 0; k < K; k++) {
        if (!(f[j] && f[k])) s += zPrev2[j * K + k];
        if (f[j] || f[k]) s += zNext2[j * K + k];
      }
    return s;
  };
  const best = (size: number | null): { f: boolean[]; c: number } => {
    if (K <= 16) {
      let bf: boolean[] = [], bc = Infinity;
      for (let mask = 0; mask < 1 << K; mask++) {
        const f = Array.from({ length: K }, (_, j) => ((mask >> j) & 1) === 1);
        if (size !== null && f.filter(Boolean).length !== size) continue;
        const c = cost(f);
        if (c < bc) {
          bc = c;
          bf = f;
        }
      }
      return { f: bf, c: bc };
    }
    // Greedy: start from the per-component comparison, then improve by moves (or swaps with a fixed size).
    const ev = Array.from({ length: K }, (_, j) => crossSum(zPrev2, K, j) - crossSum(zNext2, K, j));
    let f = ev.map((e) => e > 0);
    if (size !== null) {
      const rank = ev.map((e, j) => [e, j] as const).sort((a, b) => b[0] - a[0]);
      f = new Array<boolean>(K).fill(false);
      for (let r = 0; r < size; r++) f[rank[r][1]] = true;
    }
    let c = cost(f);
    for (let improved = true; improved; ) {
      improved = false;
      for (let j = 0; j < K; j++) {
        const partners = size === null ? [-1] : Array.from({ length: K }, (_, k) => k).filter((k) => f[k] !== f[j]);
        for (const k of partners) {
          const g = f.slice();
          g[j] = !g[j];
          if (k >= 0) g[k] = !g[k];
          const cg = cost(g);
          if (cg < c - 1e-12) {
            f = g;
            c = cg;
            improved = true;
          }
        }
      }
    }
    return { f, c };
  };
  const free = best(null);
  const chosen = dh === null ? free : best(dh);
  const margins = chosen.f.map((_, j) => {
    const g = chosen.f.slice();
    g[j] = !g[j];
    return cost(g) - chosen.c;
  });
  return { forward: chosen.f, cost: chosen.c, margins, suggestedForward: free.f.filter(Boolean).length, zPrev2, zNext2 };
}

/** Σ over row j and column j of a K×K array (the diagonal entry once). */
function crossSum(M: Float64Array, K: number, j: number): number {
  let s = -M[j * K + j];
  for (let k = 0; k < K; k++) s += M[j * K + k] + M[k * K + j];
  return s;
}

function share(prev: Float64Array, next: Float64Array, K: number, j: number): number {
  const sq = (M: Float64Array) => M.map((v) => v * v);
  const p = Math.sqrt(crossSum(sq(prev), K, j)), n = Math.sqrt(crossSum(sq(next), K, j));
  return p + n > 0 ? p / (p + n) : 0.5;
}

/**
 * Mean and standard error of a K×K projected moment from fold accumulators: with fold means m_f, counts n_f,
 * N = Σ n_f and m = Σ n_f m_f / N, se² = F/(F−1) · Σ n_f² (m_f − m)² / N² (the between-fold estimate of the
 * variance of m; = Σ (m_f − m)² / (F(F−1)) for equal folds). The mean comes from `full` when given.
 */
function foldStatistics(folds: ProjectedMixedAccumulator[], full: ProjectedMixedAccumulator | null): { mean: Float64Array; se: Float64Array; count: number } {
  const used = folds.filter((a) => a.count > 0);
  const size = folds[0].sum.length;
  let N = 0;
  const sum = new Float64Array(size);
  for (const a of used) {
    N += a.count;
    for (let i = 0; i < size; i++) sum[i] += a.sum[i];
  }
  if (N === 0) throw new Error('mixed moments: no steps were added (are the sequences long enough?)');
  const pooled = sum.map((v) => v / N);
  const F = used.length;
  const se = new Float64Array(size);
  if (F >= 2) {
    for (const a of used) {
      const mf = a.result();
      for (let i = 0; i < size; i++) se[i] += (a.count * (mf[i] - pooled[i])) ** 2;
    }
    for (let i = 0; i < size; i++) se[i] = Math.sqrt((F / (F - 1)) * se[i]) / N;
  } else se.fill(Infinity);
  if (full) return { mean: full.result(), se, count: full.count };
  return { mean: pooled, se, count: N };
}

/**
 * Split a chunk into `F` fold parts (null where empty). Whole sequences go to fold (seqOffset + k) mod F;
 * with `cut`, every sequence is first cut into up to F blocks of at least 2 steps (block p of sequence k goes
 * to fold (seqOffset + k + p) mod F).
 */
function foldParts(chunk: SequenceChunk, seqOffset: number, F: number, cut: boolean): (SequenceChunk | null)[] {
  const { dx, dy } = chunk;
  const xs: Float64Array[][] = Array.from({ length: F }, () => []);
  const ys: Float64Array[][] = Array.from({ length: F }, () => []);
  const ls: number[][] = Array.from({ length: F }, () => []);
  let row = 0;
  for (let k = 0; k < chunk.lengths.length; k++) {
    const L = chunk.lengths[k];
    const pieces = cut ? Math.max(1, Math.min(F, Math.floor(L / 2))) : 1;
    let start = 0;
    for (let p = 0; p < pieces; p++) {
      const end = Math.round(((p + 1) * L) / pieces);
      const f = (seqOffset + k + p) % F;
      xs[f].push(chunk.x.subarray((row + start) * dx, (row + end) * dx));
      ys[f].push(chunk.y.subarray((row + start) * dy, (row + end) * dy));
      ls[f].push(end - start);
      start = end;
    }
    row += L;
  }
  return ls.map((l, f) => (l.length === 0 ? null : makeChunk(dx, dy, concat(xs[f]), concat(ys[f]), l)));
}

/** The CP diagnostics without `method` (so that `rank` can follow it in the model file). */
function withoutMethod(d: CPDiagnostics): Omit<CPDiagnostics, 'method'> {
  const { method: _m, ...rest } = d;
  void _m;
  return rest;
}
