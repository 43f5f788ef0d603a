import { InputModel } from '../input/model.js';
import { Mixture1D } from '../input/mixture1d.js';
import { SteinPoly } from '../input/stein-poly.js';
import { MixtureVAR1 } from '../input/var1-mixture.js';
import { Matrix } from '../linalg/matrix.js';
import { NGDiagonalAccumulator, NGT2Accumulator } from '../moments/nongaussian.js';
import { ConditionalScoreUAccumulator } from '../moments/nongaussian-u.js';
import { Aggregate, Cond, Feature, PassDefinition, Pos, ResultRow, Term, aggregateIndex, linear, xName, yName } from './definition.js';
import { TargetSpec, centredY, targetFeatures } from './passes.js';
import { loadSums } from './hermite-passes.js';

/**
 * The passes of the non-Gaussian VAR(1) input model (src/input/var1-mixture.ts, docs/non-gaussian-inputs.md) as
 * SQL. Unlike the Gaussian scores, these depend on the row's innovation z_t = W(c_t − F c_{t−1}), c = x − μ, not
 * on the position class alone: each row computes z_t (a linear feature), then φ_i⁽ᵏ⁾(z_{t,i}) per component
 * (src/input/mixture1d.ts `preparedNegLogDerivatives`, the same formulas: the responsibilities through a
 * max-shifted EXP, or the polynomial Stein representers of src/input/stein-poly.ts), then the scores and the sums
 * of the in-process accumulators (src/moments/nongaussian.ts, nongaussian-u.ts). Row t = 0 has no innovation: its
 * derivatives are 0 (CASE on the position class), as in `innovationDerivatives`.
 */

export function mixtureModel(model: InputModel): MixtureVAR1 {
  if (!(model instanceof MixtureVAR1)) throw new Error(`the non-Gaussian passes need the mixture-var1 input model (got "${model.kind}")`);
  return model;
}

/** Steps with an innovation (t ≥ 1) / with a next step (t + 1 < L). */
export const AFTER_FIRST: Pos[] = ['interior', 'last'];
export const BEFORE_LAST: Pos[] = ['first', 'interior'];
export const at = (pos: Pos[], ts: Term[]): Partial<Record<Pos, Term[]>> => Object.fromEntries(pos.map((p) => [p, ts]));
export const col = (M: Matrix, j: number) => Float64Array.from({ length: M.rows }, (_, a) => M.data[a * M.cols + j]);
export const t = (coef: number, ...refs: string[]): Term => ({ coef, factors: refs.map((ref) => ({ ref })) });

/** eps{a} = c_t − F c_{t−1} (t ≥ 1) and z{i} = w_iᵀ eps (0 at t = 0), in the order of `innovationDerivatives`. */
function innovationFeatures(m: MixtureVAR1): Feature[] {
  const dx = m.dx, F = m.F.data, out: Feature[] = [];
  for (let a = 0; a < dx; a++) {
    const ts: Term[] = [{ coef: 1, factors: [{ ref: xName(a), shift: m.mean[a] }] }, ...linear(F.subarray(a * dx, (a + 1) * dx).map((v) => -v), xName, -1, m.mean)];
    out.push({ name: `eps${a}`, byPos: at(AFTER_FIRST, ts) });
  }
  for (let i = 0; i < dx; i++) out.push({ name: `z${i}`, terms: linear(m.W.data.subarray(i * dx, (i + 1) * dx), (a) => `eps${a}`) });
  return out;
}

/**
 * EXP(v) that is 0 below −700 instead of underflowing: PostgreSQL raises an error when EXP or a product of
 * nonzero doubles underflows to 0. A responsibility below e^{−700} ≈ 1e−304 changes no sum by more than that.
 */
const safeExp = (v: string) => `CASE WHEN ${v} < -700 THEN 0 ELSE EXP(${v}) END`;

/**
 * φ⁽¹⁾..φ⁽ᵒʳᵈᵉʳ⁾ of component c at feature `z` as terms over helper features (returned in `helpers`, named with
 * `p`): the mixture's ρ_n through responsibilities r_k = e_k / Σ e, e_k = exp(ℓ_k − max ℓ) (log-sum-exp, as the JS),
 * or the Stein representers' cumulants. Same formulas and order as src/input/mixture1d.ts and stein-poly.ts.
 */
