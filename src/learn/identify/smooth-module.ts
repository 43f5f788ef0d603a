import { OptionError } from '../../io/errors.js';
import type { SequenceChunk } from '../../io/dataset.js';
import type { Activation, IORNNParams } from '../../models/params.js';
import { t1For } from '../../moments/nongaussian.js';
import { MarkovAccumulator } from '../../moments/markov.js';
import { momentPass } from '../../moments/accumulator.js';
import { estimateVAR1 } from '../../input/fit.js';
import { SequenceSample, centredChunk, sampleStride } from '../chunks.js';
import { REFINE_MAX_ROWS } from '../options.js';
import { chooseStart, feedforwardStart, linearRouteStart, type LinearRouteStart, type StartChoice } from '../linear-start.js';
import { Identifier } from './types.js';
import type { OrderChoice, UStart } from './smooth.js';
import { NoComponentError, identifySmoothFrom, type SignsSummary, type SmoothRank } from './smooth-moments.js';
import { chooseRealization, markovHankel, type LinearDiagnostics } from './linear.js';

/**
 * IO-RNNs with a smooth activation (tanh, sigmoid, softplus) as a pipeline module (docs/activations.md, "Smooth
 * activations"). Two routes to the spectral start:
 * - 'moments' (dh ≤ dx): order-m score moments → tied CP → directions, the P2′ mixed moment → U, starts 'moment' and
 *   'zero' compared by their MSE on a subsample (identify/smooth.ts);
 * - 'linear' (dh > dx, where the order-m moments cannot separate the neurons): Ho–Kalman identification of a linear
 *   IO-RNN with dh states, scaled into σ's near-linear range with a pre-activation scale chosen from the data
 *   (`linearRouteStart`, src/learn/linear-start.ts); candidates that fail or blow up are listed, and when all do, the
 *   stable feed-forward start (U = 0) is used and said (`diagnostics.smooth.linearStart`).
 * Every moment streams (pass 2: T2 halves, T1, control variate, and the Markov accumulator for the linear route; then
 * the T3 pass and the mixed-moment pass of identify/smooth-moments.ts); only subsamples of whole sequences are kept.
 */
export interface SmoothModuleOptions {
  activation: Activation;
  hidden: number | 'auto';
  /** Force the direction moment's order (default: the rule of `chooseOrder`). */
  order?: 2 | 3;
}

export interface SmoothBlock {
  smooth: {
    activation: string;
    route: 'moments' | 'linear';
    /** Why this route (one sentence). */
    routeReason: string;
    /** The U start refined ('moment', 'zero', 'surrogate', or 'linear' for the linear route) and why. */
    start: UStart | 'linear';
    startReason: string;
    /** The number of neurons: given, or chosen by the rank rule of `smoothRank` (`hidden: 'auto'`); the rule's spectra either way. */
    hidden: { chosen: number; auto: boolean; rank?: SmoothRank };
    order?: OrderChoice;
    cpResidual?: number;
    /** Every start built and its MSE on the scale-fit sample (output layer by least squares). */
    starts?: { start: UStart; mse: number; alpha: number[]; maxLogFactor?: number }[];
    /** σ without sign symmetry: the neuron signs chosen by fit (identify/smooth-signs.ts) and the loss of each pattern. */
    signs?: SignsSummary;
    /**
     * Linear route: which start was used and why, every candidate's training error (a candidate that blew up or
     * failed is listed with its failure), the pre-activation RMS s chosen and the RMS values tried.
     */
    linearStart?: StartChoice & { preActivationRms?: number; linearMse?: number; tried?: { target: number; mse: number }[] };
    /** Linear route: the linear identification's diagnostics of the start used. */
    linear?: LinearDiagnostics;
  };
}

export const SMOOTH_NAMES = ['tanh', 'sigmoid', 'softplus'] as const;

