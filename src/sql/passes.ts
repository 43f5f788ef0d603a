import { GaussianVAR1 } from '../input/gaussian.js';
import { InputModel } from '../input/model.js';
import { featureCount, QuadraticMode } from '../moments/control.js';
import { Matrix } from '../linalg/matrix.js';
import type { LeadingTermCV } from '../learn/identify/leading-cv.js';
import { Aggregate, Cond, Feature, PassDefinition, Pos, Term, linear, xName, yName } from './definition.js';

/**
 * The pass definitions of the learners (docs/method.md §5): the same sums as the in-process accumulators,
 * written as features of (x_{t−1}, x_t, x_{t+1}, y_t). Each builder documents which accumulator's state its
 * result rows rebuild (src/sql/statistics.ts does the rebuilding).
 */

/** The Gaussian VAR(1) / i.i.d. model behind a pass (the only input models whose blocks depend on the position class alone). */
export function gaussianModel(model: InputModel): GaussianVAR1 {
  if (!(model instanceof GaussianVAR1)) throw new Error(`SQL engines need the Gaussian VAR(1) or i.i.d. input model (got "${model.kind}")`);
  return model;
}

/** Representative (t, u, L) of each position class, for InputModel.precisionBlock (src/input/gaussian.ts). */
const REP: Record<Pos, [number, number]> = { single: [0, 1], first: [0, 2], interior: [1, 3], last: [1, 2] };

/** P_t = Λ_{t,t} of the class: the boundary blocks come from the model itself (one source for both engines). */
export function diagBlock(model: InputModel, pos: Pos): Matrix {
  const [t, L] = REP[pos];
  return model.precisionBlock(t, t, L)!;
}

/** Λ_{t,t−1} (`prev`) or Λ_{t,t+1} (`next`) of an interior step; null for an i.i.d. model. */
export function neighbourBlock(model: InputModel, dir: 'prev' | 'next'): Matrix | null {
  return dir === 'prev' ? model.precisionBlock(1, 0, 2) : model.precisionBlock(0, 1, 2);
}

const HAS_PREV: Record<Pos, boolean> = { single: false, first: false, interior: true, last: true };
const HAS_NEXT: Record<Pos, boolean> = { single: false, first: true, interior: true, last: false };

/**
 * First-order scores s_t = P_t (x_t − μ) + Λ_{t,t−1}(x_{t−1} − μ)·[t > 0] + Λ_{t,t+1}(x_{t+1} − μ)·[t < L−1]
 * (docs/method.md §3) as features `${name}0..`, one CASE branch per position class.
 */
export function scoreFeatures(model: InputModel, name = 's'): Feature[] {
  const m = gaussianModel(model), dx = m.dx, mu = m.mean;
  const Lp = neighbourBlock(m, 'prev'), Ln = neighbourBlock(m, 'next');
  const row = (M: Matrix, a: number) => M.data.subarray(a * dx, (a + 1) * dx);
  const out: Feature[] = [];
  for (let a = 0; a < dx; a++) {
    const byPos: Partial<Record<Pos, Term[]>> = {};
    for (const pos of ['single', 'first', 'interior', 'last'] as const) {
      const ts = linear(row(diagBlock(m, pos), a), xName, 0, mu);
      if (Lp && HAS_PREV[pos]) ts.push(...linear(row(Lp, a), xName, -1, mu));
      if (Ln && HAS_NEXT[pos]) ts.push(...linear(row(Ln, a), xName, 1, mu));
      byPos[pos] = ts;
    }
    out.push({ name: `${name}${a}`, byPos });
  }
  return out;
}

/** y − ȳ as features yc0.. (the centred outputs of pass 2). */
export function centredY(yMean: ArrayLike<number>): Feature[] {
  return Array.from({ length: yMean.length }, (_, i) => ({ name: `yc${i}`, terms: [{ coef: 1, factors: [{ ref: yName(i), shift: yMean[i] }] }] }));
}