function negLogDerivativeTerms(c: Mixture1D, z: string, p: string, order: number, helpers: Feature[]): Term[][] {
  if (c.stein) return steinTerms(c.stein, z, p, order, helpers);
  const K = c.weights.length;
  if (K === 1) {
    const v = c.variances[0];
    return [[{ coef: 1 / v, factors: [{ ref: z, shift: c.means[0] }] }], [t(1 / v)], [], []].slice(0, order);
  }
  const is = c.variances.map((v) => 1 / Math.sqrt(v)), lc = c.weights.map((w, k) => Math.log(w) - 0.5 * Math.log(c.variances[k]));
  const u = (k: number) => `${p}u${k}`, lw = (k: number) => `${p}lw${k}`, r = (k: number) => `${p}r${k}`, rho = (n: number) => `${p}rho${n}`;
  for (let k = 0; k < K; k++) helpers.push({ name: u(k), terms: [{ coef: is[k], factors: [{ ref: z, shift: c.means[k] }] }] });
  for (let k = 0; k < K; k++) helpers.push({ name: lw(k), terms: [t(lc[k]), t(-0.5, u(k), u(k))] });
  const lws = Array.from({ length: K }, (_, k) => lw(k));
  helpers.push({ name: `${p}mx`, raw: { reads: lws, sql: () => `GREATEST(${lws.join(', ')})` } });
  const e = (k: number) => safeExp(`${lw(k)} - ${p}mx`);
  const tot = lws.map((_, k) => e(k)).join(') + (');
  for (let k = 0; k < K; k++) helpers.push({ name: r(k), raw: { reads: [...lws, `${p}mx`], sql: () => `(${e(k)}) / ((${tot}))` } });
  const rhoTerms: Term[][] = [[], [], [], []];
  for (let k = 0; k < K; k++) {
    const s = is[k], R = r(k), U = u(k);
    rhoTerms[0].push(t(-s, R, U));
    rhoTerms[1].push(t(s * s, R, U, U), t(-s * s, R));
    rhoTerms[2].push(t(-s * s * s, R, U, U, U), t(3 * s * s * s, R, U));
    rhoTerms[3].push(t(s * s * s * s, R, U, U, U, U), t(-6 * s * s * s * s, R, U, U), t(3 * s * s * s * s, R));
  }
  for (let n = 1; n <= order; n++) helpers.push({ name: rho(n), terms: rhoTerms[n - 1] });
  const [r1, r2, r3, r4] = [1, 2, 3, 4].map(rho);
  return [
    [t(-1, r1)],
    [t(-1, r2), t(1, r1, r1)],
    [t(-1, r3), t(3, r1, r2), t(-2, r1, r1, r1)],
    [t(-1, r4), t(4, r1, r3), t(3, r2, r2), t(-12, r1, r1, r2), t(6, r1, r1, r1, r1)],
  ].slice(0, order);
}

/** The Stein representers' "derivatives" (src/input/stein-poly.ts `steinPolyNegLogDerivatives`): T_n(z) = T̃_n(s)/σⁿ, s = (z − m)/σ. */
function steinTerms(sp: SteinPoly, z: string, p: string, order: number, helpers: Feature[]): Term[][] {
  const inv = 1 / sp.sd, s = `${p}s`, T = (n: number) => `${p}T${n}`;
  // The operations of the JS in its order (division, Horner, then × 1/σ per order): at a far innovation the
  // cumulants cancel, and an expanded polynomial's rounding would show (measured: 8.5e−8 relative in P1).
  helpers.push({ name: s, raw: { reads: [z], sql: (num) => `(${z} - ${num(sp.mean)}) / ${num(sp.sd)}` } });
  for (let n = 1; n <= order; n++) {
    const c = sp.coef[n - 1];
    helpers.push({
      name: T(n),
      raw: {
        reads: [s],
        sql: (num) => {
          let v = num(c[c.length - 1]);
          for (let j = c.length - 2; j >= 0; j--) v = `(${v} * ${s} + ${num(c[j])})`;
          for (let k = 0; k < n; k++) v = `${v} * ${num(inv)}`;
          return v;
        },
      },
    });
  }
  const [t1, t2, t3, t4] = [1, 2, 3, 4].map(T);
  return [
    [t(1, t1)],
    [t(1, t1, t1), t(-1, t2)],
    [t(1, t3), t(-3, t1, t2), t(2, t1, t1, t1)],
    [t(-1, t4), t(4, t1, t3), t(3, t2, t2), t(-12, t1, t1, t2), t(6, t1, t1, t1, t1)],
  ].slice(0, order);
}