/** Rows (whole sequences, evenly spread) on which the linear-route starts are realized, scaled and scored. */
const START_ROWS = 20_000;
/** Lags of the linear route's Markov moments. */
const MARKOV_LAGS = 64;
/** Default refinement iterations on the linear route (see identify()). */
export const LINEAR_ROUTE_ITERATIONS = 300;

export function smooth(opts: SmoothModuleOptions): Identifier<IORNNParams, SmoothBlock, 'smooth'> {
  const name = opts.activation.name ?? 'polynomial';
  let block!: SmoothBlock;
  let t1!: ReturnType<typeof t1For>;
  let markov: MarkovAccumulator | null = null;
  const linearRoute = (dx: number): boolean => opts.hidden !== 'auto' && opts.hidden > dx;
  return {
    learner: 'smooth',
    name: `smooth (${name})`,
    // Both routes stream the pieces of a long sequence: their accumulators (T1, T2 halves, the order-m and mixed
    // moments; the Markov moments on the linear route; the control variate) count own rows only
    // (src/learn/pieces.ts), and their samples keep own rows (SequenceSample).
    streamsPieces: true,
    plan(source) {
      const h = opts.hidden;
      if (h !== 'auto' && (!Number.isInteger(h) || h < 1)) throw new OptionError('hidden', h, (n) => `${n('hidden')} must be a positive integer or "auto", got ${h}`);
      const linear = linearRoute(source.dx);
      return {
        t2: !linear,
        minSequences: linear ? 1 : 2,
        // T1 is at lag 0, the Markov moments pair y_t with s_{t−k}, k < 64 (src/moments/markov.ts);
        // The moments route's mixed moment P2′ pairs y_t with s_{t−1}.
        pieceLags: linear ? { back: MARKOV_LAGS - 1, forward: 0 } : { back: 1, forward: 1 },
        extra: (model) => {
          t1 = t1For(model, source.dy, { skipLast: 1 });
          if (linear) markov = new MarkovAccumulator(model, source.dy, MARKOV_LAGS);
          return markov ? [t1, markov] : [t1];
        },
      };
    },
    async identify({ source, options, input, p1, p2, pass, seed, log }) {
      const { dx, dy } = source;
      if (!markov) {
        const halves = p2.t2Halves!;
        const moments = { yMean: p1.yMean, T2: [halves[0].result(), halves[1].result()] as [Float64Array, Float64Array], counts: [halves[0].count, halves[1].count] as [number, number], T1: t1.result(), cv: p2.cvFit, rows: p1.data.rows };
        const run = (fn: (c: SequenceChunk, off: number) => void) => pass('moments (smooth)', fn);
        let id: Awaited<ReturnType<typeof identifySmoothFrom>>;
        try {
          id = await identifySmoothFrom(run, input.model, moments, dx, dy, { activation: opts.activation, hidden: opts.hidden, order: opts.order, seed, maxSequenceRows: options.refineMaxRows ?? REFINE_MAX_ROWS });
        } catch (e) {
          if (e instanceof NoComponentError) throw new OptionError('hidden', 'auto', (n) => `${n('hidden')} auto: ${e.message}; give ${n('hidden')} K`);
          throw e;
        }
        const dh = id.dh;
        const best = id.starts[0];
        const others = id.starts.slice(1).map((s) => `${s.start} ${s.mse.toPrecision(3)}`).join(', ');
        block = {
          smooth: {
            activation: name, route: 'moments', routeReason: `dh = ${dh} ≤ dx = ${dx}: the order-${id.order.m} score moment separates the neurons`,
            start: best.start, startReason: `lowest MSE on the scale-fit sample (${best.start} ${best.mse.toPrecision(3)}${others ? `; ${others}` : ''})`,
            hidden: { chosen: dh, auto: opts.hidden === 'auto', ...(id.rank ? { rank: id.rank } : {}) },
            order: id.order, cpResidual: id.cpResidual,
            ...(id.signs ? { signs: id.signs } : {}),
            starts: id.starts.map((s) => ({ start: s.start, mse: s.mse, alpha: s.alpha, ...(s.maxLogFactor !== undefined ? { maxLogFactor: s.maxLogFactor } : {}) })),
          },
        };
        log.lap('identify');
        return { spectral: best.params, tooLarge: 'U is', shrunk: 'a shrunk U' };
      }
      // Linear route: candidate starts scored by their free-run training error on a subsample (linear-start.ts).
      const dh = opts.hidden as number;
      const stride = sampleStride(p1.data.rows, START_ROWS);
      const kept = new SequenceSample(source, stride, options.refineMaxRows ?? REFINE_MAX_ROWS);
      const markovs: { name: string; acc: MarkovAccumulator; why: string }[] = [{ name: 'linear-realization', acc: markov, why: `Ho–Kalman realization of the Markov parameters from the ${input.model.kind} input model's scores` }];
      if (input.model.kind !== 'gaussian-var1') {
        // A coloured or non-Gaussian input model can make the Markov estimates worse where the input is not excited;
        // the VAR(1) scores are a second opinion (one more pass), and the start's training error decides.
        const v1 = estimateVAR1(p1.stats).model;
        markovs.push({ name: 'linear-realization-var1', acc: new MarkovAccumulator(v1, dy, markov.lags), why: 'Ho–Kalman realization of the Markov parameters from VAR(1) scores' });
      }
      const second = markovs[1];
      await pass('linear route (smooth)', (chunk, off) => {
        if (second) momentPass(second.acc.model, centredChunk(chunk, p1.yMean), [second.acc]);
        kept.add(chunk, off);
      });
      const sample = kept.chunks();
      const built = new Map<string, { lin: ReturnType<typeof chooseRealization>; route: LinearRouteStart }>();
      const candidates = markovs.map((m) => ({
        name: m.name,
        why: m.why,
        build: () => {
          const lin = chooseRealization(markovHankel(m.acc, { hidden: dh }), dy, dx, { hidden: dh }, sample);
          const route = linearRouteStart(lin.params, sample, { activation: opts.activation });
          built.set(m.name, { lin, route });
          return route.params;
        },
      }));
      const fallback = { name: 'feedforward', params: feedforwardStart(dh, sample, { activation: opts.activation, seed }) };
      const chosen = chooseStart(candidates, sample, fallback);
      const b = built.get(chosen.choice.used);
      if (!b) log.warn(`smooth (${name}): ${chosen.choice.reason}`);
      block = {
        smooth: {
          activation: name, route: 'linear',
          routeReason: `dh = ${dh} > dx = ${dx}: the order-m moments have rank ≤ dx and cannot separate the neurons, so a linear IO-RNN with ${dh} states (Ho–Kalman) is scaled into σ's near-linear range`,
          start: b ? 'linear' : 'zero',
          startReason: b ? `${chosen.choice.used}: ${b.route.reason}` : chosen.choice.reason,
          hidden: { chosen: dh, auto: false },
          linearStart: {
            ...chosen.choice,
            ...(b ? { preActivationRms: b.route.target, linearMse: b.route.linearMse, tried: b.route.tried } : {}),
          },
          ...(b ? { linear: b.lin.diagnostics } : {}),
        },
      };
      log.lap('identify');
      // The start sits in σ's linear regime; bending it into the nonlinear one takes the refinement far longer than
      // a moment start (Silverbox: still improving at 50 iterations, 2.95 mV, vs 0.30 mV at 300): up to
      // LINEAR_ROUTE_ITERATIONS, stopped earlier by the validation split (patience) or the tolerance.
      return { spectral: chosen.params, tooLarge: 'U is', shrunk: 'a shrunk U', refineDefaults: { maxIter: LINEAR_ROUTE_ITERATIONS } };
    },
    finish() {
      return block;
    },
  };
}
