import { InputModel } from '../input/model.js';
import { MarkovAccumulator } from '../moments/markov.js';
import { Aggregate, Feature, PassDefinition, ResultRow, aggregateIndex, yName } from './definition.js';
import { gaussianModel, scoreFeatures } from './passes.js';

/**
 * The linear learner's Markov-parameter moments M_k = E[y_{t+k} ⊗ s_t], k = 0..K−1 (src/moments/markov.ts;
 * docs/method.md §3 for the scores) as one aggregate query: each row t pairs its score with y at t + k through
 * LEAD(y, k), which is NULL past the sequence's end, so SUM and COUNT see exactly the pairs inside a sequence.
 * Grouped by the accumulator's half of step t (`bhalf`: blocks of MarkovAccumulator.HALF_BLOCK steps, shifted by
 * the sequence index). The target is y − ȳ (`yMean`; zeros for raw y), as the learner's moments pass feeds it.
 *
 * The sequence index is numbered over the whole relation; the in-process accumulator numbers the sequences of
 * each chunk from 0, so its two halves (not their sum, `result()`) equal these only when every chunk starts at an
 * even sequence index (e.g. one chunk).
 */
export interface MarkovPassSpec {
  model: InputModel;
  dy: number;
  lags: number;
  yMean: ArrayLike<number>;
}

export function markovPassDefinition(spec: MarkovPassSpec): PassDefinition {
  const m = gaussianModel(spec.model), dx = m.dx, { dy, lags: K } = spec;
  if (!Number.isInteger(K) || K < 1) throw new Error(`markov pass: lags must be a positive integer, got ${K}`);
  const features: Feature[] = [...scoreFeatures(m)];
  for (let k = 0; k < K; k++)
    for (let i = 0; i < dy; i++) features.push({ name: `yl${k}_${i}`, terms: [{ coef: 1, factors: [{ ref: yName(i), offset: k, shift: spec.yMean[i] }] }] });
  const ag: Aggregate[] = [];
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < dy; i++) for (let a = 0; a < dx; a++) ag.push({ name: `M${k}_${i}_${a}`, fn: 'sum', factors: [`yl${k}_${i}`, `s${a}`] });
    ag.push({ name: `N${k}`, fn: 'count', factors: [`yl${k}_0`] });
  }
  return { name: `Markov parameters (${K} lags)`, features, groupBy: ['bhalf'], halfBlock: MarkovAccumulator.HALF_BLOCK, aggregates: ag };
}

/** The MarkovAccumulator whose state the pass's rows (one per half) hold (state layout of src/moments/markov.ts). */
export function readMarkov(def: PassDefinition, rows: ResultRow[], spec: MarkovPassSpec): MarkovAccumulator {
  const acc = new MarkovAccumulator(spec.model, spec.dy, spec.lags);
  const dx = spec.model.dx, { dy, lags: K } = spec, idx = aggregateIndex(def), S = new Float64Array(acc.sum.length);
  const at = (r: ResultRow, name: string) => {
    const v = r.values[idx.get(name)!];
    return Number.isNaN(v) ? 0 : v; // SUM of no pairs is NULL
  };
  let n = 0;
  for (const r of rows) {
    const h = r.keys.bhalf!;
    n += r.n;
    for (let k = 0; k < K; k++) {
      for (let i = 0; i < dy; i++) for (let a = 0; a < dx; a++) S[((h * K + k) * dy + i) * dx + a] += at(r, `M${k}_${i}_${a}`);
      S[2 * K * dy * dx + h * K + k] += at(r, `N${k}`);
    }
  }
  return acc.loadState(n, S);
}