/**
 * The innovation features and d{k}_{i} = φ_i⁽ᵏ⁾(z_{t,i}) for k = 1..order (0 at t = 0), component i's law
 * `laws[i]` (the model's components, or the representers an accumulator uses instead).
 */
export function derivativeFeatures(m: MixtureVAR1, order: number, laws: readonly Mixture1D[] = m.components): Feature[] {
  const out = innovationFeatures(m);
  for (let i = 0; i < m.dx; i++) {
    const helpers: Feature[] = [];
    const ds = negLogDerivativeTerms(laws[i], `z${i}`, `c${i}_`, order, helpers);
    out.push(...helpers);
    ds.forEach((ts, k) => out.push({ name: `d${k + 1}_${i}`, byPos: at(AFTER_FIRST, ts) }));
  }
  return out;
}

/** dn{k}_{i} = d{k}_{i} of step t + 1 (0 at the last step). */
export function nextDerivatives(dx: number, k: number): Feature[] {
  return Array.from({ length: dx }, (_, i) => ({ name: `dn${k}_${i}`, byPos: at(BEFORE_LAST, [{ coef: 1, factors: [{ ref: `d${k}_${i}`, offset: 1 }] }]) }));
}

/** g{a}: the first-order score g_t = M0ᵀ d1_t + M1ᵀ d1_{t+1} (+ Σ⁻¹ c_0 at t = 0), src/input/var1-mixture.ts `scoresFromDerivatives`. */
export function ngScoreFeatures(m: MixtureVAR1): Feature[] {
  const dx = m.dx, Si = m.SigmaInv.data;
  return Array.from({ length: dx }, (_, a) => ({
    name: `g${a}`,
    terms: [...linear(col(m.M0, a), (i) => `d1_${i}`), ...linear(col(m.M1, a), (i) => `dn1_${i}`)],
    byPos: at(['single', 'first'], linear(Si.subarray(a * dx, (a + 1) * dx), xName, 0, m.mean)),
  }));
}

/** The row condition of the steps t ∈ [lo, L − skipLast) of every sequence (the accumulators' `stepRows`). */
export function stepWhere(lo: number, skipLast: number): Cond | undefined {
  const w: Record<string, Cond | undefined> = { '0,0': undefined, '0,1': 'notLast', '1,0': 'notFirst', '1,1': 'interior', '2,0': 'fromStep2' };
  const key = `${lo},${skipLast}`;
  if (!(key in w)) throw new Error(`sql: no row condition for the steps ${lo} ≤ t < L − ${skipLast}`);
  return w[key];
}

export const sum = (name: string, factors: string[], when?: Aggregate['when']): Aggregate => ({ name, fn: 'sum', factors, ...(when ? { when } : {}) });

/**
 * NGT2Accumulator's state on the even / odd sequences (group key `half`): Σ y g_a g_b (a ≤ b), Σ y ⊗ d2_t,
 * Σ y ⊗ d2_{t+1}, Σ_{t=0} y over the steps t ≥ firstExactStep, y − ȳ (`yMean`). The Wick parts are contracted
 * with M0, M1 when the accumulator's result is read, as in-process.
 */
