import { setPartitions } from '../input/nongaussian-scores.js';
import { Matrix, matmul } from '../linalg/matrix.js';
import { NGStepMomentAccumulator } from '../moments/nongaussian-higher.js';
import { Feature, PassDefinition, ResultRow, Term, linear } from './definition.js';
import { targetFeatures } from './passes.js';
import { TensorPassSpec, distinctProjections, loadSums, symmetricEntries } from './hermite-passes.js';
import { at, col, derivativeFeatures, mixtureModel, nextDerivatives, ngScoreFeatures, stepWhere } from './nongaussian-passes.js';

/**
 * The order-l single-step score moment on mixture inputs (src/moments/nongaussian-higher.ts NGStepMomentAccumulator:
 * the polynomial learner's order-l moment and subspace sketch, src/learn/identify/poly-directions.ts; the smooth
 * learner's T3 halves, src/learn/identify/smooth-moments.ts) as one aggregate query. The Gaussian twin
 * (HermiteMomentAccumulator) is `tensorPassDefinition` of src/sql/hermite-passes.ts; `hermiteMomentFor` picks one of
 * the two accumulators, and the engine picks the matching pass.
 *
 * Per row, as the accumulator: the cumulant κ_B of every multiset B of (projection, index) pairs that a subset of
 * the modes can take (one feature per multiset: modes sharing a Q give equal cumulants),
 *   κ_{e} = (Q e)·g_t,   κ_B = (−1)^{|B|+1} (Σ_i d^{|B|}_{t,i} Π_{b∈B} (M0 Q_b e_b)_i + Σ_i d^{|B|}_{t+1,i} Π_b (M1 Q_b e_b)_i
 *                                 (+ (Q e)ᵀ Σ⁻¹ (Q' e') at t = 0, |B| = 2)),
 * then each entry S_l[e_1, …, e_l] = Σ_{partitions π} Π_{B∈π} κ_B (src/input/nongaussian-scores.ts), one feature per
 * distinct entry (`symmetricEntries`), summed against r_i over the steps t = f..L−1−skipLast.
 */

/** The same spec as the Gaussian tensor pass (modes, target, dy, skipLast, halves); the model is a mixture VAR(1). */
export type NGStepPassSpec = TensorPassSpec;

export function ngStepPassDefinition(spec: NGStepPassSpec): { def: PassDefinition; index: Int32Array } {
  const m = mixtureModel(spec.model), dx = m.dx, dy = spec.dy, modes = spec.modes, l = modes.length;
  if (l < 1 || l > 4) throw new Error(`SQL engines: the non-Gaussian order-l moment takes 1 to 4 modes, got ${l}`);
  if (modes.some((md) => md.lag !== 0)) throw new Error('SQL engines: the non-Gaussian order-l moment takes lag-0 modes only');
  const features: Feature[] = [...derivativeFeatures(m, l), ...nextDerivatives(dx, 1), ...ngScoreFeatures(m), ...targetFeatures(spec.target, dx, dy)];
  for (let o = 2; o <= l; o++) features.push(...nextDerivatives(dx, o));
  const { qs, qIndex } = distinctProjections(modes);
  const Qs = qs.map((Q) => Q ?? Matrix.identity(dx));
  const A0 = Qs.map((Q) => matmul(m.M0, Q)), A1 = Qs.map((Q) => matmul(m.M1, Q)), SQ = Qs.map((Q) => matmul(m.SigmaInv, Q));
  const k = modes.map((md) => (md.Q ? md.Q.cols : dx));
  // κ of a multiset of (projection q, index e), key "q.e,q.e,…" sorted; built on first use.
  const kappaOf = new Map<string, string>();
  const kappa = (pairs: [number, number][]): string => {
    const sorted = [...pairs].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const key = sorted.map(([q, e]) => `${q}.${e}`).join(',');
    let name = kappaOf.get(key);
    if (name !== undefined) return name;
    name = `kp${kappaOf.size}`;
    kappaOf.set(key, name);
    const s = sorted.length;
    if (s === 1) {
      const [q, e] = sorted[0];
      features.push({ name, terms: linear(col(Qs[q], e), (a) => `g${a}`) });
    } else {
      const sign = s % 2 === 0 ? -1 : 1;
      const prod = (A: Matrix[]) => Float64Array.from({ length: dx }, (_, i) => sorted.reduce((p, [q, e]) => p * A[q].data[i * A[q].cols + e], sign));
      const f: Feature = { name, terms: [...linear(prod(A0), (i) => `d${s}_${i}`), ...linear(prod(A1), (i) => `dn${s}_${i}`)] };
      if (s === 2) {
        // (Q e)ᵀ Σ⁻¹ (Q' e') of the first step's Gaussian density (a step the sums use only when the model is Gaussian).
        const [[q0, e0], [q1, e1]] = sorted;
        let v = 0;
        for (let a = 0; a < dx; a++) v += Qs[q0].data[a * Qs[q0].cols + e0] * SQ[q1].data[a * SQ[q1].cols + e1];
        f.byPos = at(['single', 'first'], [{ coef: sign * v, factors: [] }]);
      }
      features.push(f);
    }
    return name;
  };
  const partitions = setPartitions(l);
  const { aggregates, index } = symmetricEntries(qIndex, k, dy, (idx, fname) => {
    const terms: Term[] = partitions.map((part) => ({ coef: 1, factors: part.map((B) => ({ ref: kappa(B.map((j) => [qIndex[j], idx[j]] as [number, number])) })) }));
    features.push({ name: fname, terms });
  });
  const where = stepWhere(m.firstExactStep, spec.skipLast ?? 0);
  const def: PassDefinition = {
    name: `non-Gaussian order-${l} moment${spec.halves ? ' (halves)' : ''}`,
    features,
    groupBy: spec.halves ? ['half'] : [],
    aggregates,
    ...(where ? { where } : {}),
  };
  return { def, index };
}

/** The NGStepMomentAccumulator whose state the pass's rows hold. */
export function readNGStep(def: PassDefinition, index: Int32Array, rows: ResultRow[], spec: NGStepPassSpec): NGStepMomentAccumulator {
  return loadSums(def, rows, new NGStepMomentAccumulator(mixtureModel(spec.model), spec.dy, spec.modes, { skipLast: spec.skipLast ?? 0 }), index);
}

/** The two accumulators (even, odd sequences) of a pass with `halves`. */
export function readNGStepHalves(def: PassDefinition, index: Int32Array, rows: ResultRow[], spec: NGStepPassSpec): [NGStepMomentAccumulator, NGStepMomentAccumulator] {
  if (!def.groupBy.includes('half')) throw new Error(`sql pass ${def.name}: not grouped by half`);
  const half = (h: number) => readNGStep(def, index, rows.filter((r) => r.keys.half === h), spec);
  return [half(0), half(1)];
}