const sum = (name: string, factors: string[], when?: Cond): Aggregate => ({ name, fn: 'sum', factors, ...(when ? { when } : {}) });
const upper = (n: number, f: (a: number, b: number) => void) => {
  for (let a = 0; a < n; a++) for (let b = a; b < n; b++) f(a, b);
};

/**
 * Pass 1 (VAR1Stats of src/input/fit.ts, output sums and the data checks): sums about `shift` (any point near the
 * data, e.g. the mean of the first rows: it only guards the rounding of the centred comoments).
 */
export function inputPassDefinition(dx: number, dy: number, shift: ArrayLike<number>): PassDefinition {
  const features: Feature[] = [];
  for (let a = 0; a < dx; a++) {
    features.push({ name: `e${a}`, terms: [{ coef: 1, factors: [{ ref: xName(a), shift: shift[a] }] }] });
    features.push({ name: `ep${a}`, terms: [{ coef: 1, factors: [{ ref: xName(a), offset: -1, shift: shift[a] }] }] });
  }
  const ag: Aggregate[] = [];
  for (const c of [...Array.from({ length: dx }, (_, a) => xName(a)), ...Array.from({ length: dy }, (_, i) => yName(i))]) {
    ag.push({ name: `nulls_${c}`, fn: 'nulls', factors: [c] }, { name: `nonfinite_${c}`, fn: 'nonfinite', factors: [c] });
  }
  ag.push({ name: 'nulls_order', fn: 'nulls', factors: ['__ord'] }, { name: 'nulls_seq', fn: 'nulls', factors: ['__seq'] });
  ag.push(sum('ties', ['__tie']), sum('gaps', ['__gap']), sum('sequences', [], 'first'));
  ag.push({ name: 'minL', fn: 'min', factors: ['t1'], when: 'last' }, { name: 'maxL', fn: 'max', factors: ['t1'], when: 'last' });
  for (let a = 0; a < dx; a++) ag.push(sum(`sumE${a}`, [`e${a}`]), sum(`first${a}`, [`e${a}`], 'first'), sum(`last${a}`, [`e${a}`], 'last'));
  upper(dx, (a, b) => ag.push(sum(`S${a}_${b}`, [`e${a}`, `e${b}`]), sum(`SF${a}_${b}`, [`e${a}`, `e${b}`], 'first'), sum(`SL${a}_${b}`, [`e${a}`, `e${b}`], 'last')));
  for (let a = 0; a < dx; a++) for (let b = 0; b < dx; b++) ag.push(sum(`X10_${a}_${b}`, [`e${a}`, `ep${b}`], 'notFirst'));
  for (let i = 0; i < dy; i++) {
    ag.push(sum(`y${i}`, [yName(i)]), { name: `ymin${i}`, fn: 'min', factors: [yName(i)] }, { name: `ymax${i}`, fn: 'max', factors: [yName(i)] });
  }
  return { name: 'input model statistics', features, groupBy: [], aggregates: ag };
}

export interface MomentsPassSpec {
  model: InputModel;
  /** ȳ from pass 1 (T2 and T1 are moments of y − ȳ). */
  yMean: ArrayLike<number>;
  /** T2 on the even / odd sequences (T2Accumulator of src/moments/single.ts). */
  t2: boolean;
  /** T1 over t < L − 1 (the polynomial learner's T1Accumulator with skipLast 1). */
  t1?: boolean;
  /** Residual moment sums of the fitted input model (ResidualMoments of src/input/fit.ts). */
  residualMoments?: boolean;
}