export function ngT2PassDefinition(model: InputModel, yMean: ArrayLike<number>): PassDefinition {
  const m = mixtureModel(model), dx = m.dx, dy = yMean.length;
  const features = [...derivativeFeatures(m, 2), ...nextDerivatives(dx, 1), ...nextDerivatives(dx, 2), ...ngScoreFeatures(m), ...centredY(yMean)];
  const ag: Aggregate[] = [];
  for (let i = 0; i < dy; i++) {
    for (let a = 0; a < dx; a++) for (let b = a; b < dx; b++) ag.push(sum(`Y${i}_${a}_${b}`, [`yc${i}`, `g${a}`, `g${b}`]));
    for (let k = 0; k < dx; k++) ag.push(sum(`D${i}_${k}`, [`yc${i}`, `d2_${k}`]), sum(`N${i}_${k}`, [`yc${i}`, `dn2_${k}`]));
    ag.push(sum(`Z${i}`, [`yc${i}`], 'first'));
  }
  if (m.firstExactStep !== 0 && m.firstExactStep !== 1) throw new Error(`non-Gaussian T2 pass: firstExactStep ${m.firstExactStep} is not 0 or 1`);
  return { name: 'non-Gaussian T2 halves', features, groupBy: ['half'], aggregates: ag, ...(m.firstExactStep === 1 ? { where: 'notFirst' as const } : {}) };
}

const valueOf = (def: PassDefinition) => {
  const idx = aggregateIndex(def);
  return (r: ResultRow, name: string) => {
    const v = r.values[idx.get(name)!];
    return Number.isNaN(v) ? 0 : v; // SUM over no rows is NULL
  };
};

/** The two halves' NGT2Accumulators (state layout of src/moments/nongaussian.ts). */
export function readNGT2Halves(def: PassDefinition, rows: ResultRow[], model: InputModel, dy: number): [NGT2Accumulator, NGT2Accumulator] {
  const m = mixtureModel(model), dx = m.dx, v = valueOf(def);
  const halves = [new NGT2Accumulator(m, dy), new NGT2Accumulator(m, dy)] as [NGT2Accumulator, NGT2Accumulator];
  const o1 = dy * dx * dx, o2 = o1 + dy * dx, o3 = o2 + dy * dx;
  const sums = [new Float64Array(o3 + dy), new Float64Array(o3 + dy)], counts = [0, 0];
  for (const r of rows) {
    const h = r.keys.half!, S = sums[h];
    counts[h] += r.n;
    for (let i = 0; i < dy; i++) {
      for (let a = 0; a < dx; a++) for (let b = a; b < dx; b++) S[(i * dx + a) * dx + b] += v(r, `Y${i}_${a}_${b}`);
      for (let k = 0; k < dx; k++) {
        S[o1 + i * dx + k] += v(r, `D${i}_${k}`);
        S[o2 + i * dx + k] += v(r, `N${i}_${k}`);
      }
      S[o3 + i] += v(r, `Z${i}`);
    }
  }
  halves.forEach((acc, h) => acc.loadState(counts[h], sums[h]));
  return halves;
}

/**
 * ConditionalScoreUAccumulator (the quadratic learner's U on non-Gaussian inputs) as one query over t ≥ 1: the
 * accumulator's own constants (its representers, m_j, W, Â1, G, c₂) are inlined, y is centred by `yMean`.
 * Sums Σ w_j ζ_b and Σ [ỹ_{t−1}; 1]_a ζ_b, ζ = [c₂(a_k·x_{t−1})², 1].
 */
