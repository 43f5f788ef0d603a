import { InputModel } from '../input/model.js';
import { Matrix, matmul, matmulTN } from '../linalg/matrix.js';
import { DiagonalHermiteAccumulator, DiagonalKind, HermiteMode, HermiteMomentAccumulator, partialMatchings } from '../moments/higher.js';
import { p2Coefficients } from '../moments/diagonal-hermite.js';
import { Aggregate, Feature, PassDefinition, Pos, POSITIONS, ResultRow, Term, linear } from './definition.js';
import { TargetSpec, diagBlock, gaussianModel, neighbourBlock, scoreFeatures, targetFeatures } from './passes.js';

/**
 * The polynomial learner's own passes (docs/method.md §4 P1–P2′; src/learn/identify/poly-directions.ts and
 * poly-recurrence.ts) as aggregate queries, from the definitions of src/moments/higher.ts:
 *  - the order-l moment E[r ⊗ H(t, …, t)] projected on the modes' Q (explicit tensor, T1 subspace, or sketch):
 *    `HermiteMomentAccumulator` with lag-0 modes;
 *  - the diagonal contractions 'P1' (E[r_i He_l(q_j; a_j)]) and 'P2prime'
 *    (E[r_i (He_{l−1}(q_j; a_j) p_k − (l−1) c_jk He_{l−2}(q_j; a_j))]): `DiagonalHermiteAccumulator`.
 * Unlike the T2 / mixed passes (which sum raw products and apply the Wick terms when the state is rebuilt), the
 * Hermite polynomials are written out per position class: the per-class constants (the projected precision
 * blocks a_j, c_jk, C) are coefficients of byPos terms, so each result column IS an entry of the accumulator's
 * running sum. 'P2' (the polynomial learner's U moment at l = 2) needs He(p_k; b_k) with b_k of the class of step
 * t − 1, which a CASE on the class of t does not see: it is the per-class feature He_n(q_k; a_k) of step t − 1,
 * read through LAG (a window stage), so row t − 1 applies its own class.
 */

/** He_n(x; v) = Σ_m (−1)^m n!/(m!(n−2m)! 2^m) v^m x^{n−2m} as terms in `ref` (times `extra` factors, × scale). */
export function hermiteTerms(ref: string, n: number, v: number, scale = 1, extra: string[] = []): Term[] {
  const out: Term[] = [];
  let c = 1; // n!/(m!(n−2m)! 2^m) (−v)^m, updated in m
  for (let m = 0; 2 * m <= n; m++) {
    if (m > 0) c *= (-v * (n - 2 * m + 2) * (n - 2 * m + 1)) / (2 * m);
    if (c !== 0) out.push({ coef: scale * c, factors: [...Array.from({ length: n - 2 * m }, () => ({ ref })), ...extra.map((e) => ({ ref: e }))] });
  }
  return out;
}

const col = (M: Matrix, j: number) => Float64Array.from({ length: M.rows }, (_, a) => M.data[a * M.cols + j]);
const sRef = (a: number) => `s${a}`;

export interface DiagonalPassSpec {
  model: InputModel;
  /** dx×dh duals G (columns g_j). */
  G: Matrix;
  kind: DiagonalKind;
  degree: number;
  target: TargetSpec;
  dy: number;
  /** 'P1': leave out the last steps of each sequence (0 or 1). */
  skipLast?: 0 | 1;
}

