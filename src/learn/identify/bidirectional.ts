import { Matrix, transpose } from '../../linalg/matrix.js';
import { pinv } from '../../linalg/pinv.js';
import { OptionError } from '../../io/errors.js';
import { SequenceChunk } from '../../io/dataset.js';
import { projectedMixedFor } from '../../moments/nongaussian.js';
import { momentPass } from '../../moments/accumulator.js';
import { foldsOnEngine } from '../engine-passes.js';
import { Activation, BRNNParams, SQUARE } from '../../models/params.js';
import { RankSelection, oddActivationHint } from '../rank.js';
import { withoutT2 } from '../diagnostics.js';
import { autoRank, rankFromHalves, t2OfHalves } from '../data-passes.js';
import { centredChunk } from '../chunks.js';
import { varianceShare } from '../output-layer.js';
import { CPDiagnostics, cpOfT2, quadraticCoefficient } from './quadratic.js';
import { SplitComponent, chooseSplit, crossSum, foldParts, foldStatistics, resolveSizes, share } from './split.js';
import { Identifier, checkPinv, pinvSummary, withOutputLayer } from './types.js';

/**
 * BRNN with σ = c₂z² (docs/method.md §2 BRNN, §4 F5; the paper's Algorithm 2):
 *   h_t = σ(A1 x_t + U h_{t−1}),  z_t = σ(B1 x_t + V z_{t+1}),  y_t = A2ᵀ [h_t; z_t] + b.
 * 1. CP of T2 with K = dh + dz components: every input direction (rows of [A1; B1], in unknown order) and output row.
 * 2. Both projected mixed moments, (t; t−1, t−1) and (t; t+1, t+1), on W = pinv(Â2ᵀ) and the duals of all K
 *    directions: C_prev[j,k] = 4c₂² U_jk if j, k are forward (0 otherwise), C_next likewise with V for backward.
 *    Accumulated per fold of whole sequences (or blocks of cut sequences when there are few), so every entry has a
 *    standard error; the split minimises the squared z-scores of the entries that must vanish (split.ts).
 * 3. (default) U and V again, each on its own group's duals pinv(Â1), pinv(B̂1): same expectation, lower variance.
 */
export interface BidirectionalOptions {
  /** Number of forward neurons dh (with `backward`, or with `total`). */
  forward?: number;
  /** Number of backward neurons dz (with `forward`, or with `total`). */
  backward?: number;
  /** Total dh + dz; alone, the split is inferred. 'auto': the total from T2's rank rule, then the split. */
  total?: number | 'auto';
  /** Folds of whole sequences for the standard errors of the split statistics (default 10, at least 3). */
  splitFolds?: number;
  /** Re-estimate U and V on each group's own duals (default true; lower variance). */
  groupDuals?: boolean;
  activation?: Activation;
}

export interface GloreeBBlock {
  /** Singular-value spectrum of the unfolded T2 and the rank rule; absent with fewer than 2 sequences. */
  rank?: { chosen: number; auto: boolean } & Omit<RankSelection, 'T2'>;
  /** CP of T2 with rank K = dh + dz. */
  cp: CPDiagnostics & { rank: number };
  split: {
    /** True if the user gave only the total and the group sizes were inferred. */
    inferred: boolean;
    forward: number;
    backward: number;
    /** Group sizes the data favour without any constraint. */
    suggestedForward: number;
    suggestedBackward: number;
    /** Σ z² over the entries that must vanish (≈ their number if all is well), and that number. */
    statistic: number;
    statisticTerms: number;
    /** Smallest per-component margin: 'clear' (≥ 25), 'weak' (≥ 9) or 'ambiguous'. */
    minMargin: number;
    clarity: 'clear' | 'weak' | 'ambiguous';
    folds: number;
    foldUnit: 'sequences' | 'blocks';
    components: SplitComponent[];
    /** K×K projected moments C_prev, C_next (CP component order) and their standard errors. */
    prev: number[][];
    next: number[][];
    prevSE: number[][];
    nextSE: number[][];
  };
  pinv: { AB: { sMin: number; cond: number }; A2T: { sMin: number; cond: number }; outputLayer?: { cond: number } };
  mixed: { stepsPrev: number; stepsNext: number; stepsGroupDuals?: number };
  /** Share of the fitted model's output variance that goes away with U = V = 0. */
  varianceShareRecurrent?: number;
  spectral: { A1: number[][]; U: number[][]; B1: number[][]; V: number[][]; A2: number[][]; b: number[] };
}

