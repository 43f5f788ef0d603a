import { Matrix } from '../linalg/matrix.js';
import { Tensor } from '../tensor/tensor.js';
import { cpToTensor } from '../tensor/products.js';

/**
 * CP (CANDECOMP/PARAFAC) tensor value type: `T ≈ Σ_r weights[r] · factors[0][:, r] ⊗ … ⊗ factors[N-1][:, r]`.
 * factors[k] has shape shape[k] × R. For a tied (partially symmetric) decomposition the tied modes
 * share the SAME Matrix object, e.g. `[B, C, C]` for Σ w_i b_i ⊗ c_i ⊗ c_i.
 */
export interface CPTensor {
  weights: Float64Array;
  factors: Matrix[];
}

export { cpToTensor };

/**
 * Normalise every factor COLUMN to unit 2-norm and move the scales into the weights (TensorLy's
 * `cp_normalize`). Tied modes (the same Matrix object repeated) stay tied: the normalised matrix is
 * shared and its scale enters the weight once per occurrence. Zero columns are left at zero with
 * weight 0. Returns a new CPTensor; the input is not modified.
 */
export function cpNormalize(cp: CPTensor): CPTensor {
  const R = cp.weights.length;
  const weights = cp.weights.slice();
  const done = new Map<Matrix, Matrix>();
  const factors = cp.factors.map((F) => {
    if (F.cols !== R) throw new RangeError(`cpNormalize: factor with ${F.cols} columns, expected ${R}`);
    const norms = columnNorms(F);
    for (let r = 0; r < R; r++) weights[r] *= norms[r];
    let G = done.get(F);
    if (!G) {
      G = F.clone();
      for (let i = 0; i < F.rows; i++) for (let r = 0; r < R; r++) G.data[i * R + r] = norms[r] > 0 ? F.data[i * R + r] / norms[r] : 0;
      done.set(F, G);
    }
    return G;
  });
  return { weights, factors };
}

/** Euclidean norms of the columns of F. */
export function columnNorms(F: Matrix): Float64Array {
  const R = F.cols;
  const out = new Float64Array(R);
  for (let i = 0; i < F.rows; i++) for (let r = 0; r < R; r++) out[r] += F.data[i * R + r] ** 2;
  for (let r = 0; r < R; r++) out[r] = Math.sqrt(out[r]);
  return out;
}

/** Relative Frobenius residual ‖T − cpToTensor(cp)‖_F / ‖T‖_F (throws for a zero T). */
export function cpResidual(T: Tensor, cp: CPTensor): number {
  const nT = T.norm();
  if (!(nT > 0)) throw new RangeError('cpResidual: the reference tensor is zero; a relative residual is undefined');
  const Th = cpToTensor(cp);
  if (Th.shape.length !== T.shape.length || Th.shape.some((s, k) => s !== T.shape[k])) {
    throw new RangeError(`cpResidual: CP shape [${Th.shape.join(', ')}] does not match tensor shape [${T.shape.join(', ')}]`);
  }
  let s = 0;
  for (let i = 0; i < T.data.length; i++) s += (T.data[i] - Th.data[i]) ** 2;
  return Math.sqrt(s) / nT;
}

/** Result of {@link cpCompare}. */
export interface CPComparison {
  /** perm[r] = index of the estimated component matched to reference component r. */
  perm: number[];
  /** Per reference component r: ‖ŵ â⊗b̂⊗… − w a⊗b⊗…‖_F / ‖w a⊗b⊗…‖_F (sign/scale-invariant). */
  componentErrors: Float64Array;
  maxComponentError: number;
  /**
   * Per mode: max over components of ‖â_r s_r − a_r‖ with unit columns and the sign s_r = ±1 that
   * aligns them (the factor error up to permutation and sign/scale).
   */
  factorErrors: number[];
  maxFactorError: number;
}

/**
 * Compare an estimated CP decomposition to a reference, up to component permutation and per-mode
 * sign/scale (the CP symmetries). Components are matched greedily on the rank-1 component error
 * (adequate when the estimate is close to the reference; use it for tests and diagnostics).
 * Rank-1 errors are computed in closed form: ⟨x, y⟩ = w ŵ Π_k ⟨a_k, â_k⟩.
 */
