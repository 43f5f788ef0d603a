import { OptionError } from '../../io/errors.js';
import type { SequenceChunk } from '../../io/dataset.js';
import type { Activation, IORNNParams } from '../../models/params.js';
import { T1Accumulator } from '../../moments/single.js';
import { MarkovAccumulator } from '../../moments/markov.js';
import { keptSubchunk, sampleStride, strideSubchunk } from '../chunks.js';
import { Identifier } from './types.js';
import { smoothFromLinear, type OrderChoice, type UStart } from './smooth.js';
import { NoComponentError, identifySmoothFrom, type SignsSummary, type SmoothRank } from './smooth-moments.js';
import { chooseRealization, markovHankel, type LinearDiagnostics } from './linear.js';

/**
 * IO-RNNs with a smooth activation (tanh, sigmoid, softplus) as a pipeline module (docs/activations.md, "Smooth
 * activations"). Two routes to the spectral start:
 * - 'moments' (dh ≤ dx): order-m score moments → tied CP → directions, the P2′ mixed moment → U, starts 'moment' and
 *   'zero' compared by their MSE on a subsample (identify/smooth.ts);
 * - 'linear' (dh > dx, where the order-m moments cannot separate the neurons): Ho–Kalman identification of a linear
 *   IO-RNN with dh states, scaled into σ's near-linear range (`smoothFromLinear`).
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
    /** Linear route: the scale ε of `smoothFromLinear` and the linear identification's diagnostics. */
    epsilon?: number;
    linear?: LinearDiagnostics;
  };
}

export const SMOOTH_NAMES = ['tanh', 'sigmoid', 'softplus'] as const;

/** Rows (whole sequences) for the linear route's output layer and the scale fit of its ε. */
const LINEAR_ROWS = 20_000, SCALE_ROWS = 3000;

export function smooth(opts: SmoothModuleOptions): Identifier<IORNNParams, SmoothBlock, 'smooth'> {
  const name = opts.activation.name ?? 'polynomial';
  let block!: SmoothBlock;
  let t1!: T1Accumulator;
  let markov: MarkovAccumulator | null = null;
  return {
    learner: 'smooth',
    name: `smooth (${name})`,
    plan(source) {
      const h = opts.hidden;
      if (h !== 'auto' && (!Number.isInteger(h) || h < 1)) throw new OptionError('hidden', h, (n) => `${n('hidden')} must be a positive integer or "auto", got ${h}`);
      const linearRoute = h !== 'auto' && h > source.dx;
      return {
        t2: !linearRoute,
        minSequences: linearRoute ? 1 : 2,
        extra: (model) => {
          t1 = new T1Accumulator(model, source.dy, { skipLast: 1 });
          if (linearRoute) markov = new MarkovAccumulator(model, source.dy, 64);
          return markov ? [t1, markov] : [t1];
        },
      };
    },
    async identify({ source, input, p1, p2, pass, seed, log }) {
      const { dx, dy } = source;
      if (!markov) {
        const halves = p2.t2Halves!;
        const moments = { yMean: p1.yMean, T2: [halves[0].result(), halves[1].result()] as [Float64Array, Float64Array], counts: [halves[0].count, halves[1].count] as [number, number], T1: t1.result(), cv: p2.cvFit, rows: p1.data.rows };
        const run = (fn: (c: SequenceChunk, off: number) => void) => pass('moments (smooth)', fn);
        let id: Awaited<ReturnType<typeof identifySmoothFrom>>;
        try {
          id = await identifySmoothFrom(run, input.model, moments, dx, dy, { activation: opts.activation, hidden: opts.hidden, order: opts.order, seed });
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
      const dh = opts.hidden as number;
      const linStride = sampleStride(p1.data.rows, LINEAR_ROWS), scaleStride = sampleStride(p1.data.rows, SCALE_ROWS);
      const linSample: SequenceChunk[] = [], scaleSample: SequenceChunk[] = [];
      await pass('linear route (smooth)', (chunk, off) => {
        for (const [stride, out] of [[linStride, linSample], [scaleStride, scaleSample]] as const) {
          const sub = strideSubchunk(chunk, off, stride);
          if (sub) out.push(keptSubchunk(source, sub, chunk));
        }
      });
      let lin: ReturnType<typeof chooseRealization>;
      try {
        lin = chooseRealization(markovHankel(markov, { hidden: dh }), dy, dx, { hidden: dh }, linSample);
      } catch (e) {
        throw new OptionError('hidden', dh, () => (e as Error).message);
      }
      const s = smoothFromLinear(lin.params, opts.activation, scaleSample);
      block = {
        smooth: {
          activation: name, route: 'linear',
          routeReason: `dh = ${dh} > dx = ${dx}: the order-m moments have rank ≤ dx and cannot separate the neurons, so a linear IO-RNN with ${dh} states (Ho–Kalman) is scaled into σ's near-linear range`,
          start: 'linear', startReason: `the linear realization with pre-activations scaled by ε = ${s.epsilon.toPrecision(3)} (largest pre-activation standard deviation 0.5)`,
          hidden: { chosen: dh, auto: false },
          epsilon: s.epsilon, linear: lin.diagnostics,
        },
      };
      log.lap('identify');
      return { spectral: s.params, tooLarge: 'U is', shrunk: 'a shrunk U' };
    },
    finish() {
      return block;
    },
  };
}
