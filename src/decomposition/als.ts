import { Matrix, matmul, matmulTN } from '../linalg/matrix.js';
import { pinv } from '../linalg/pinv.js';
import { Rng } from '../random/rng.js';
import { Tensor, symmetrizeTensor, unfold } from '../tensor/tensor.js';
import { cpToTensor, khatriRaoList } from '../tensor/products.js';
import { CPTensor, checkCPInput, columnNorms } from './cp_tensor.js';
import { leadingLeftSubspace } from './jennrich.js';

export interface ALSOptions {
  /**
   * Starting point: a CPTensor (e.g. a Jennrich estimate), 'svd' (leading left singular vectors of each
   * unfolding, padded with Gaussian columns when rank > dimension; the default) or 'random' (Gaussian).
   */
  init?: CPTensor | 'svd' | 'random';
  /** Maximum number of sweeps (default 500). */
  maxIter?: number;
  /** Stop when the relative residual decreases by less than tol between sweeps (default 1e-12, TensorLy's criterion). */
  tol?: number;
  /** Seed for random initialisation / padding (default 0). */
  seed?: number;
  /** Modes 1..N-1 share one factor: T = Σ w_i b_i ⊗ c_i ⊗ … ⊗ c_i; factors returned as [B, C, …, C]. */
  tied?: boolean;
}

export interface ALSResult {
  cp: CPTensor;
  iterations: number;
  /** Final relative residual ‖T − T̂‖_F/‖T‖_F, computed directly (no cancellation). */
  residual: number;
  converged: boolean;
  /** Relative residual after every sweep (against the tied-mode-symmetrised T when tied). */
  history: number[];
  /**
   * Largest condition number of the R×R normal matrices Hadamard_{k≠n}(A_kᵀA_k) inverted during the run
   * (pinv); large values mean nearly collinear components ("degeneracy"/swamps).
   */
  maxCondNormal: number;
  /**
   * Tied only: max over components and tied modes of ‖s·c^{(k)} − c^{(1)}‖ (unit columns, sign-aligned)
   * just before tying; ≈ 0 when the untied iteration found the tied solution, large = not converged or
   * the tensor is not tied-CP.
   */
  tieGap?: number;
}

/**
 * CP decomposition by alternating least squares (Carroll & Chang 1970; Kolda & Bader 2009 §3.4),
 * for tensors of any order N ≥ 2. Each sweep solves, for every mode n,
 *   A_n ← unfold(T, n) · KR_{k≠n}(A_k) · pinv(∘_{k≠n} A_kᵀA_k)
 * (normal equations of the linear least-squares problem in A_n; KR = Khatri–Rao in unfold's order),
 * then moves the column norms into the weights.
 *
 * Tied mode (`tied`: modes 1..N−1 share C; gloree's T2 = Σ w b ⊗ c ⊗ c): T is symmetrised over the tied
 * modes first, then the sweeps solve the tied modes as separate factors (mode-1 factor, then mode-2
 * factor, …, each least squares given the latest others) and tie once at the end: C = average of the
 * unit, sign-aligned tied-mode factors, then B (and the weights) by least squares given C. Why this
 * converges to the tied solution: on a tensor symmetric in the tied modes, swapping those modes maps a
 * CP fit to a fit of equal error, so an essentially unique (Kruskal) local optimum is mapped to itself,
 * i.e. its tied-mode factors agree up to column scale; `tieGap` reports how well they agreed.
 * (Averaging the tied factors after every sweep was tried first: it stalls at non-stationary points,
 * e.g. 50×50×50 rank 10 with mixed-sign weights stuck at residual 0.34 from svd and random starts.)
 *
 * Convergence: stop when |res_{t−1} − res_t| < tol (relative residuals, computed directly each sweep
 * because the usual expansion ‖T‖² − 2⟨T, T̂⟩ + ‖T̂‖² cancels below ~1e-8).
 *
 * Throws on NaN/Infinity, a zero tensor, rank < 1, tied with unequal tied-mode sizes or rank > the tied
 * dimension (C would not have full column rank, the model is then not identifiable), or an init of the
 * wrong shape.
 */
