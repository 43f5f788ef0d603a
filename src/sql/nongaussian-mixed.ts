import { InputModel } from '../input/model.js';
import { MixtureVAR1 } from '../input/var1-mixture.js';
import { Matrix, matmul } from '../linalg/matrix.js';
import { NGProjectedMixedAccumulator, NGT1Accumulator } from '../moments/nongaussian.js';
import { Aggregate, Feature, PassDefinition, ResultRow, Term, linear } from './definition.js';
import { TargetSpec, targetFeatures } from './passes.js';
import { loadSums } from './hermite-passes.js';
import { at, col, derivativeFeatures, mixtureModel, nextDerivatives, ngScoreFeatures, stepWhere, sum, t } from './nongaussian-passes.js';

/**
 * The non-Gaussian input model's T1 and third-order projected mixed moment as SQL (src/moments/nongaussian.ts
 * NGT1Accumulator, NGProjectedMixedAccumulator; the polynomial learner's 'P2' at l = 2 on mixture inputs,
 * src/moments/nongaussian-higher.ts `ngP2`). The per-row innovation derivatives d^k and scores g are the features
 * of src/sql/nongaussian-passes.ts (same responsibilities / representers); here only the contractions are new.
 * The mixed moment's Wick terms depend on the row (on d² and d³ of the shared innovation and of step u's two
 * innovations), so unlike the Gaussian pass (src/sql/passes.ts) each row's H is formed in SQL and summed as is.
 */

const targetKind = (target: TargetSpec) => (target.kind === 'residual' ? ('residual' as const) : ('y' as const));

export interface NGT1PassSpec {
  model: InputModel;
  dy: number;
  /** y − ȳ, or the control-variate residual (src/sql/passes.ts). */
  target: TargetSpec;
  skipLast?: 0 | 1;
}

/** NGT1Accumulator's state Σ r_i g_a (i-major) over the steps t = f..L−1−skipLast (f = firstExactStep). */
export function ngT1PassDefinition(spec: NGT1PassSpec): PassDefinition {
  const m = mixtureModel(spec.model), dx = m.dx, dy = spec.dy, skip = spec.skipLast ?? 0;
  const features = [...derivativeFeatures(m, 1), ...nextDerivatives(dx, 1), ...ngScoreFeatures(m), ...targetFeatures(spec.target, dx, dy)];
  const ag: Aggregate[] = [];
  for (let i = 0; i < dy; i++) for (let a = 0; a < dx; a++) ag.push(sum(`T1_${i}_${a}`, [`r${i}`, `g${a}`]));
  const where = stepWhere(m.firstExactStep, skip);
  return { name: `non-Gaussian T1${skip ? ' (t < L − 1)' : ''}`, features, groupBy: [], aggregates: ag, ...(where ? { where } : {}) };
}

export function readNGT1(def: PassDefinition, rows: ResultRow[], spec: NGT1PassSpec): NGT1Accumulator {
  return loadSums(def, rows, new NGT1Accumulator(mixtureModel(spec.model), spec.dy, { target: targetKind(spec.target), skipLast: spec.skipLast ?? 0 }));
}

/**
 * Features H{j}_{k} = H(t; u, u)[f_j, g_k, g_k], u = t ∓ 1, for the columns f_j of `first` and g_k of `pair` (as
 * NGProjectedMixedAccumulator.accumulate):
 *   H = p_j q_k² − 2 ∇²φ_{t,u}[f_j, g_k] q_k − ∇²φ_{u,u}[g_k, g_k] p_j + ∇³φ[f_j@t, g_k@u, g_k@u],
 * p_j = f_j·g_t, q_k = g_k·g_u. The shared innovation e* = max(t, u) is row t's own ('prev') or the next row's
 * ('next'); ∇²φ_{u,u} is formed at every row and read at u through LAG / LEAD.
 */
