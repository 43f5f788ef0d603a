import { ResidualMoments, VAR1Stats } from '../input/fit.js';
import { InputModel } from '../input/model.js';
import { Matrix, matmul, matmulTN } from '../linalg/matrix.js';
import { ControlVariate } from '../moments/control.js';
import { ProjectedMixedAccumulator } from '../moments/mixed.js';
import { T1Accumulator, T2Accumulator } from '../moments/single.js';
import { PassDefinition, POSITIONS, Pos, ResultRow, aggregateIndex, total } from './definition.js';
import { MixedPassSpec, canonicalProduct, controlFeatureFactors, diagBlock, gaussianModel, neighbourBlock } from './passes.js';
import { QuadraticMode } from '../moments/control.js';

/**
 * Result rows of the pass queries → the in-process accumulators' states (`loadState`), so that the learner
 * continues on them unchanged. Every function here only regroups sums and applies the constant Wick terms per
 * position class (the in-process accumulators apply the same terms per precision block at flush).
 */

function getter(def: PassDefinition, row: ResultRow): (name: string) => number {
  const idx = aggregateIndex(def);
  return (name) => {
    const k = idx.get(name);
    if (k === undefined) throw new Error(`sql pass ${def.name}: no aggregate ${name}`);
    const v = row.values[k];
    return Number.isNaN(v) ? 0 : v;
  };
}

/** What pass 1's single result row says (sums are rebuilt into VAR1Stats; checks are left to the engine). */
export interface InputPassResult {
  stats: VAR1Stats;
  rows: number;
  sequences: number;
  minLength: number;
  maxLength: number;
  ySum: Float64Array;
  yMin: Float64Array;
  yMax: Float64Array;
  nulls: Map<string, number>;
  nonFinite: Map<string, number>;
  nullOrder: number;
  nullSeq: number;
  ties: number;
  /** Rows whose sequence had other rows in between (reading order only). */
  gaps: number;
}

export function readInputPass(def: PassDefinition, rows: ResultRow[], dx: number, dy: number, shift: ArrayLike<number>): InputPassResult {
  if (rows.length !== 1) throw new Error(`sql pass ${def.name}: expected one result row, got ${rows.length}`);
  const r = rows[0], g = getter(def, r), n = r.n;
  const vec = (f: (a: number) => string, len: number) => Float64Array.from({ length: len }, (_, a) => g(f(a)));
  const S = new Float64Array(dx * dx), SF = new Float64Array(dx * dx), SL = new Float64Array(dx * dx), X10 = new Float64Array(dx * dx);
  for (let a = 0; a < dx; a++) {
    for (let b = a; b < dx; b++) {
      S[a * dx + b] = g(`S${a}_${b}`);
      SF[a * dx + b] = g(`SF${a}_${b}`);
      SL[a * dx + b] = g(`SL${a}_${b}`);
    }
    for (let b = 0; b < dx; b++) X10[a * dx + b] = g(`X10_${a}_${b}`);
  }
  const sequences = g('sequences');
  const stats =
    n > 0
      ? VAR1Stats.fromCentredSums(dx, {
          n,
          sequences,
          m: n - sequences,
          shift: Float64Array.from(shift),
          sumE: vec((a) => `sumE${a}`, dx),
          S,
          X10,
          sumFirst: vec((a) => `first${a}`, dx),
          sumLast: vec((a) => `last${a}`, dx),
          SFirst: SF,
          SLast: SL,
        })
      : new VAR1Stats(dx);
  const nulls = new Map<string, number>(), nonFinite = new Map<string, number>();
  for (const a of def.aggregates) {
    if (a.fn === 'nulls') nulls.set(a.factors[0], g(a.name));
    if (a.fn === 'nonfinite') nonFinite.set(a.factors[0], g(a.name));
  }
  return {
    stats,
    rows: n,
    sequences,
    minLength: g('minL'),
    maxLength: g('maxL'),
    ySum: vec((i) => `y${i}`, dy),
    yMin: vec((i) => `ymin${i}`, dy),
    yMax: vec((i) => `ymax${i}`, dy),
    nulls,
    nonFinite,
    nullOrder: g('nulls_order'),
    nullSeq: g('nulls_seq'),
    ties: g('ties'),
    gaps: g('gaps'),
  };
}

const posOf = (code: number): Pos => POSITIONS[code];

/** T2 on the even / odd sequences from pass 2's rows (grouped by half, position class). */
export function readT2Halves(def: PassDefinition, rows: ResultRow[], model: InputModel, dy: number): [T2Accumulator, T2Accumulator] {
  const dx = model.dx;
  const halves = [new T2Accumulator(model, dy), new T2Accumulator(model, dy)] as [T2Accumulator, T2Accumulator];
  const sums = [new Float64Array(dy * dx * dx), new Float64Array(dy * dx * dx)], counts = [0, 0];
  for (const r of rows) {
    const h = r.keys.half!, g = getter(def, r), P = diagBlock(model, posOf(r.keys.pos!)).data, S = sums[h];
    counts[h] += r.n;
    for (let i = 0; i < dy; i++) {
      const yi = g(`T2y${i}`);
      for (let a = 0; a < dx; a++) for (let b = a; b < dx; b++) S[(i * dx + a) * dx + b] += g(`T2_${i}_${a}_${b}`) - yi * P[a * dx + b];
    }
  }
  for (const h of [0, 1]) {
    const S = sums[h];
    for (let i = 0; i < dy; i++) for (let a = 0; a < dx; a++) for (let b = 0; b < a; b++) S[(i * dx + a) * dx + b] = S[(i * dx + b) * dx + a];
    halves[h].loadState(counts[h], S);
  }
  return halves;
}