export function cpCompare(ref: CPTensor, est: CPTensor): CPComparison {
  const R = ref.weights.length, Re = est.weights.length;
  if (ref.factors.length !== est.factors.length) throw new RangeError(`cpCompare: orders ${ref.factors.length} and ${est.factors.length} differ`);
  if (Re < R) throw new RangeError(`cpCompare: estimate has ${Re} components, reference ${R}`);
  const a = cpNormalize(ref), b = cpNormalize(est);
  const N = a.factors.length;
  // inner[k][r][s] = <a_k[:, r], b_k[:, s]>
  const inner = a.factors.map((A, k) => {
    const B = b.factors[k];
    if (A.rows !== B.rows) throw new RangeError(`cpCompare: mode ${k} sizes ${A.rows} and ${B.rows} differ`);
    const m = new Float64Array(R * Re);
    for (let i = 0; i < A.rows; i++) for (let r = 0; r < R; r++) for (let s = 0; s < Re; s++) m[r * Re + s] += A.data[i * R + r] * B.data[i * Re + s];
    return m;
  });
  const err = new Float64Array(R * Re);
  for (let r = 0; r < R; r++) {
    for (let s = 0; s < Re; s++) {
      let p = 1;
      for (let k = 0; k < N; k++) p *= inner[k][r * Re + s];
      const w = a.weights[r], v = b.weights[s];
      const d2 = w * w + v * v - 2 * w * v * p;
      err[r * Re + s] = Math.sqrt(Math.max(d2, 0)) / Math.abs(w);
    }
  }
  const perm = new Array<number>(R).fill(-1);
  const usedR = new Set<number>(), usedS = new Set<number>();
  for (let t = 0; t < R; t++) {
    let best = Infinity, br = -1, bs = -1;
    for (let r = 0; r < R; r++) {
      if (usedR.has(r)) continue;
      for (let s = 0; s < Re; s++) {
        if (usedS.has(s)) continue;
        if (err[r * Re + s] < best || br < 0) { best = err[r * Re + s]; br = r; bs = s; }
      }
    }
    perm[br] = bs; usedR.add(br); usedS.add(bs);
  }
  // Accurate errors for the matched pairs (the inner-product formula above cancels at ~1e-8):
  // with signs s_k aligning â_k to a_k and δ_k = ‖a_k − s_k â_k‖²/2 = 1 − |cos_k|,
  // ‖x − y‖² = (w − v')² + 2 w v' (1 − Π_k (1 − δ_k)), v' = v Π_k s_k.
  const componentErrors = new Float64Array(R);
  const factorErrors = new Array<number>(N).fill(0);
  for (let r = 0; r < R; r++) {
    const s = perm[r];
    let sign = 1, logProd = 0;
    for (let k = 0; k < N; k++) {
      const A = a.factors[k], B = b.factors[k];
      const sk = inner[k][r * Re + s] < 0 ? -1 : 1;
      sign *= sk;
      let d2 = 0;
      for (let i = 0; i < A.rows; i++) d2 += (A.data[i * R + r] - sk * B.data[i * Re + s]) ** 2;
      factorErrors[k] = Math.max(factorErrors[k], Math.sqrt(d2));
      logProd += Math.log1p(-Math.min(d2 / 2, 1));
    }
    const w = a.weights[r], v = b.weights[s] * sign;
    const oneMinusProd = -Math.expm1(logProd);
    const e2 = (w - v) ** 2 + 2 * w * v * oneMinusProd;
    componentErrors[r] = Math.sqrt(Math.max(e2, 0)) / Math.abs(w);
  }
  return {
    perm,
    componentErrors,
    maxComponentError: Math.max(...componentErrors),
    factorErrors,
    maxFactorError: Math.max(...factorErrors),
  };
}

/**
 * Shared input checks for the decompositions: finite entries, non-zero tensor, integer rank ≥ 1.
 * Throws a one-line Error naming the calling method.
 */
export function checkCPInput(T: Tensor, rank: number, op: string, order?: number): void {
  if (order !== undefined && T.order !== order) throw new RangeError(`${op}: tensor has order ${T.order} (shape [${T.shape.join(', ')}]), expected ${order}`);
  if (T.order < 2) throw new RangeError(`${op}: tensor has order ${T.order}, expected at least 2`);
  if (!Number.isInteger(rank) || rank < 1) throw new RangeError(`${op}: rank must be an integer >= 1, got ${rank}`);
  if (T.size === 0) throw new RangeError(`${op}: tensor is empty (shape [${T.shape.join(', ')}])`);
  for (let i = 0; i < T.data.length; i++) {
    if (!Number.isFinite(T.data[i])) throw new Error(`${op}: tensor contains NaN or Infinity (first at flat index ${i}); expected finite entries`);
  }
  if (!(T.norm() > 0)) throw new Error(`${op}: tensor is identically zero; a CP decomposition of rank ${rank} is not identifiable`);
}