function mixedRowFeatures(m: MixtureVAR1, direction: 'prev' | 'next', first: Matrix, pair: Matrix): Feature[] {
  const dx = m.dx, dj = first.cols, dk = pair.cols, prev = direction === 'prev', off = prev ? -1 : 1;
  const features = [...derivativeFeatures(m, 3), ...nextDerivatives(dx, 1), ...nextDerivatives(dx, 2), ...(prev ? [] : nextDerivatives(dx, 3)), ...ngScoreFeatures(m)];
  const g = (a: number) => `g${a}`;
  const alpha = matmul(prev ? m.M0 : m.M1, first).data, beta = matmul(prev ? m.M1 : m.M0, pair).data;
  const M0G = matmul(m.M0, pair).data, M1G = matmul(m.M1, pair).data, SG = matmul(m.SigmaInv, pair).data;
  const d2 = (i: number) => (prev ? `d2_${i}` : `dn2_${i}`), d3 = (i: number) => (prev ? `d3_${i}` : `dn3_${i}`);
  for (let j = 0; j < dj; j++) features.push({ name: `p${j}`, terms: linear(col(first, j), g) });
  for (let k = 0; k < dk; k++) {
    let gsg = 0;
    for (let a = 0; a < dx; a++) gsg += pair.data[a * dk + k] * SG[a * dk + k];
    const sq = (A: Float64Array) => Float64Array.from({ length: dx }, (_, i) => A[i * dk + k] ** 2);
    features.push({ name: `q${k}`, terms: linear(col(pair, k), g) });
    // ∇²φ_{v,v}[g_k, g_k] at this row v (d2 is 0 at t = 0, dn2 at the last step; g_kᵀΣ⁻¹g_k at v = 0).
    features.push({ name: `jj${k}`, terms: [...linear(sq(M0G), (i) => `d2_${i}`), ...linear(sq(M1G), (i) => `dn2_${i}`)], byPos: at(['single', 'first'], [t(gsg)]) });
    features.push({ name: `qu${k}`, terms: [{ coef: 1, factors: [{ ref: `q${k}`, offset: off }] }] });
    features.push({ name: `ju${k}`, terms: [{ coef: 1, factors: [{ ref: `jj${k}`, offset: off }] }] });
  }
  for (let j = 0; j < dj; j++)
    for (let k = 0; k < dk; k++) {
      const ab = (e: number) => Float64Array.from({ length: dx }, (_, i) => alpha[i * dj + j] * beta[i * dk + k] ** e);
      features.push({ name: `jt${j}_${k}`, terms: linear(ab(1), d2) }, { name: `k3${j}_${k}`, terms: linear(ab(2), d3) });
      const hs: Term[] = [t(1, `p${j}`, `qu${k}`, `qu${k}`), t(-2, `jt${j}_${k}`, `qu${k}`), t(-1, `ju${k}`, `p${j}`), t(1, `k3${j}_${k}`)];
      features.push({ name: `H${j}_${k}`, terms: hs });
    }
  return features;
}

/** The steps of the mixed moment: 'prev' t = f+1..L−1, 'next' t = f..L−2 (NGProjectedMixedAccumulator.stepBounds). */
const mixedWhere = (m: MixtureVAR1, direction: 'prev' | 'next') => (direction === 'prev' ? stepWhere(m.firstExactStep + 1, 0) : stepWhere(m.firstExactStep, 1));

export interface NGMixedPassSpec {
  model: InputModel;
  direction: 'prev' | 'next';
  /** dh×dy demixing W, dx×dh first-mode directions and pair directions (NGProjectedMixedAccumulator). */
  demix: Matrix;
  first: Matrix;
  pair: Matrix;
  target: TargetSpec;
  /** Per fold of whole sequences, or of cut blocks (`cut`): the BRNN's fold statistics (as src/sql/passes.ts MixedPassSpec). */
  folds?: number;
  cut?: boolean;
}