/** Pass 2 over all rows: T2 halves (grouped by half and position class for the Wick term), T1, residual moments. */
export function momentsPassDefinition(spec: MomentsPassSpec): PassDefinition {
  const m = gaussianModel(spec.model), dx = m.dx, dy = spec.yMean.length;
  const features: Feature[] = [...scoreFeatures(m), ...centredY(spec.yMean)];
  const ag: Aggregate[] = [];
  if (spec.t2) {
    for (let i = 0; i < dy; i++) {
      ag.push(sum(`T2y${i}`, [`yc${i}`]));
      upper(dx, (a, b) => ag.push(sum(`T2_${i}_${a}_${b}`, [`yc${i}`, `s${a}`, `s${b}`])));
    }
  }
  if (spec.t1) {
    ag.push(sum('T1n', [], 'notLast'));
    for (let i = 0; i < dy; i++) for (let a = 0; a < dx; a++) ag.push(sum(`T1_${i}_${a}`, [`yc${i}`, `s${a}`], 'notLast'));
  }
  if (spec.residualMoments) {
    const iid = m.isIID, F = m.F.data;
    for (let a = 0; a < dx; a++) {
      const terms: Term[] = [{ coef: 1, factors: [{ ref: xName(a), shift: m.mean[a] }] }];
      if (!iid) terms.push(...linear(F.subarray(a * dx, (a + 1) * dx).map((v) => -v), xName, -1, m.mean));
      features.push({ name: `eps${a}`, terms });
      const when: Cond | undefined = iid ? undefined : 'notFirst';
      for (let k = 1; k <= 4; k++) ag.push(sum(`eps${k}_${a}`, Array(k).fill(`eps${a}`), when));
    }
    ag.push(sum('epsN', [], iid ? undefined : 'notFirst'));
  }
  return { name: 'moments (T2 halves, T1, input residual moments)', features, groupBy: ['half', 'pos'], aggregates: ag };
}

// ---------------------------------------------------------------------------------------------
// Control variate (docs/method.md §5 step 4)

/**
 * The control-variate features φ of src/moments/control.ts, in the same order, as factor lists over the
 * features zp*, zc*, zn* (centred x_{t−1}, x_t, x_{t+1}; zero where the neighbour is missing), hp, hn.
 */
export function controlFeatureFactors(dx: number, mode: QuadraticMode): string[][] {
  const z = [...Array.from({ length: dx }, (_, a) => `zp${a}`), ...Array.from({ length: dx }, (_, a) => `zc${a}`), ...Array.from({ length: dx }, (_, a) => `zn${a}`)];
  const phi: string[][] = [[], ['hp'], ['hn'], ...z.map((v) => [v])];
  if (mode === 'full') upper(3 * dx, (a, b) => phi.push([z[a], z[b]]));
  else if (mode === 'current') upper(dx, (a, b) => phi.push([z[dx + a], z[dx + b]]));
  if (phi.length !== featureCount(dx, mode)) throw new Error('controlFeatureFactors: feature count disagrees with src/moments/control.ts');
  return phi;
}

/** Features z and the indicators hp, hn (centre: the control variate's centre, the input model mean). */
export function controlBaseFeatures(dx: number, center: ArrayLike<number>): Feature[] {
  const f: Feature[] = [];
  const one: Term[] = [{ coef: 1, factors: [] }];
  f.push({ name: 'hp', byPos: { interior: one, last: one } }, { name: 'hn', byPos: { first: one, interior: one } });
  for (let a = 0; a < dx; a++) {
    const t = (offset: -1 | 0 | 1): Term[] => [{ coef: 1, factors: [{ ref: xName(a), offset, shift: center[a] }] }];
    f.push({ name: `zp${a}`, byPos: { interior: t(-1), last: t(-1) } });
    f.push({ name: `zc${a}`, terms: t(0) });
    f.push({ name: `zn${a}`, byPos: { first: t(1), interior: t(1) } });
  }
  return f;
}

/**
 * A product of φ factors in canonical form: hp·hp = hp, and hp (hn) is dropped next to a zp (zn) factor, which
 * is already zero where hp (hn) is — so Gram entries that are the same monomial are summed once.
 */
