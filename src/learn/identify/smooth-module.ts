import { OptionError } from '../../io/errors.js';
import type { SequenceChunk } from '../../io/dataset.js';
import type { Activation, IORNNParams } from '../../models/params.js';
import { copyChunk } from '../chunks.js';
import { Identifier } from './types.js';
import type { InputModel } from '../../input/model.js';
import { estimateVAR1 } from '../../input/fit.js';
import { chooseStart, feedforwardStart, linearRouteStart, type LinearRouteStart, type StartChoice } from '../linear-start.js';
import { identifySmooth, subsample, type OrderChoice, type UStart } from './smooth.js';
import { identifyLinear, type LinearDiagnostics } from './linear.js';

/**
 * IO-RNNs with a smooth activation (tanh, sigmoid, softplus) as a pipeline module (docs/activations.md, "Smooth
 * activations"). Two routes to the spectral start:
 * - 'moments' (dh ≤ dx): order-m score moments → tied CP → directions, the P2′ mixed moment → U, starts 'moment' and
 *   'zero' compared by their MSE on a subsample (identify/smooth.ts);
 * - 'linear' (dh > dx, where the order-m moments cannot separate the neurons): Ho–Kalman identification of a linear
 *   IO-RNN with dh states, scaled into σ's near-linear range with a pre-activation scale chosen from the data
 *   (`linearRouteStart`, src/learn/linear-start.ts); candidates that fail or blow up are listed, and when all do, the
 *   stable feed-forward start (U = 0) is used and said (`diagnostics.smooth.linearStart`).
 * Limitation: the moments are computed by the in-memory functions of identify/smooth.ts, so this module holds the
 * training data in memory (one extra pass collects it); streaming them through pass 2 is future work.
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
    order?: OrderChoice;
    cpResidual?: number;
    /** Every start built and its MSE on the scale-fit sample (output layer by least squares). */
    starts?: { start: UStart; mse: number; alpha: number[]; maxLogFactor?: number }[];
    /**
     * Linear route: which start was used and why, every candidate's training error (a candidate that blew up or
     * failed is listed with its failure), the pre-activation RMS s chosen and the RMS values tried.
     */
    linearStart?: StartChoice & { preActivationRms?: number; linearMse?: number; tried?: { target: number; mse: number }[] };
    /** Linear route: the linear identification's diagnostics of the start used. */
    linear?: LinearDiagnostics;
  };
}

/** Rows (whole sequences, evenly spread) on which the linear-route starts are scaled and scored. */
const START_ROWS = 20_000;
/** Default refinement iterations on the linear route (see identify()). */
export const LINEAR_ROUTE_ITERATIONS = 300;

export const SMOOTH_NAMES = ['tanh', 'sigmoid', 'softplus'] as const;

export function smooth(opts: SmoothModuleOptions): Identifier<IORNNParams, SmoothBlock, 'smooth'> {
  const name = opts.activation.name ?? 'polynomial';
  let block!: SmoothBlock;
  return {
    learner: 'smooth',
    name: `smooth (${name})`,
    plan() {
      const h = opts.hidden;
      if (h === 'auto') {
        throw new OptionError('hidden', h, (n) => `${n('hidden')} auto is not available for ${n('activation')} ${name} yet: give the number of neurons (${n('activation')} linear ${n('hidden')} auto prints the Hankel singular values, a guide to the state size)`);
      }
      if (!Number.isInteger(h) || h < 1) throw new OptionError('hidden', h, (n) => `${n('hidden')} must be a positive integer, got ${h}`);
      return { t2: false };
    },
    async identify({ source, input, pass, seed, log, p1 }) {
      const dh = opts.hidden as number;
      const chunks: SequenceChunk[] = [];
      await pass('collect (smooth)', (chunk) => void chunks.push(copyChunk(chunk)));
      if (dh <= source.dx) {
        const id = identifySmooth(chunks, input.model, { activation: opts.activation, hidden: dh, order: opts.order, seed });
        const best = id.starts[0];
        const others = id.starts.slice(1).map((s) => `${s.start} ${s.mse.toPrecision(3)}`).join(', ');
        block = {
          smooth: {
            activation: name, route: 'moments', routeReason: `dh = ${dh} ≤ dx = ${source.dx}: the order-${id.order.m} score moment separates the neurons`,
            start: best.start, startReason: `lowest MSE on the scale-fit sample (${best.start} ${best.mse.toPrecision(3)}${others ? `; ${others}` : ''})`,
            order: id.order, cpResidual: id.cpResidual,
            starts: id.starts.map((s) => ({ start: s.start, mse: s.mse, alpha: s.alpha, ...(s.maxLogFactor !== undefined ? { maxLogFactor: s.maxLogFactor } : {}) })),
          },
        };
        log.lap('identify');
        return { spectral: best.params, tooLarge: 'U is', shrunk: 'a shrunk U' };
      }
      // Linear route: candidate starts scored by their free-run training error on a subsample (linear-start.ts).
      const sample = subsample(chunks, START_ROWS);
      const models: { name: string; model: InputModel; why: string }[] = [{ name: 'linear-realization', model: input.model, why: `Ho–Kalman realization of the Markov parameters from the ${input.model.kind} input model's scores` }];
      if (input.model.kind !== 'gaussian-var1') {
        // A coloured-input model (VAR(p)) can make the Markov estimates worse where the input is not excited; the
        // VAR(1) scores are a second opinion, and the start's training error decides.
        const v1 = estimateVAR1(p1.stats);
        models.push({ name: 'linear-realization-var1', model: v1.model, why: 'Ho–Kalman realization of the Markov parameters from VAR(1) scores' });
      }
      const built = new Map<string, { lin: ReturnType<typeof identifyLinear>; route: LinearRouteStart }>();
      const candidates = models.map((m) => ({
        name: m.name,
        why: m.why,
        build: () => {
          const lin = identifyLinear(chunks, m.model, { hidden: dh });
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
          routeReason: `dh = ${dh} > dx = ${source.dx}: the order-m moments have rank ≤ dx and cannot separate the neurons, so a linear IO-RNN with ${dh} states (Ho–Kalman) is scaled into σ's near-linear range`,
          start: b ? 'linear' : 'zero',
          startReason: b ? `${chosen.choice.used}: ${b.route.reason}` : chosen.choice.reason,
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