export function diagonalPassDefinition(spec: DiagonalPassSpec): PassDefinition {
  const m = gaussianModel(spec.model), dx = m.dx, dh = spec.G.cols, l = spec.degree, dy = spec.dy;
  const features: Feature[] = [...scoreFeatures(m), ...targetFeatures(spec.target, dx, dy)];
  for (let j = 0; j < dh; j++) features.push({ name: `q${j}`, terms: linear(col(spec.G, j), sRef) });
  const proj = (B: Matrix | null) => (B ? matmulTN(spec.G, matmul(B, spec.G)).data : new Float64Array(dh * dh));
  const names: string[] = [];
  if (spec.kind === 'P1') {
    for (let j = 0; j < dh; j++) {
      const byPos: Partial<Record<Pos, Term[]>> = {};
      for (const pos of POSITIONS) byPos[pos] = hermiteTerms(`q${j}`, l, proj(diagBlock(m, pos))[j * dh + j]);
      features.push({ name: `f${j}`, byPos });
      names.push(`f${j}`);
    }
  } else if (spec.kind === 'P2') {
    // He_n(q_k; (GᵀP_tG)_kk) at every row for n = 1..l, read at t − 1 (hp): b_k is then the block of step t − 1.
    for (let k = 0; k < dh; k++)
      for (let n = 1; n <= l; n++) {
        const byPos: Partial<Record<Pos, Term[]>> = {};
        for (const pos of POSITIONS) byPos[pos] = hermiteTerms(`q${k}`, n, proj(diagBlock(m, pos))[k * dh + k]);
        features.push({ name: `hq${k}_${n}`, byPos });
        features.push({ name: `hp${k}_${n}`, terms: [{ coef: 1, factors: [{ ref: `hq${k}_${n}`, offset: -1 }] }] });
      }
    // Σ_m (−c_jk)^m C(l−1,m) C(l,m) m! He_{l−1−m}(q_j; a_j) He_{l−m}(p_k; b_k) (src/moments/diagonal-hermite.ts).
    const c = proj(neighbourBlock(m, 'prev'));
    const coef = p2Coefficients(l);
    for (let j = 0; j < dh; j++)
      for (let k = 0; k < dh; k++) {
        const byPos: Partial<Record<Pos, Term[]>> = {};
        for (const pos of ['interior', 'last'] as const) {
          const a = proj(diagBlock(m, pos))[j * dh + j];
          const ts: Term[] = [];
          for (let mm = 0, cm = 1; mm <= l - 1; mm++, cm *= -c[j * dh + k]) if (cm !== 0) ts.push(...hermiteTerms(`q${j}`, l - 1 - mm, a, cm * coef[mm], [`hp${k}_${l - mm}`]));
          byPos[pos] = ts;
        }
        features.push({ name: `f${j}_${k}`, byPos });
        names.push(`f${j}_${k}`);
      }
  } else {
    for (let k = 0; k < dh; k++) features.push({ name: `p${k}`, terms: [{ coef: 1, factors: [{ ref: `q${k}`, offset: -1 }] }] });
    const c = proj(neighbourBlock(m, 'prev')); // Λ_{t,t−1}: the same block at every t ≥ 1
    for (let j = 0; j < dh; j++)
      for (let k = 0; k < dh; k++) {
        const byPos: Partial<Record<Pos, Term[]>> = {};
        for (const pos of ['interior', 'last'] as const) {
          const a = proj(diagBlock(m, pos))[j * dh + j];
          byPos[pos] = [...hermiteTerms(`q${j}`, l - 1, a, 1, [`p${k}`]), ...hermiteTerms(`q${j}`, l - 2, a, -(l - 1) * c[j * dh + k])];
        }
        features.push({ name: `f${j}_${k}`, byPos });
        names.push(`f${j}_${k}`);
      }
  }
  const ag: Aggregate[] = [];
  for (let i = 0; i < dy; i++) for (const f of names) ag.push({ name: `S${i}:${f}`, fn: 'sum', factors: [`r${i}`, f] });
  const where = spec.kind !== 'P1' ? 'notFirst' : spec.skipLast === 1 ? 'notLast' : undefined;
  return { name: `diagonal Hermite moment (${spec.kind}, degree ${l})`, features, groupBy: [], aggregates: ag, ...(where ? { where } : {}) };
}

/** The DiagonalHermiteAccumulator whose state the pass's single result row holds. */
export function readDiagonal(def: PassDefinition, rows: ResultRow[], spec: DiagonalPassSpec): DiagonalHermiteAccumulator {
  const acc = new DiagonalHermiteAccumulator(spec.model, spec.dy, spec.G, spec.kind, spec.degree, { skipLast: spec.skipLast ?? 0 });
  return loadSums(def, rows, acc);
}

