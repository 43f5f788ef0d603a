import { Matrix } from '../../linalg/matrix.js';
import { pinv } from '../../linalg/pinv.js';
import { OptionError } from '../../io/errors.js';
import { SequenceChunk } from '../../io/dataset.js';
import { MomentAccumulator } from '../../moments/accumulator.js';
import { t1For } from '../../moments/nongaussian.js';
import { Activation, IORNNParams } from '../../models/params.js';
import { activationCoefficients, activationSymmetry, activationToString } from '../../models/activation.js';
import { ControlVariateDiagnostics, controlVariateDiagnostics } from '../diagnostics.js';
import { SequenceSample, bySubchunks, centredChunk, sampleStride } from '../chunks.js';
import { LearnerOptions, REFINE_MAX_ROWS } from '../options.js';
import { varianceShare } from '../output-layer.js';
import { Directions, polyDirections } from './poly-directions.js';
import { polyRecurrence, Recurrence } from './poly-recurrence.js';
import { applyScales, fitScales, stabilityCheck } from './poly-scales.js';
import { Identifier, checkPinv, pinvSummary } from './types.js';

/**
 * IO-RNN with a polynomial σ(z) = Σ_m c_m z^m of degree l ≥ 2 (paper Algorithm 3 / App. C.1, E.2; docs/method.md
 * §4 P1–P4, §5, §6):
 *  1. directions Â1 and (when the same moment gives them) output weights: poly-directions.ts;
 *  2. U (and the output weights otherwise) from moments on the duals G = pinv(Â1): poly-recurrence.ts;
 *  3. neuron scales α when σ has no scale symmetry (lower-order terms): A1 = diag(α)Â1, U = diag(α) Û diag(α)^{−l},
 *     fitted by least squares of y on the simulated states of a subsample: poly-scales.ts.
 */
export interface PolynomialOptions {
  /** dh (≤ dx; and ≤ dy when l = 2), or 'auto' (only when T2 gives the directions). */
  hidden: number | 'auto';
  /** σ(z) = Σ c_m z^m, degree ≥ 2 (required). */
  activation: Activation;
  /** Moment that gives the directions: 'auto' (default), 'S2' or 'P1'. */
  directions?: 'auto' | 'S2' | 'P1';
  /** The order-l moment is formed explicitly only when dy·dx^l ≤ this (default 4096); else it is projected. */
  maxTensorEntries?: number;
  /** Rows (whole sequences, evenly spread) used to fit the neuron scales α (default 20 000). */
  scaleFitMaxRows?: number;
}

export interface GloreePolyBlock {
  activation: { coefficients: number[]; degree: number; symmetry: 'monomial' | 'even' | 'odd' | 'none'; text: string };
  hidden: Directions['hidden'];
  directions: Directions['diagnostics'];
  uMoment: 'P2prime' | 'P2';
  /** P2′: ν̂_k = E σ'(z_k) in the unit gauge (must be away from 0). */
  nu?: number[];
  /** A2T: conditioning of Â2ᵀ (informative only: the U step projects on each Â2^(j) and needs no demixing). */
  pinv: { A1: { sMin: number; cond: number }; A2T: { sMin: number; cond: number }; outputLayer?: { cond: number } };
  /** `uFeatures`, `uR2`: the U moment's control variate (degree-2 features plus leading-term features of x_t). */
  controlVariate: ControlVariateDiagnostics & { uFeatures?: number; uR2?: number[] };
  /** Neuron scales α_j (the fitted ‖a1_j‖ up to sign) and how they were obtained. */
  scales: { alpha: number[]; fitted: boolean; reason: string; evaluations: number; sampleRows: number; mse?: number };
  /** Bytes held by each moment accumulator (the largest is the order-l moment). */
  memory: Record<string, number>;
  /** §6: ‖U‖₂ (5.3 max_j sd(a1_j·x))², stable when ≲ 1 (l ≥ 3) or ≲ 3 (l = 2). */
  stability: { quantity: number; limit: number; stable: boolean };
  varianceShareU?: number;
  spectral: { A1: number[][]; A2: number[][]; U: number[][]; b: number[] };
}

const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));

/** σ has only odd powers (then S2's moment vanishes for symmetric inputs, §4 P3). */
const isOdd = (c: Float64Array): boolean => c.every((v, m) => m % 2 !== 0 || v === 0);
/** α = −1 is a symmetry: σ(−z) = (−1)^l σ(z) (then only α > 0 is searched). */
const signSymmetric = (c: Float64Array): boolean => c.every((v, m) => (m - (c.length - 1)) % 2 === 0 || v === 0);