export function bidirectional(opts: BidirectionalOptions): Identifier<BRNNParams, GloreeBBlock, 'gloree-b'> {
  const activation = opts.activation ?? SQUARE;
  const c2 = quadraticCoefficient(activation);
  const nFolds = opts.splitFolds ?? 10;
  let sizes!: ReturnType<typeof resolveSizes>;
  let block!: Omit<GloreeBBlock, 'varianceShareRecurrent'>;
  return {
    learner: 'gloree-b',
    name: 'GLOREE-B',
    // Its accumulators (T2 halves, control variate, the projected mixed moments and their folds) count own rows
    // only (src/learn/pieces.ts; the folds cut a long sequence where the whole one is cut, split.ts foldParts).
    streamsPieces: true,
    plan(source) {
      sizes = resolveSizes(opts, source.dx, source.dy);
      if (!(Number.isInteger(nFolds) && nFolds >= 3)) throw new OptionError('splitFolds', nFolds, (n) => `${n('splitFolds')} must be an integer ≥ 3, got ${nFolds}`);
      // The mixed moments pair y_t with s_{t−1} and s_{t+1} (§4 F5); T2 and the control variate stay at lag 0.
      return { t2: true, steinDegree: 2, pieceLags: { back: 1, forward: 1 } };
    },
    async identify({ source, p1, p2, input, log, seed, pass, accumulate, engine }) {
      const { dx, dy } = source;
      // The count-weighted mean of the halves is the full-data T2 (also with one half empty: no rank rule then).
      const halves = p2.t2Halves!;
      const t2 = t2OfHalves(halves, dy, dx);
      const rankSel = rankFromHalves(halves, dy, dx);
      let K: number;
      if (sizes.K === 'auto') {
        if (rankSel === null) throw new OptionError('total', 'auto', (n) => `${source.name}: ${n('total')} auto needs at least 2 sequences (the data have ${p1.data.sequences}); give the number of neurons`);
        K = autoRank(rankSel, log, (n) => `the outputs show no quadratic dependence on the inputs that GLOREE-B can use; ${oddActivationHint(n)}`);
      } else K = sizes.K;

      // CP of T2 (F5: sums over ALL neurons): unit rows c_j of [A1; B1] in unknown order, and their output rows.
      const { C: Aall, A2: A2all, diagnostics: cpDiag } = cpOfT2(t2, dy, dx, K, c2, seed);
      log.lap('cp');

      const pAll = pinv(Aall), pA2T = pinv(transpose(A2all));
      for (const [name, p] of [['[A1; B1]', pAll], ['A2ᵀ', pA2T]] as const) checkPinv(name, p, K, 'dh + dz', 'the split, U and V are unreliable', log);
      const { cvFit } = p2, model = input.model, G = pAll.pinv, target = cvFit ? 'residual' : 'y';
      const mk = (dir: 'prev' | 'next') => projectedMixedFor(model, dy, dir, pA2T.pinv, G, G, { target });
      // Few sequences: cut them into blocks for the standard errors only (a cut makes a block's scores those of
      // its own marginal density), and take the point estimate from an uncut accumulator.
      const byBlocks = p1.data.sequences < 2 * nFolds;
      const foldPrev = Array.from({ length: nFolds }, () => mk('prev')), foldNext = Array.from({ length: nFolds }, () => mk('next'));
      const fullPrev = byBlocks ? mk('prev') : null, fullNext = byBlocks ? mk('next') : null;
      const centred = (c: SequenceChunk): SequenceChunk => (cvFit ? c : centredChunk(c, p1.yMean));
      // On an engine: one query per direction grouped by fold, then the uncut accumulators (src/learn/engine-passes.ts).
      const folds = foldPrev.map((a, f) => [a, foldNext[f]]);
      if (engine && (await foldsOnEngine(engine, 'mixed moments', folds, { model, yShift: cvFit ? new Float64Array(dy) : p1.yMean, cvFit }, byBlocks))) {
        if (fullPrev && fullNext) await accumulate('mixed moments (uncut)', [fullPrev, fullNext], { centred: !cvFit });
      } else {
        await pass('mixed moments', (raw, seqOffset) => {
          const chunk = centred(raw);
          const parts = foldParts(chunk, seqOffset, nFolds, byBlocks, p1.lengths);
          for (let f = 0; f < nFolds; f++) if (parts[f]) momentPass(model, parts[f]!, folds[f], cvFit);
          if (fullPrev && fullNext) momentPass(model, chunk, [fullPrev, fullNext], cvFit);
        });
      }
      const prev = foldStatistics(foldPrev, fullPrev), next = foldStatistics(foldNext, fullNext);
      log.lap('pass3_mixed');

      const sp = chooseSplit(prev.mean, prev.se, next.mean, next.se, K, sizes.dh);
      log.lap('split');
      const fwd: number[] = [], bwd: number[] = [];
      for (let j = 0; j < K; j++) (sp.forward[j] ? fwd : bwd).push(j);
      const dh = fwd.length, dz = bwd.length;
      const rowsOf = (M: Matrix, idx: number[]) => new Matrix(idx.length, M.cols, Float64Array.from(idx.flatMap((j) => Array.from(M.data.subarray(j * M.cols, (j + 1) * M.cols)))));
      const A1 = rowsOf(Aall, fwd), B1 = rowsOf(Aall, bwd), A2 = rowsOf(A2all, [...fwd, ...bwd]);
      const U = new Matrix(dh, dh), V = new Matrix(dz, dz);
      const s = 1 / (4 * c2 * c2);
      for (let r = 0; r < dh; r++) for (let c = 0; c < dh; c++) U.data[r * dh + c] = prev.mean[fwd[r] * K + fwd[c]] * s;
      for (let r = 0; r < dz; r++) for (let c = 0; c < dz; c++) V.data[r * dz + c] = next.mean[bwd[r] * K + bwd[c]] * s;
      // With each group's own duals G_F = pinv(Â1), a_m·g_k = δ_mk still holds for forward m, k, but with fewer
      // constraints the duals are shorter, and the moment's variance grows with ‖g‖⁴‖f‖² (measured at 2e5 rows on
      // 4 planted BRNNs: U error 0.17/0.066/0.32/0.040 → 0.077/0.016/0.15/0.042, NMSE 2–9× lower).
      let groupSteps: number | undefined;
      if ((opts.groupDuals ?? true) && dh > 0 && dz > 0) {
        const W = pA2T.pinv;
        const GF = pinv(A1).pinv, GB = pinv(B1).pinv;
        const accF = projectedMixedFor(model, dy, 'prev', rowsOf(W, fwd), GF, GF, { target });
        const accB = projectedMixedFor(model, dy, 'next', rowsOf(W, bwd), GB, GB, { target });
        await accumulate('mixed moments (groups)', [accF, accB], { centred: !cvFit });
        const rf = accF.result(), rb = accB.result();
        for (let i = 0; i < dh * dh; i++) U.data[i] = rf[i] * s;
        for (let i = 0; i < dz * dz; i++) V.data[i] = rb[i] * s;
        groupSteps = accF.count;
        log.lap('pass3b_group_duals');
      }

      const components: SplitComponent[] = sp.forward.map((isF, j) => ({
        component: j,
        assigned: isF ? 'forward' : 'backward',
        index: isF ? fwd.indexOf(j) : bwd.indexOf(j),
        forwardEvidence: Math.sqrt(crossSum(sp.zPrev2, K, j)),
        backwardEvidence: Math.sqrt(crossSum(sp.zNext2, K, j)),
        forwardShare: share(prev.mean, next.mean, K, j),
        margin: sp.margins[j],
      }));
      const minMargin = K > 0 ? Math.min(...sp.margins) : Infinity;
      const clarity: GloreeBBlock['split']['clarity'] = minMargin >= 25 ? 'clear' : minMargin >= 9 ? 'weak' : 'ambiguous';
      const listed = (cs: SplitComponent[]) => cs.map((c) => `component ${c.component} (${c.assigned}, margin ${c.margin.toFixed(1)})`).join(', ');
      if (sizes.dh !== null && sp.suggestedForward !== dh) {
        log.warn(
          `the mixed moments favour ${sp.suggestedForward} forward + ${K - sp.suggestedForward} backward neurons, not the requested ${dh} + ${dz}: ` +
            `${listed(components.filter((c) => c.margin < 0))} went against the data, so their recurrent weights are (near) zero in that group. Fit with only the total to let the data choose.`,
        );
      } else if (clarity !== 'clear') {
        log.warn(
          `forward/backward split is ${clarity}: ${listed(components.filter((c) => c.margin < 25))}. A neuron with (nearly) no recurrent connections looks the same in ` +
            `either group; more data sharpen the split. See diagnostics.split.`,
        );
      }
      const nested = (a: Float64Array): number[][] => new Matrix(K, K, a).toArray();
      const { method, ...cpRest } = cpDiag;
      block = {
        ...(rankSel ? { rank: { chosen: K, auto: sizes.K === 'auto', ...withoutT2(rankSel) } } : {}),
        cp: { method, rank: K, ...cpRest },
        split: {
          inferred: sizes.dh === null, forward: dh, backward: dz,
          suggestedForward: sp.suggestedForward, suggestedBackward: K - sp.suggestedForward,
          statistic: sp.cost, statisticTerms: 2 * K * K - dh * dh - dz * dz,
          minMargin, clarity, folds: nFolds, foldUnit: byBlocks ? 'blocks' : 'sequences', components,
          prev: nested(prev.mean), next: nested(next.mean), prevSE: nested(prev.se), nextSE: nested(next.se),
        },
        pinv: { AB: pinvSummary(pAll), A2T: pinvSummary(pA2T) },
        mixed: { stepsPrev: prev.count, stepsNext: next.count, ...(groupSteps !== undefined ? { stepsGroupDuals: groupSteps } : {}) },
        spectral: { A1: A1.toArray(), U: U.toArray(), B1: B1.toArray(), V: V.toArray(), A2: A2.toArray(), b: [] },
      };
      return { spectral: { kind: 'brnn', A1, U, B1, V, A2, b: p1.yMean.slice(), activation }, tooLarge: 'U or V is', shrunk: 'shrunk U, V' };
    },
    finish(_ctx, fit) {
      const varianceShareRecurrent = fit.sample.length > 0 ? varianceShare(fit.params, fit.sample) : undefined;
      return { ...withOutputLayer(block, fit), varianceShareRecurrent };
    },
  };
}