export function ngUPassDefinition(acc: ConditionalScoreUAccumulator, yMean: ArrayLike<number>): PassDefinition {
  const m = acc.model, dx = m.dx, dh = acc.dh, dy = acc.dy, c2 = acc.c2;
  if (yMean.length !== dy) throw new Error(`non-Gaussian U pass: yMean has ${yMean.length} entries, expected dy = ${dy}`);
  const features = derivativeFeatures(m, 1, acc.reps.map((stein) => ({ weights: [1], means: [stein.mean], variances: [stein.sd ** 2], stein })));
  for (let a = 0; a < dx; a++) features.push({ name: `sc${a}`, terms: linear(col(m.M0, a), (i) => `d1_${i}`) });
  for (let j = 0; j < dh; j++) {
    features.push({ name: `gs${j}`, terms: linear(col(acc.G, j), (a) => `sc${a}`) });
    features.push({ name: `yw${j}`, terms: linear(acc.demix.data.subarray(j * dy, (j + 1) * dy), yName, 0, yMean) });
    features.push({ name: `ywp${j}`, byPos: at(AFTER_FIRST, [{ coef: 1, factors: [{ ref: `yw${j}`, offset: -1 }] }]) });
    features.push({ name: `aq${j}`, terms: linear(acc.A1.data.subarray(j * dx, (j + 1) * dx), xName) });
    features.push({ name: `quad${j}`, terms: [t(c2, `aq${j}`, `aq${j}`)] });
    features.push({ name: `quadp${j}`, byPos: at(AFTER_FIRST, [{ coef: 1, factors: [{ ref: `quad${j}`, offset: -1 }] }]) });
    features.push({ name: `wq${j}`, terms: [t(1, `yw${j}`), t(acc.m[j]), t(-1, `quad${j}`)] });
    features.push({ name: `w${j}`, terms: [t(1 / (2 * c2), `wq${j}`, `gs${j}`)] });
  }
  const zeta = (b: number) => (b < dh ? [`quadp${b}`] : []);
  const ag: Aggregate[] = [];
  for (let j = 0; j < dh; j++) for (let b = 0; b <= dh; b++) ag.push(sum(`WZ${j}_${b}`, [`w${j}`, ...zeta(b)]));
  for (let a = 0; a <= dh; a++) for (let b = 0; b <= dh; b++) ag.push(sum(`XZ${a}_${b}`, [...(a < dh ? [`ywp${a}`] : []), ...zeta(b)]));
  return { name: 'non-Gaussian U (conditional scores)', where: 'notFirst', features, groupBy: [], aggregates: ag };
}

/** A ConditionalScoreUAccumulator like `acc` (same constants) holding the pass's sums. */
export function readNGU(def: PassDefinition, rows: ResultRow[], acc: ConditionalScoreUAccumulator): ConditionalScoreUAccumulator {
  const dh = acc.dh, p = dh + 1, v = valueOf(def);
  const out = new ConditionalScoreUAccumulator(acc.model, acc.dy, acc.demix, acc.A1, acc.G, acc.c2);
  for (const r of rows) {
    out.count += r.n;
    for (let j = 0; j < dh; j++) for (let b = 0; b < p; b++) out.sum[j * p + b] += v(r, `WZ${j}_${b}`);
    for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) out.sum[dh * p + a * p + b] += v(r, `XZ${a}_${b}`);
  }
  return out;
}

/**
 * NGDiagonalAccumulator ('P1', 'P2prime' of the polynomial learner on non-Gaussian inputs) as one query, from the
 * accumulator's own constants (A0 = M0 G, A1 = M1 G, g_jᵀΣ⁻¹g_j): per row κ^j_1 = g_j·g_t, κ^j_m = (−1)^{m+1}
 * (Σ_i d^m_{t,i} A0_ij^m + Σ_i d^m_{t+1,i} A1_ij^m (+ g_jᵀΣ⁻¹g_j at t = 0, m = 2)), the complete Bell polynomials by
 * the same recursion as src/input/nongaussian-scores.ts `completeBell`, then B_l (P1) or
 * p_k B_{l−1} + Σ_m C(l−1, m) κ^{jk}_m B_{l−1−m} (P2′, p_k = g_k·g_{t−1}). Steps as in-process:
 * P1 t = f..L−1−skipLast, P2′ t ≥ max(1, f + 1). The target: any of src/sql/passes.ts (y − ȳ, a residual).
 */