/** T1 (t < L − 1) of centred y from pass 2's rows. */
export function readT1(def: PassDefinition, rows: ResultRow[], model: InputModel, dy: number): T1Accumulator {
  const dx = model.dx, S = new Float64Array(dy * dx);
  let n = 0;
  for (const r of rows) {
    const g = getter(def, r);
    n += g('T1n');
    for (let i = 0; i < dy; i++) for (let a = 0; a < dx; a++) S[i * dx + a] += g(`T1_${i}_${a}`);
  }
  return new T1Accumulator(model, dy, { skipLast: 1 }).loadState(n, S);
}

/** Residual moment sums of the input model from pass 2's rows. */
export function readResidualMoments(def: PassDefinition, rows: ResultRow[], dx: number): ResidualMoments {
  const res = new ResidualMoments(dx);
  res.count = total(def, rows, 'epsN');
  for (let k = 1; k <= 4; k++) for (let a = 0; a < dx; a++) res.sums[(k - 1) * dx + a] = total(def, rows, `eps${k}_${a}`);
  return res;
}

/** The ControlVariate accumulator (state layout of src/moments/control.ts) from the control pass's row. */
export function readControlVariate(def: PassDefinition, rows: ResultRow[], dx: number, dy: number, mode: QuadraticMode, center: ArrayLike<number>): ControlVariate {
  const cv = new ControlVariate(dx, dy, { quadratic: mode, center });
  const phi = controlFeatureFactors(dx, mode), p = phi.length;
  const S = new Float64Array(p * p + p * dy + 2 * dy);
  const at = (factors: string[]) => total(def, rows, `g:${factors.join('*')}`);
  for (let a = 0; a < p; a++) for (let b = a; b < p; b++) S[a * p + b] = S[b * p + a] = at(canonicalProduct([...phi[a], ...phi[b]]));
  for (let a = 0; a < p; a++) for (let i = 0; i < dy; i++) S[p * p + a * dy + i] = at(canonicalProduct([...phi[a], `y${i}`]));
  // Σ y is the φ = 1 column of Σ φ y; Σ y² its own sum.
  for (let i = 0; i < dy; i++) {
    S[p * p + p * dy + i] = S[p * p + i];
    S[p * p + p * dy + dy + i] = at([`y${i}`, `y${i}`]);
  }
  let n = 0;
  for (const r of rows) n += r.n;
  return cv.loadState(n, S);
}

/**
 * ProjectedMixedAccumulator from the mixed pass's rows (grouped by the class of P_u):
 *   C[j,k,l] = Σ_groups M_jkl − E_j (GᵀP_uG)_kl − K_jl YQ_jk − K_jk YQ_jl,  K = Fᵀ Λ_{t,u} G
 * (the Wick terms of src/moments/mixed.ts).
 */
export function readMixed(def: PassDefinition, rows: ResultRow[], spec: MixedPassSpec, dy: number): ProjectedMixedAccumulator {
  const model = gaussianModel(spec.model), dh = spec.demix.rows, full = spec.full ?? false;
  const acc = new ProjectedMixedAccumulator(model, dy, spec.direction, spec.demix, spec.first, spec.pair, {
    target: spec.target.kind === 'centred' ? 'y' : 'residual',
    full,
  });
  const Lb = neighbourBlock(model, spec.direction);
  const K = Lb ? matmulTN(spec.first, matmul(Lb, spec.pair)) : new Matrix(dh, dh);
  const S = new Float64Array(full ? dh ** 3 : dh * dh);
  let n = 0;
  for (const r of rows) {
    const g = getter(def, r), key = spec.direction === 'prev' ? r.keys.uprev! : r.keys.unext!;
    n += r.n;
    const GPG = matmulTN(spec.pair, matmul(diagBlock(model, posOf(key)), spec.pair)).data, Kd = K.data;
    for (let j = 0; j < dh; j++) {
      const e = g(`E${j}`);
      if (full) {
        for (let k = 0; k < dh; k++)
          for (let l = k; l < dh; l++) {
            S[(j * dh + k) * dh + l] += g(`M${j}_${k}_${l}`) - e * GPG[k * dh + l] - Kd[j * dh + l] * g(`YQ${j}_${k}`) - Kd[j * dh + k] * g(`YQ${j}_${l}`);
          }
      } else for (let k = 0; k < dh; k++) S[j * dh + k] += g(`M${j}_${k}`) - e * GPG[k * dh + k] - 2 * Kd[j * dh + k] * g(`YQ${j}_${k}`);
    }
  }
  if (full) for (let j = 0; j < dh; j++) for (let k = 0; k < dh; k++) for (let l = 0; l < k; l++) S[(j * dh + k) * dh + l] = S[(j * dh + l) * dh + k];
  return acc.loadState(n, S);
}

/** Per-fold ProjectedMixedAccumulators (fold f: the sequences with index ≡ f mod folds) from a mixed pass with folds. */
export function readMixedFolds(def: PassDefinition, rows: ResultRow[], spec: MixedPassSpec, dy: number): ProjectedMixedAccumulator[] {
  const F = def.folds;
  if (F === undefined || !def.groupBy.includes('fold')) throw new Error(`sql pass ${def.name}: not grouped by fold`);
  return Array.from({ length: F }, (_, f) => readMixed(def, rows.filter((r) => r.keys.fold === f), spec, dy));
}