export function canonicalProduct(factors: string[]): string[] {
  const f = [...factors].sort();
  const out = f.filter((v, i) => !((v === 'hp' || v === 'hn') && f[i - 1] === v));
  const hasZp = out.some((v) => v.startsWith('zp')), hasZn = out.some((v) => v.startsWith('zn'));
  return out.filter((v) => !(v === 'hp' && hasZp) && !(v === 'hn' && hasZn));
}

/** The control-variate normal equations on the sequences with index ≡ 0 (mod stride) (ControlVariate state). */
export function controlPassDefinition(dx: number, dy: number, mode: QuadraticMode, center: ArrayLike<number>, stride: number): PassDefinition {
  const phi = controlFeatureFactors(dx, mode);
  const seen = new Set<string>();
  const ag: Aggregate[] = [];
  const add = (factors: string[]) => {
    const key = factors.join('*');
    if (!seen.has(key)) {
      seen.add(key);
      ag.push(sum(`g:${key}`, factors));
    }
  };
  upper(phi.length, (a, b) => add(canonicalProduct([...phi[a], ...phi[b]])));
  for (let a = 0; a < phi.length; a++) for (let i = 0; i < dy; i++) add(canonicalProduct([...phi[a], yName(i)]));
  for (let i = 0; i < dy; i++) add([yName(i), yName(i)]);
  return { name: 'control variate normal equations', stride, features: controlBaseFeatures(dx, center), groupBy: [], aggregates: ag };
}

// ---------------------------------------------------------------------------------------------
// Projected mixed moments (docs/method.md §4 F4/F5, §5 step 5)

/**
 * The output a moment multiplies: the control-variate residual y − βᵀφ (coef p×dy, centre, mode), y − ȳ, or the
 * U moment's leading-term residual (src/learn/identify/leading-cv.ts: φ plus (a_j·(x_t − μ))^m, m = 3..l, for the
 * rows a_j of `dirs` (dh×dx); coef (p + dh(l − 2))×dy).
 */
export type TargetSpec =
  | { kind: 'residual'; coef: Float64Array; center: ArrayLike<number>; quadratic: QuadraticMode }
  | { kind: 'centred'; yMean: ArrayLike<number> }
  | { kind: 'leading'; coef: Float64Array; center: ArrayLike<number>; quadratic: QuadraticMode; dirs: Matrix; l: number };

/** The leading-term control variate of the U moment as a target (its fitted constants inlined). */
export function leadingTarget(cv: LeadingTermCV): TargetSpec {
  return { kind: 'leading', coef: cv.coef, center: cv.center, quadratic: cv.mode, dirs: cv.dirs, l: cv.l };
}

/**
 * The target as features r0..r{dy−1} (plus the control-variate base features it reads): the residual of
 * src/moments/control.ts (`residualChunk`) written out as y_i − Σ_a β_ai φ_a, the same with the leading-term
 * features of LeadingTermCV appended (in its order: neuron j, then power m), or the centred output.
 */
export function targetFeatures(tgt: TargetSpec, dx: number, dy: number): Feature[] {
  if (tgt.kind === 'centred') return centredY(tgt.yMean).map((f, i) => ({ ...f, name: `r${i}` }));
  const features = controlBaseFeatures(dx, tgt.center);
  const phi = controlFeatureFactors(dx, tgt.quadratic);
  if (tgt.kind === 'leading') {
    const { dirs, l } = tgt;
    if (dirs.cols !== dx || tgt.coef.length !== (phi.length + dirs.rows * (l - 2)) * dy) throw new Error('targetFeatures: leading-term coefficients disagree with src/learn/identify/leading-cv.ts');
    for (let j = 0; j < dirs.rows; j++) {
      features.push({ name: `zl${j}`, terms: linear(dirs.data.subarray(j * dx, (j + 1) * dx), xName, 0, tgt.center) });
      for (let m = 3; m <= l; m++) phi.push(Array<string>(m).fill(`zl${j}`));
    }
  }
  for (let i = 0; i < dy; i++) {
    const terms: Term[] = [{ coef: 1, factors: [{ ref: yName(i) }] }];
    for (let a = 0; a < phi.length; a++) {
      const c = tgt.coef[a * dy + i];
      if (c !== 0) terms.push({ coef: -c, factors: phi[a].map((ref) => ({ ref })) });
    }
    features.push({ name: `r${i}`, terms });
  }
  return features;
}

