import { OptionError } from '../../io/errors.js';
import type { IORNNParams } from '../../models/params.js';
import { MarkovAccumulator } from '../../moments/markov.js';
import { SequenceSample, sampleStride } from '../chunks.js';
import { REFINE_MAX_ROWS } from '../options.js';
import { Identifier } from './types.js';
import { LINEAR_ACTIVATION, chooseRealization, markovHankel, orderCandidates, type LinearDiagnostics, type LinearIdentifyOptions } from './linear.js';

/**
 * The linear IO-RNN (σ(z) = z) as a pipeline module (docs/activations.md, "Linear IO-RNN"): pass 2 adds the
 * Markov accumulator M_k = E[(y_{t+k} − ȳ) ⊗ s_t] = A2ᵀU^kA1; identify() builds the block Hankel matrix, chooses
 * the state size from its singular values against the split-sample noise floor (BIC over the ambiguous band, on
 * a subsample of whole sequences) and returns the balanced realization. The shared stages do the rest.
 */
export interface LinearModuleOptions extends LinearIdentifyOptions {
  hidden: number | 'auto';
}

/** The linear learner's block of the diagnostics. */
export interface LinearBlock {
  linear: LinearDiagnostics;
}

/** Rows (whole sequences) kept in memory to compare candidate orders by BIC. */
const BIC_ROWS = 50_000;

export function linear(opts: LinearModuleOptions): Identifier<IORNNParams, LinearBlock, 'linear'> {
  let acc!: MarkovAccumulator;
  let block!: LinearBlock;
  return {
    learner: 'linear',
    name: 'linear',
    // Its accumulators (the Markov moments, the control variate) count own rows only (src/learn/pieces.ts).
    streamsPieces: true,
    plan(source) {
      const h = opts.hidden;
      if (h !== 'auto' && (!Number.isInteger(h) || h < 1)) throw new OptionError('hidden', h, (n) => `${n('hidden')} must be a positive integer or "auto", got ${h}`);
      // M_k pairs y_t with s_{t−k} for k < K (src/moments/markov.ts).
      const lags = opts.lags ?? 64;
      return {
        t2: false,
        pieceLags: { back: lags - 1, forward: 0 },
        extra: (model) => {
          acc = new MarkovAccumulator(model, source.dy, lags);
          return [acc];
        },
      };
    },
    async identify({ source, options, p1, pass, log }) {
      const { dx, dy } = source;
      let hk: ReturnType<typeof markovHankel>;
      try {
        hk = markovHankel(acc, opts);
      } catch (e) {
        throw new OptionError('hidden', opts.hidden, () => (e as Error).message);
      }
      const candidates = orderCandidates(hk, opts);
      // The output layer of one candidate needs data; several candidates are compared on a subsample.
      const stride = candidates.length > 1 ? sampleStride(p1.data.rows, BIC_ROWS) : sampleStride(p1.data.rows, 20_000);
      const kept = new SequenceSample(source, stride, options.refineMaxRows ?? REFINE_MAX_ROWS);
      await pass('linear order', (chunk, off) => kept.add(chunk, off));
      const chosen = chooseRealization(hk, dy, dx, opts, kept.chunks());
      block = { linear: chosen.diagnostics };
      log.lap('identify');
      return { spectral: { ...chosen.params, activation: LINEAR_ACTIVATION }, tooLarge: 'U is', shrunk: 'a shrunk U' };
    },
    finish() {
      return block;
    },
  };
}