/** Sum of the result rows into the accumulator's running sum (aggregates in the accumulator's entry order). */
export function loadSums<A extends { sum: Float64Array; count: number }>(def: PassDefinition, rows: ResultRow[], acc: A, index?: Int32Array): A {
  const nAgg = def.aggregates.length;
  const tot = new Float64Array(nAgg);
  let n = 0;
  for (const r of rows) {
    n += r.n;
    for (let k = 0; k < nAgg; k++) if (!Number.isNaN(r.values[k])) tot[k] += r.values[k];
  }
  const map = index ?? Int32Array.from({ length: acc.sum.length }, (_, e) => e);
  if (map.length !== acc.sum.length) throw new Error(`sql pass ${def.name}: ${map.length} entries for an accumulator of ${acc.sum.length}`);
  for (let e = 0; e < map.length; e++) acc.sum[e] = tot[map[e]];
  acc.count = n;
  return acc;
}

export interface TensorPassSpec {
  model: InputModel;
  /** Lag-0 modes (their projections Q_m, dx×k_m; null = identity), as given to HermiteMomentAccumulator. */
  modes: readonly HermiteMode[];
  target: TargetSpec;
  dy: number;
  skipLast?: 0 | 1;
  /** Grouped by the even / odd sequences (the smooth learner's T3 halves, src/learn/identify/smooth-moments.ts). */
  halves?: boolean;
}

/**
 * E[r ⊗ H(t, …, t)] with H = Σ_{partial matchings π} (−1)^{|π|} Π_{(m,m')∈π} C_{mm'} Π_{m unmatched} v_m
 * (src/moments/higher.ts), v_m = Q_mᵀ s_t, C_{mm'} = Q_mᵀ P_t Q_m' per position class. Entries that are the same
 * polynomial (modes sharing one Q: permutations of the multi-index) are one feature and one aggregate.
 */
export function tensorPassDefinition(spec: TensorPassSpec): { def: PassDefinition; index: Int32Array } {
  const m = gaussianModel(spec.model), dx = m.dx, dy = spec.dy, modes = spec.modes, n = modes.length;
  if (modes.some((md) => md.lag !== 0)) throw new Error('SQL engines: the order-l tensor pass takes lag-0 modes only');
  const features: Feature[] = [...scoreFeatures(m), ...targetFeatures(spec.target, dx, dy)];
  const { qs, qIndex } = distinctProjections(modes);
  qs.forEach((Q, i) => {
    for (let c = 0; c < (Q ? Q.cols : dx); c++) features.push({ name: `v${i}_${c}`, terms: Q ? linear(col(Q, c), sRef) : [{ coef: 1, factors: [{ ref: sRef(c) }] }] });
  });
  const k = modes.map((md) => (md.Q ? md.Q.cols : dx));
  const blocks = new Map<Pos, Float64Array[][]>();
  for (const pos of POSITIONS) {
    const P = diagBlock(m, pos);
    blocks.set(pos, modes.map((a) => modes.map((b) => projected(P, a.Q, b.Q, dx))));
  }
  const matchings = partialMatchings(n);
  const { aggregates: ag, index } = symmetricEntries(qIndex, k, dy, (idx, fname) => {
    const byPos: Partial<Record<Pos, Term[]>> = {};
    for (const pos of POSITIONS) {
      const C = blocks.get(pos)!;
      const terms: Term[] = [];
      for (const mt of matchings) {
        let w = mt.pairs.length % 2 === 0 ? 1 : -1;
        for (const [p, q] of mt.pairs) w *= C[p][q][idx[p] * k[q] + idx[q]];
        if (w !== 0) terms.push({ coef: w, factors: mt.singles.map((s) => ({ ref: `v${qIndex[s]}_${idx[s]}` })) });
      }
      byPos[pos] = terms;
    }
    features.push({ name: fname, byPos });
  });
  const def: PassDefinition = { name: `order-${n} Hermite moment${spec.halves ? ' (halves)' : ''}`, features, groupBy: spec.halves ? ['half'] : [], aggregates: ag, ...(spec.skipLast === 1 ? { where: 'notLast' as const } : {}) };
  return { def, index };
}