export interface MixedPassSpec {
  model: InputModel;
  direction: 'prev' | 'next';
  /** dh×dy demixing W, dx×dh first-mode directions F and pair directions G (ProjectedMixedAccumulator). */
  demix: Matrix;
  first: Matrix;
  pair: Matrix;
  full?: boolean;
  /** The moment's output: the control-variate residual (coef p×dy, centre, mode) or y − ȳ. */
  target: TargetSpec;
  /**
   * Per fold of whole sequences (sequence index mod `folds`, grouped by the key `fold`): the BRNN's split
   * statistics (src/learn/identify/split.ts `foldParts` without cutting).
   */
  folds?: number;
  /** With `folds`: cut the sequences into blocks first (`foldParts` with cutting: fewer than 2·folds sequences). */
  cut?: boolean;
}

/**
 * ProjectedMixedAccumulator as one query over the pairs (t, u = t ∓ 1): ỹ = W target, p = Fᵀ s_t, q = Gᵀ s at
 * u, grouped by the class of P_u; sums Σ ỹ_j p_j q_k q_l, Σ ỹ_j p_j and Σ ỹ_j q_k (the Wick terms are applied
 * per group when the state is rebuilt).
 */
export function mixedPassDefinition(spec: MixedPassSpec): PassDefinition {
  const m = gaussianModel(spec.model), dx = m.dx, dh = spec.demix.rows, dy = spec.demix.cols;
  const features: Feature[] = [...scoreFeatures(m)];
  features.push(...targetFeatures(spec.target, dx, dy));
  const col = (M: Matrix, j: number) => Float64Array.from({ length: M.rows }, (_, a) => M.data[a * M.cols + j]);
  const sRef = (a: number) => `s${a}`, rRef = (i: number) => `r${i}`;
  for (let j = 0; j < dh; j++) {
    features.push({ name: `p${j}`, terms: linear(col(spec.first, j), sRef) });
    features.push({ name: `q${j}`, terms: linear(col(spec.pair, j), sRef) });
    features.push({ name: `w${j}`, terms: linear(spec.demix.data.subarray(j * dy, (j + 1) * dy), rRef) });
  }
  const off = spec.direction === 'prev' ? -1 : 1;
  for (let k = 0; k < dh; k++) features.push({ name: `qu${k}`, terms: [{ coef: 1, factors: [{ ref: `q${k}`, offset: off }] }] });
  const ag: Aggregate[] = [];
  for (let j = 0; j < dh; j++) {
    ag.push(sum(`E${j}`, [`w${j}`, `p${j}`]));
    for (let k = 0; k < dh; k++) ag.push(sum(`YQ${j}_${k}`, [`w${j}`, `qu${k}`]));
    if (spec.full) upper(dh, (k, l) => ag.push(sum(`M${j}_${k}_${l}`, [`w${j}`, `p${j}`, `qu${k}`, `qu${l}`])));
    else for (let k = 0; k < dh; k++) ag.push(sum(`M${j}_${k}`, [`w${j}`, `p${j}`, `qu${k}`, `qu${k}`]));
  }
  return {
    name: `projected mixed moment (${spec.direction})`,
    where: spec.direction === 'prev' ? 'notFirst' : 'notLast',
    features,
    groupBy: [...(spec.folds !== undefined ? (['fold'] as const) : []), spec.direction === 'prev' ? 'uprev' : 'unext'],
    ...(spec.folds !== undefined ? { folds: spec.folds } : {}),
    ...(spec.cut ? { cut: true } : {}),
    aggregates: ag,
  };
}