/** NGProjectedMixedAccumulator's state Σ ỹ_j H[f_j, g_k, g_k], ỹ = W r, [j, k] row-major. */
export function ngMixedPassDefinition(spec: NGMixedPassSpec): PassDefinition {
  const m = mixtureModel(spec.model), dh = spec.demix.rows, dy = spec.demix.cols;
  if (spec.first.cols !== dh || spec.pair.cols !== dh) throw new Error(`non-Gaussian mixed pass: first and pair need ${dh} columns`);
  const features = [...mixedRowFeatures(m, spec.direction, spec.first, spec.pair), ...targetFeatures(spec.target, m.dx, dy)];
  for (let j = 0; j < dh; j++) features.push({ name: `w${j}`, terms: linear(spec.demix.data.subarray(j * dy, (j + 1) * dy), (i) => `r${i}`) });
  const ag: Aggregate[] = [];
  for (let j = 0; j < dh; j++) for (let k = 0; k < dh; k++) ag.push(sum(`C${j}_${k}`, [`w${j}`, `H${j}_${k}`]));
  const where = mixedWhere(m, spec.direction);
  return {
    name: `non-Gaussian projected mixed moment (${spec.direction})`,
    features,
    groupBy: spec.folds !== undefined ? ['fold'] : [],
    ...(spec.folds !== undefined ? { folds: spec.folds } : {}),
    ...(spec.cut ? { cut: true } : {}),
    aggregates: ag,
    ...(where ? { where } : {}),
  };
}

/** The NGProjectedMixedAccumulator (over all rows, or those of one fold) holding the pass's sums. */
export function readNGMixed(def: PassDefinition, rows: ResultRow[], spec: NGMixedPassSpec): NGProjectedMixedAccumulator {
  const acc = new NGProjectedMixedAccumulator(mixtureModel(spec.model), spec.demix.cols, spec.direction, spec.demix, spec.first, spec.pair, { target: targetKind(spec.target) });
  return loadSums(def, rows, acc);
}

/** One NGProjectedMixedAccumulator per fold of a mixed pass with `folds`. */
export function readNGMixedFolds(def: PassDefinition, rows: ResultRow[], spec: NGMixedPassSpec): NGProjectedMixedAccumulator[] {
  const F = def.folds;
  if (F === undefined || !def.groupBy.includes('fold')) throw new Error(`sql pass ${def.name}: not grouped by fold`);
  return Array.from({ length: F }, (_, f) => readNGMixed(def, rows.filter((r) => r.keys.fold === f), spec));
}

/**
 * The polynomial learner's U moment 'P2' at l = 2 on mixture inputs (src/moments/nongaussian-higher.ts `ngP2`):
 * [i, j, k] = Σ r_i H(t; t−1, t−1)[g_j, g_k, g_k] on the duals G (dx×dh), steps as the 'prev' mixed moment. ngP2
 * runs one mixed accumulator per output i with every demixing row e_i; H does not depend on i, so here it is
 * formed once per row.
 */
export function ngP2PassDefinition(model: InputModel, G: Matrix, target: TargetSpec, dy: number): PassDefinition {
  const m = mixtureModel(model), dh = G.cols;
  const features = [...mixedRowFeatures(m, 'prev', G, G), ...targetFeatures(target, m.dx, dy)];
  const ag: Aggregate[] = [];
  for (let i = 0; i < dy; i++) for (let j = 0; j < dh; j++) for (let k = 0; k < dh; k++) ag.push(sum(`P${i}_${j}_${k}`, [`r${i}`, `H${j}_${k}`]));
  const where = mixedWhere(m, 'prev');
  return { name: 'non-Gaussian P2 (degree 2)', features, groupBy: [], aggregates: ag, ...(where ? { where } : {}) };
}

/** The sums and step count of `ngP2` ([i, j, k] row-major; its result is sum / count). */
export function readNGP2(def: PassDefinition, rows: ResultRow[], dy: number, dh: number): { sum: Float64Array; count: number } {
  return loadSums(def, rows, { sum: new Float64Array(dy * dh * dh), count: 0 });
}