function checkHidden(dh: number, dx: number, dy: number, l: number): void {
  if (!Number.isInteger(dh) || dh < 1) throw new OptionError('hidden', dh, (n) => `${n('hidden')} must be a positive integer or "auto", got ${dh}`);
  if (dh > dx) throw new OptionError('hidden', dh, (n) => `${n('hidden')} ${dh} is larger than the input dimension dx = ${dx}: GLOREE needs A1 of full row rank, so dh ≤ dx (docs/method.md §2)`);
  if (l === 2 && dh > dy) {
    if (dy === 1) {
      throw new OptionError('hidden', dh, (n) =>
        `${n('hidden')} ${dh} with a single output and an activation of degree 2 is not identified: the only moment that sees the input directions is the dx×dx matrix ` +
          `E[y S2] = 2c₂ Σ_j a2_j a1_j a1_jᵀ, and a matrix has no unique decomposition into ${dh} rank-one terms (any rotation of the directions fits equally well), ` +
          `so A1 and U cannot be recovered. It becomes identified with at least ${dh} outputs (dy ≥ dh), with a cubic or higher-degree activation ` +
          `(E[y S3] is a symmetric tensor with a unique CP decomposition, docs/method.md §4 P4), or with ${n('hidden')} 1`,
      );
    }
    throw new OptionError('hidden', dh, (n) => `${n('hidden')} ${dh} is larger than the output dimension dy = ${dy}: with an activation of degree 2 the directions come from E[y ⊗ S2], which identifies at most dy neurons; use dh ≤ ${dy} or a cubic activation`);
  }
}