export function ngDiagonalPassDefinition(acc: NGDiagonalAccumulator, target: TargetSpec): PassDefinition {
  const m = acc.model, dx = m.dx, dh = acc.dh, dy = acc.dy, l = acc.degree, f0 = m.firstExactStep, { A0, A1, GSG } = acc;
  const features = [...derivativeFeatures(m, l), ...nextDerivatives(dx, 1), ...ngScoreFeatures(m), ...targetFeatures(target, dx, dy)];
  for (let k = 2; k <= l; k++) features.push(...nextDerivatives(dx, k));
  const colPow = (A: Float64Array, j: number, e: number, sign: number) => Float64Array.from({ length: dx }, (_, i) => sign * A[i * dh + j] ** e);
  for (let j = 0; j < dh; j++) {
    features.push({ name: `kap1_${j}`, terms: linear(col(acc.G, j), (a) => `g${a}`) });
    for (let k = 2; k <= l; k++) {
      const sign = k % 2 === 1 ? 1 : -1;
      features.push({
        name: `kap${k}_${j}`,
        terms: [...linear(colPow(A0, j, k, sign), (i) => `d${k}_${i}`), ...linear(colPow(A1, j, k, sign), (i) => `dn${k}_${i}`)],
        ...(k === 2 ? { byPos: at(['single', 'first'], [t(sign * GSG[j])]) } : {}),
      });
    }
    // B_{n+1} = Σ_{i ≤ n} C(n, i) B_{n−i} κ_{i+1}, B_0 = 1.
    for (let n = 0; n < l; n++) {
      const ts: Term[] = [];
      for (let i = 0, c = 1; i <= n; c = (c * (n - i)) / (i + 1), i++) ts.push(t(c, ...(n - i > 0 ? [`B${n - i}_${j}`] : []), `kap${i + 1}_${j}`));
      features.push({ name: `B${n + 1}_${j}`, terms: ts });
    }
  }
  const B = (n: number, j: number) => (n > 0 ? [`B${n}_${j}`] : []);
  const feats: string[] = [];
  if (acc.kind === 'P1') for (let j = 0; j < dh; j++) feats.push(`B${l}_${j}`);
  else {
    const binom = [1, l - 1, ((l - 1) * (l - 2)) / 2, ((l - 1) * (l - 2) * (l - 3)) / 6];
    for (let k = 0; k < dh; k++) features.push({ name: `pp${k}`, byPos: at(AFTER_FIRST, [{ coef: 1, factors: [{ ref: `kap1_${k}`, offset: -1 }] }]) });
    for (let j = 0; j < dh; j++)
      for (let k = 0; k < dh; k++) {
        const ts: Term[] = [t(1, `pp${k}`, ...B(l - 1, j))];
        for (let e = 1; e <= l - 1; e++) {
          const sign = e % 2 === 0 ? 1 : -1;
          features.push({ name: `v${e}_${j}_${k}`, terms: linear(Float64Array.from({ length: dx }, (_, i) => sign * A0[i * dh + j] ** e * A1[i * dh + k]), (i) => `d${e + 1}_${i}`) });
          ts.push(t(binom[e], `v${e}_${j}_${k}`, ...B(l - 1 - e, j)));
        }
        features.push({ name: `h${j}_${k}`, terms: ts });
        feats.push(`h${j}_${k}`);
      }
  }
  const ag: Aggregate[] = [];
  for (let i = 0; i < dy; i++) for (const f of feats) ag.push(sum(`P${i}_${f}`, [`r${i}`, f]));
  const skip = acc.skipLast;
  if (f0 > 1 || skip > 1) throw new Error(`non-Gaussian diagonal pass: firstExactStep ${f0} and skipLast ${skip} must be 0 or 1`);
  const where = acc.kind === 'P2prime' ? stepWhere(Math.max(1, f0 + 1), 0) : stepWhere(f0, skip);
  return { name: `non-Gaussian diagonal moment (${acc.kind}, degree ${l})`, features, groupBy: [], aggregates: ag, ...(where ? { where } : {}) };
}

/** A NGDiagonalAccumulator like `acc` holding the pass's sums (aggregates in the accumulator's entry order). */
export function readNGDiagonal(def: PassDefinition, rows: ResultRow[], acc: NGDiagonalAccumulator): NGDiagonalAccumulator {
  return loadSums(def, rows, new NGDiagonalAccumulator(acc.model, acc.dy, acc.G, acc.kind, acc.degree, { skipLast: acc.skipLast }));
}
