import { OptionError } from '../../io/errors.js';
import type { SequenceChunk } from '../../io/dataset.js';
import type { Activation, IORNNParams } from '../../models/params.js';
import { copyChunk } from '../chunks.js';
import { Identifier } from './types.js';
import { identifySmooth, smoothFromLinear, subsample, type OrderChoice, type UStart } from './smooth.js';
import { identifyLinear, type LinearDiagnostics } from './linear.js';

/**
 * IO-RNNs with a smooth activation (tanh, sigmoid, softplus) as a pipeline module (docs/activations.md, "Smooth
 * activations"). Two routes to the spectral start:
 * - 'moments' (dh ≤ dx): order-m score moments → tied CP → directions, the P2′ mixed moment → U, starts 'moment' and
 *   'zero' compared by their MSE on a subsample (identify/smooth.ts);
 * - 'linear' (dh > dx, where the order-m moments cannot separate the neurons): Ho–Kalman identification of a linear
 *   IO-RNN with dh states, scaled into σ's near-linear range (`smoothFromLinear`).
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
    /** Linear route: the scale ε of `smoothFromLinear` and the linear identification's diagnostics. */
    epsilon?: number;
    linear?: LinearDiagnostics;
  };
}

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
    async identify({ source, input, pass, seed, log }) {
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
      let lin: ReturnType<typeof identifyLinear>;
      try {
        lin = identifyLinear(chunks, input.model, { hidden: dh });
      } catch (e) {
        throw new OptionError('hidden', dh, () => (e as Error).message);
      }
      const s = smoothFromLinear(lin.params, opts.activation, subsample(chunks, 3000));
      block = {
        smooth: {
          activation: name, route: 'linear',
          routeReason: `dh = ${dh} > dx = ${source.dx}: the order-m moments have rank ≤ dx and cannot separate the neurons, so a linear IO-RNN with ${dh} states (Ho–Kalman) is scaled into σ's near-linear range`,
          start: 'linear', startReason: `the linear realization with pre-activations scaled by ε = ${s.epsilon.toPrecision(3)} (largest pre-activation standard deviation 0.5)`,
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