export function polynomial(opts: PolynomialOptions & Pick<LearnerOptions, 'refineMaxRows'>): Identifier<IORNNParams, GloreePolyBlock, 'gloree-poly'> {
  if (!opts.activation) throw new OptionError('activation', undefined, () => 'fitGloreePoly: an activation is required (coefficients c0..cl)');
  const c = activationCoefficients(opts.activation);
  const l = c.length - 1;
  const text = activationToString(opts.activation);
  if (l < 2) throw new OptionError('activation', opts.activation, () => `activation ${text}: the degree must be at least 2 (docs/method.md §2)`);
  const lead = c[l] * fact(l); // σ^(l) = c_l l!
  const symmetry = activationSymmetry(opts.activation);
  const odd = isOdd(c);
  const memory: Record<string, number> = {};
  // The control-variate subsample, kept for the U moment's own control variate (LeadingTermCV); a long sequence
  // gives at most refineMaxRows of its rows (SequenceSample).
  let cvKept: SequenceSample | null = null;
  const rowCap = opts.refineMaxRows ?? REFINE_MAX_ROWS;
  let route: 'S2' | 'P1';
  let t1!: MomentAccumulator;
  let found!: { dirs: Directions; rec: Recurrence; spectral: IORNNParams; scales: GloreePolyBlock['scales']; scaleSample: SequenceChunk[]; covX: Matrix; pA1: { sMin: number; cond: number } };
  return {
    learner: 'gloree-poly',
    name: 'GLOREE',
    // Its accumulators (T1, T2 halves, the order-l Hermite and diagonal moments, the control variate) count own rows
    // only (src/learn/pieces.ts); the subsamples keep own rows, pieces joined (SequenceSample).
    streamsPieces: true,
    plan(source, log) {
      const { dx, dy } = source;
      if (opts.hidden !== 'auto') checkHidden(opts.hidden, dx, dy, l);
      const req = opts.directions ?? 'auto';
      route = req !== 'auto' ? req : l === 2 ? 'S2' : !odd && (opts.hidden === 'auto' || dy >= opts.hidden) ? 'S2' : 'P1';
      if (l === 2) route = 'S2'; // for l = 2 the order-l moment P1 IS T2
      if (route === 'S2' && odd) log.warn(`directions from S2 requested, but σ = ${text} is odd: E[y ⊗ S2] vanishes for symmetric inputs (docs/method.md §4 P3); expect failure`);
      if (opts.hidden === 'auto' && route !== 'S2') {
        throw new OptionError('hidden', 'auto', (n) => `${n('hidden')} auto needs the second-order moment E[y ⊗ S2], which ${odd ? 'vanishes for the odd activation ' + text : 'is not used for these dimensions'}; give ${n('hidden')} K`);
      }
      // T1 and T2 use centred outputs (E[S] = 0); the control-variate subsample is kept for the U moment's own
      // control variate (LeadingTermCV).
      return {
        t2: route === 'S2',
        minSequences: 1,
        steinDegree: Math.min(4, l),
        // The U moment (P2 / P2′) pairs y_t with s_{t−1}; T1, T2 and the order-l moments stay at lag 0.
        pieceLags: { back: 1, forward: 1 },
        extra: (model) => [(t1 = t1For(model, dy, { skipLast: 1 }))],
        onControlSample: (_sub, chunk, off, stride) => (cvKept ??= new SequenceSample(source, stride, rowCap)).add(chunk, off),
      };
    },
    async identify(ctx) {
      const { source, p1, p2, log } = ctx;
      const { dx, dy } = source;
      // Covariance of x for §6's rule, from the input statistics' centred (Chan-merged) comoment.
      const covX = new Matrix(dx, dx, p1.stats.M2.map((v) => v / p1.stats.n));
      const { cvFit } = p2;
      const T1 = t1.result(); // dy×dx
      memory.T1 = t1.sum.length * 8;
      if (p2.t2Halves) memory.T2 = 2 * p2.t2Halves[0].sum.length * 8;
      // Target of the order ≥ 3 moments: control-variate residuals (unbiased: the ≥ 3rd derivatives of a degree-2
      // regression vanish), else centred y.
      const target = (chunk: SequenceChunk): Float64Array => (cvFit ? bySubchunks(chunk, (sub) => cvFit.residualChunk(sub)) : centredChunk(chunk, p1.yMean).y);
      const dirs = await polyDirections(ctx, { route, hidden: opts.hidden, l, lead, maxTensorEntries: opts.maxTensorEntries ?? 4096, checkHidden: (dh) => checkHidden(dh, dx, dy, l), target, T1, memory });
      const pA1 = pinv(dirs.A1);
      checkPinv('Â1', pA1, dirs.dh, 'dh', 'U is unreliable', log);
      const rec = await polyRecurrence(ctx, { A1: dirs.A1, A2: dirs.A2, G: pA1.pinv, l, lead, T1, cvSample: cvKept?.chunks() ?? [], target, memory });
      if (dirs.s2Components) {
        // μ̂_j = E σ''(z_j): T2's component against Â2^(j).
        const s2 = dirs.s2Components;
        dirs.diagnostics.mu = Array.from({ length: dirs.dh }, (_, j) => {
          let num = 0, den = 0;
          for (let i = 0; i < dy; i++) {
            num += s2[j * dy + i] * rec.A2.data[j * dy + i];
            den += rec.A2.data[j * dy + i] ** 2;
          }
          return num / den;
        });
      }
      // Neuron scales (σ without scale symmetry): least squares on simulated states of a subsample.
      const unit: IORNNParams = { kind: 'iornn', A1: dirs.A1, U: rec.U, A2: rec.A2, b: p1.yMean.slice(), activation: { coefficients: Array.from(c) } };
      let scaleSample: SequenceChunk[] = [];
      let alpha: Float64Array = new Float64Array(dirs.dh).fill(1);
      let scales: GloreePolyBlock['scales'];
      if (symmetry !== 'monomial') {
        const stride = sampleStride(p1.data.rows, opts.scaleFitMaxRows ?? 20_000);
        const kept = new SequenceSample(source, stride, rowCap);
        await ctx.pass('subsample', (chunk, off) => kept.add(chunk, off));
        scaleSample = kept.chunks();
        const sf = fitScales(unit, l, scaleSample, signSymmetric(c));
        alpha = sf.alpha;
        scales = { alpha: Array.from(alpha), fitted: true, reason: `σ = ${text} has no per-neuron scale symmetry (${symmetry})`, evaluations: sf.evaluations, sampleRows: sf.rows, mse: sf.mse };
        if (!Number.isFinite(sf.mse)) log.warn('every trial of the neuron scales blew up on the subsample; the scales are left at 1');
        log.lap('scales');
      } else {
        scales = { alpha: Array.from(alpha), fitted: false, reason: `σ = ${text} is a monomial: ‖a1_j‖ = 1 is a gauge (docs/method.md §2)`, evaluations: 0, sampleRows: 0 };
      }
      const spectral = applyScales(unit, alpha, l);
      found = { dirs, rec, spectral, scales, scaleSample, covX, pA1: pinvSummary(pA1) };
      return { spectral, tooLarge: 'U is', shrunk: 'a shrunk U' };
    },
    finish(ctx, fit) {
      const { dirs, rec, spectral, scales, scaleSample, covX } = found;
      const safe = <T>(f: () => T): T | undefined => {
        try {
          return f();
        } catch {
          return undefined;
        }
      };
      const varianceShareU = fit.sample.length > 0 ? safe(() => varianceShare(fit.params, fit.sample)) : scaleSample.length > 0 ? safe(() => varianceShare(fit.params, scaleSample)) : undefined;
      const stability = stabilityCheck(fit.params, covX, l);
      if (!stability.stable) {
        ctx.log.warn(
          `the fitted model is outside the stable regime of docs/method.md §6: ‖U‖₂ (5.3 max_j sd(a1_j·x))² = ${stability.quantity.toPrecision(3)} > ${stability.limit} ` +
            `for an activation of degree ${l}; predictions may blow up on long sequences or large inputs`,
        );
      }
      const cvFit = ctx.p2.cvFit, ucv = rec.ucv;
      return {
        activation: { coefficients: Array.from(c), degree: l, symmetry, text },
        hidden: dirs.hidden,
        directions: dirs.diagnostics,
        uMoment: rec.uKind,
        nu: rec.nu,
        pinv: { A1: found.pA1, A2T: rec.pA2T, ...(fit.cond !== undefined ? { outputLayer: { cond: fit.cond } } : {}) },
        controlVariate: cvFit ? { ...controlVariateDiagnostics(cvFit), ...(ucv ? { uFeatures: ucv.p, uR2: ucv.r2 } : {}) } : { used: false },
        scales,
        memory,
        stability,
        varianceShareU,
        spectral: { A1: spectral.A1.toArray(), A2: spectral.A2.toArray(), U: spectral.U.toArray(), b: Array.from(fit.spectralBias) },
      };
    },
  };
}