/** The HermiteMomentAccumulator whose state the tensor pass's result row holds. */
export function readTensor(def: PassDefinition, index: Int32Array, rows: ResultRow[], spec: TensorPassSpec): HermiteMomentAccumulator {
  const acc = new HermiteMomentAccumulator(spec.model, spec.dy, spec.modes, { skipLast: spec.skipLast ?? 0 });
  return loadSums(def, rows, acc, index);
}

/** The two HermiteMomentAccumulators (even, odd sequences) of a tensor pass with `halves`. */
export function readTensorHalves(def: PassDefinition, index: Int32Array, rows: ResultRow[], spec: TensorPassSpec): [HermiteMomentAccumulator, HermiteMomentAccumulator] {
  if (!def.groupBy.includes('half')) throw new Error(`sql pass ${def.name}: not grouped by half`);
  const half = (h: number) => readTensor(def, index, rows.filter((r) => r.keys.half === h), spec);
  return [half(0), half(1)];
}

/** The distinct projections of the modes (by identity) and each mode's index into them: modes sharing a Q share features. */
export function distinctProjections(modes: readonly HermiteMode[]): { qs: (Matrix | null)[]; qIndex: number[] } {
  const qs: (Matrix | null)[] = [];
  const qIndex = modes.map((md) => {
    if (!qs.includes(md.Q)) qs.push(md.Q);
    return qs.indexOf(md.Q);
  });
  return { qs, qIndex };
}

/**
 * The aggregates of a symmetric order-n moment E[r_i T(t)[Q_1 e_1, …, Q_n e_n]]: entries that are the same
 * polynomial (modes sharing one Q: permutations of the multi-index within the group) are one feature, named by
 * this function and built by `feature(idx, name)`, and one aggregate per output r_i. `index` maps each entry of
 * the accumulator's running sum (dy × k_1 × … × k_n, row-major) to its aggregate.
 */
export function symmetricEntries(qIndex: readonly number[], k: readonly number[], dy: number, feature: (idx: Int32Array, name: string) => void): { aggregates: Aggregate[]; index: Int32Array } {
  const n = k.length, E = k.reduce((a, b) => a * b, 1);
  const index = new Int32Array(dy * E), idx = new Int32Array(n);
  const featureOf = new Map<string, string>(), aggOf = new Map<string, number>(), ag: Aggregate[] = [];
  for (let e = 0; e < E; e++) {
    // Canonical key: indices sorted within groups of modes that share a projection (the polynomial is symmetric there).
    const key = Array.from(idx, (v, mm) => [qIndex[mm], v] as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([q, v]) => `${q}.${v}`).join(',');
    let fname = featureOf.get(key);
    if (fname === undefined) {
      fname = `h${featureOf.size}`;
      featureOf.set(key, fname);
      feature(idx, fname);
    }
    for (let i = 0; i < dy; i++) {
      const akey = `${i}:${fname}`;
      let a = aggOf.get(akey);
      if (a === undefined) {
        a = ag.length;
        aggOf.set(akey, a);
        ag.push({ name: `S${akey}`, fn: 'sum', factors: [`r${i}`, fname] });
      }
      index[i * E + e] = a;
    }
    for (let mm = n - 1; mm >= 0; mm--) {
      if (++idx[mm] < k[mm]) break;
      idx[mm] = 0;
    }
  }
  return { aggregates: ag, index };
}

/** Q_aᵀ P Q_b (identity for a null Q). */
function projected(P: Matrix, Qa: Matrix | null, Qb: Matrix | null, dx: number): Float64Array {
  const I = Matrix.identity(dx);
  return matmulTN(Qa ?? I, matmul(P, Qb ?? I)).data;
}