export function als(T0: Tensor, rank: number, opts: ALSOptions = {}): ALSResult {
  checkCPInput(T0, rank, 'als');
  const R = rank;
  const N = T0.order;
  const maxIter = opts.maxIter ?? 500;
  const tol = opts.tol ?? 1e-12;
  if (!Number.isInteger(maxIter) || maxIter < 1) throw new RangeError(`als: maxIter must be an integer >= 1, got ${maxIter}`);
  if (!(tol >= 0)) throw new RangeError(`als: tol must be >= 0, got ${tol}`);
  const tied = opts.tied ?? false;
  let T = T0;
  if (tied) {
    const J = T0.shape[1];
    if (N < 3) throw new RangeError(`als (tied): tensor has order ${N}, expected at least 3`);
    for (let k = 2; k < N; k++) if (T0.shape[k] !== J) throw new RangeError(`als (tied): modes 1..${N - 1} must have equal size, got shape [${T0.shape.join(', ')}]`);
    if (R > J) throw new RangeError(`als (tied): rank ${R} exceeds the tied dimension ${J}; the tied factor would not have full column rank`);
    T = symmetrizeTensor(T0, T0.shape.map((_, k) => k).slice(1));
  }
  const rng = new Rng(opts.seed ?? 0);
  const unfoldings = T.shape.map((_, n) => (tied && n > 1 ? null : unfold(T, n)));
  let factors = initFactors(T, R, opts.init ?? 'svd', rng, tied);
  let weights = new Float64Array(R).fill(1);
  if (typeof opts.init === 'object') weights = opts.init.weights.slice();
  const normT2 = T.norm() ** 2;
  const history: number[] = [];
  let maxCond = 0;
  let converged = false;
  let it = 0;

  /** LS update of mode n given the other (unit-column) factors: the unnormalised solution (absorbs the weights). */
  const solveMode = (n: number, fs: Matrix[]): { A: Matrix } => {
    const V = new Matrix(R, R, new Float64Array(R * R).fill(1));
    for (let k = 0; k < N; k++) {
      if (k === n) continue;
      const G = matmulTN(fs[k], fs[k]);
      for (let i = 0; i < R * R; i++) V.data[i] *= G.data[i];
    }
    const others = fs.filter((_, k) => k !== n);
    const unf = unfoldings[n] ?? unfoldings[1]!; // tied modes ≥ 2 share mode 1's unfolding (T symmetric there)
    const mttkrp = matmul(unf, khatriRaoList(others));
    const p = pinv(V);
    maxCond = Math.max(maxCond, p.cond);
    return { A: matmul(mttkrp, p.pinv) };
  };

  let prev = Infinity;
  for (it = 1; it <= maxIter; it++) {
    // One ALS sweep over all modes. In the tied case the tied modes are solved as separate factors on
    // the symmetrised T ("solve for the mode-1 factor, then the mode-2 factor") and tied at the end.
    for (let n = 0; n < N; n++) {
      // Other factors have unit columns; the solution for mode n absorbs the weights.
      const upd = solveMode(n, factors);
      const nr = columnNorms(upd.A);
      for (let r = 0; r < R; r++) weights[r] = nr[r];
      factors[n] = scaleColumns(upd.A, nr);
    }
    // Residual computed directly (one reconstruction ≈ the cost of one MTTKRP). The cheap expansion
    // ‖T‖² − 2⟨T, T̂⟩ + ‖T̂‖² cancels catastrophically below ~1e-8 relative and would stop too early.
    const res = directResidual(T, { weights, factors }, normT2);
    history.push(res);
    if (Math.abs(prev - res) < tol) {
      converged = true;
      break;
    }
    prev = res;
  }
  let tieGap: number | undefined;
  if (tied) {
    // Tie: average the unit, sign-aligned tied-mode factors into C, then refit B (and the weights) given C.
    const C1 = factors[1];
    const acc = C1.clone();
    tieGap = 0;
    for (let k = 2; k < N; k++) {
      const Ck = factors[k];
      for (let r = 0; r < R; r++) {
        let d = 0;
        for (let i = 0; i < C1.rows; i++) d += Ck.data[i * R + r] * C1.data[i * R + r];
        const sgn = d < 0 ? -1 : 1;
        let g = 0;
        for (let i = 0; i < C1.rows; i++) {
          acc.data[i * R + r] += sgn * Ck.data[i * R + r];
          g += (sgn * Ck.data[i * R + r] - C1.data[i * R + r]) ** 2;
        }
        tieGap = Math.max(tieGap, Math.sqrt(g));
      }
    }
    const C = scaleColumns(acc, columnNorms(acc));
    for (let k = 1; k < N; k++) factors[k] = C;
    const upd = solveMode(0, factors);
    const nr = columnNorms(upd.A);
    for (let r = 0; r < R; r++) weights[r] = nr[r];
    factors[0] = scaleColumns(upd.A, nr);
  }
  const cp: CPTensor = { weights, factors };
  return { cp, iterations: Math.min(it, maxIter), residual: directResidual(T0, cp, T0.norm() ** 2), converged, history, maxCondNormal: maxCond, tieGap };
}

function directResidual(T: Tensor, cp: CPTensor, normT2: number): number {
  const Th = cpToTensor(cp);
  let s = 0;
  for (let i = 0; i < T.data.length; i++) s += (T.data[i] - Th.data[i]) ** 2;
  return Math.sqrt(s / normT2);
}

function scaleColumns(A: Matrix, norms: Float64Array): Matrix {
  const R = A.cols;
  const out = new Matrix(A.rows, R);
  for (let i = 0; i < A.rows; i++) for (let r = 0; r < R; r++) out.data[i * R + r] = norms[r] > 0 ? A.data[i * R + r] / norms[r] : 0;
  return out;
}

function initFactors(T: Tensor, R: number, init: CPTensor | 'svd' | 'random', rng: Rng, tied: boolean): Matrix[] {
  const N = T.order;
  if (typeof init === 'object') {
    if (init.factors.length !== N || init.weights.length !== R) {
      throw new RangeError(`als: init has ${init.factors.length} factors and ${init.weights.length} weights, expected ${N} and ${R}`);
    }
    const fs = init.factors.map((F, k) => {
      if (F.rows !== T.shape[k] || F.cols !== R) throw new RangeError(`als: init factor ${k} is ${F.rows}x${F.cols}, expected ${T.shape[k]}x${R}`);
      return scaleColumns(F, columnNorms(F));
    });
    if (tied) for (let k = 2; k < N; k++) fs[k] = fs[1];
    return fs;
  }
  if (init !== 'svd' && init !== 'random') throw new RangeError(`als: init must be a CPTensor, 'svd' or 'random', got ${String(init)}`);
  const fs: Matrix[] = [];
  for (let n = 0; n < N; n++) {
    if (tied && n > 1) {
      fs.push(fs[1]);
      continue;
    }
    const I = T.shape[n];
    const F = new Matrix(I, R, rng.normalArray(I * R));
    if (init === 'svd') {
      const k = Math.min(R, I);
      const { U } = leadingLeftSubspace(unfold(T, n), k);
      for (let i = 0; i < I; i++) for (let r = 0; r < k; r++) F.data[i * R + r] = U.data[i * k + r];
    }
    fs.push(scaleColumns(F, columnNorms(F)));
  }
  return fs;
}
