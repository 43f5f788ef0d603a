import { Matrix, matmul, matvec } from '../linalg/matrix.js';
import { eigSym } from '../linalg/eigsym.js';
import { pinv } from '../linalg/pinv.js';
import { Rng } from '../random/rng.js';
import { Tensor, contractToMatrix, multilinear, symmetrizeTensor, unfold } from '../tensor/tensor.js';
import { khatriRao } from '../tensor/products.js';
import { CPTensor, checkCPInput } from './cp_tensor.js';
import { lsModeZeroTied } from './jennrich.js';

/**
 * Paper App. F / Algorithm 5 step 1: T(D, I, I) — multiply mode 0 by the symmetrisation matrix D in the
 * multilinear-form convention (D has shape I × r; out[i, j, k] = Σ_a T[a, j, k] D[a, i]). For
 * T = Σ w_i b_i ⊗ c_i ⊗ c_i, a D with Dᵀ (w_i b_i) = c_i gives Σ c_i^{⊗3}.
 */
export function symmetrizeMode1(T: Tensor, D: Matrix): Tensor {
  if (T.order !== 3) throw new RangeError(`symmetrizeMode1: tensor has order ${T.order}, expected 3`);
  if (D.rows !== T.shape[0]) throw new RangeError(`symmetrizeMode1: D is ${D.rows}x${D.cols}, expected ${T.shape[0]} rows (mode-0 size)`);
  return multilinear(T, [D, null, null]);
}

export interface WhitenResult {
  /** d × rank whitening matrix: Wᵀ M2 W = I_rank. */
  W: Matrix;
  /** d × rank un-whitening matrix B = V_r diag(√λ) (B = (Wᵀ)⁺, so x = B Wᵀ x on the kept subspace). */
  B: Matrix;
  /** The kept (top-rank) eigenvalues of M2, descending. */
  eigenvalues: Float64Array;
  /** λ_rank, the smallest kept eigenvalue (whitening amplifies errors by 1/√λ_rank). */
  smallestKept: number;
  /** λ_{rank+1} (0 when rank = d): the largest discarded eigenvalue. */
  largestDiscarded: number;
  /** λ_{rank+1} / λ_rank: near 1 means the rank-subspace is badly determined. */
  gapRatio: number;
}

/**
 * Whitening (Anandkumar et al. 2014, §4.3): for a symmetric PSD second moment M2 = Σ μ_i c_i c_iᵀ (μ_i > 0)
 * of rank `rank`, W = V_r diag(λ_r)^{-1/2} from the top-`rank` eigenpairs, so Wᵀ M2 W = I and the vectors
 * √μ_i Wᵀ c_i are orthonormal. Throws when M2 is not square/symmetric, or when its rank-th eigenvalue is
 * not clearly positive (≤ rtol·λ_1, default rtol 1e-12): M2 then has rank < `rank`.
 */
export function whiten(M2: Matrix, rank: number, opts: { rtol?: number } = {}): WhitenResult {
  const d = M2.rows;
  if (M2.cols !== d) throw new RangeError(`whiten: M2 is ${M2.rows}x${M2.cols}, expected square symmetric`);
  if (!Number.isInteger(rank) || rank < 1 || rank > d) throw new RangeError(`whiten: rank must be an integer in [1, ${d}], got ${rank}`);
  const rtol = opts.rtol ?? 1e-12;
  const e = eigSym(M2);
  const lam = e.values;
  if (!(lam[0] > 0)) throw new Error('whiten: M2 has no positive eigenvalue; expected a positive semi-definite second moment');
  if (!(lam[rank - 1] > rtol * lam[0])) {
    throw new Error(`whiten: M2 has only ${countAbove(lam, rtol * lam[0])} eigenvalues above ${rtol}·λ_max, cannot whiten to rank ${rank} (λ_${rank} = ${lam[rank - 1].toExponential(3)})`);
  }
  const W = new Matrix(d, rank), B = new Matrix(d, rank);
  const V = e.vectors;
  for (let i = 0; i < d; i++) {
    for (let r = 0; r < rank; r++) {
      const v = V.data[i * d + r];
      W.data[i * rank + r] = v / Math.sqrt(lam[r]);
      B.data[i * rank + r] = v * Math.sqrt(lam[r]);
    }
  }
  const largestDiscarded = rank < d ? lam[rank] : 0;
  return {
    W,
    B,
    eigenvalues: lam.slice(0, rank),
    smallestKept: lam[rank - 1],
    largestDiscarded,
    gapRatio: largestDiscarded / lam[rank - 1],
  };
}

function countAbove(a: Float64Array, t: number): number {
  let c = 0;
  for (const x of a) if (x > t) c++;
  return c;
}

export interface PowerMethodOptions {
  /** Random restarts per component (L in AGHKT Algorithm 1; default 10). */
  nRestarts?: number;
  /** Power iterations per restart and for the final polish (N; default 100; stops early at convergence). */
  nIter?: number;
  /** Convergence threshold on ‖θ_{t+1} − θ_t‖ (default 1e-14). */
  tol?: number;
  seed?: number;
}

export interface PowerComponentDiagnostics {
  lambda: number;
  /** Polish iterations used and the final step size ‖θ_{t+1} − θ_t‖. */
  iterations: number;
  finalStep: number;
  /** Fraction of restarts whose end point lies within 1e-3 of the chosen vector (robustness indicator). */
  restartAgreement: number;
  /** Best minus second-best restart value T(θ,θ,θ) among restarts that did NOT agree (0 if all agreed). */
  restartGap: number;
}

export interface PowerMethodResult {
  /** Eigenvalues λ_i (in extraction order, normally descending). */
  eigenvalues: Float64Array;
  /** k × rank, column i = unit eigenvector v_i. */
  vectors: Matrix;
  diagnostics: {
    components: PowerComponentDiagnostics[];
    /** ‖T − Σ λ_i v_i^{⊗3}‖_F / ‖T‖_F after all deflations. */
    residual: number;
    /** min_{i≠j} |λ_i − λ_j| / max λ (robust power method separates components by value). */
    minEigenGap: number;
    /** max_{i≠j} |v_iᵀ v_j|: 0 for an orthogonally decomposable tensor. */
    maxOffOrthogonality: number;
    /** ‖T − Sym(T)‖ / ‖T‖ of the input (symmetrised before use). */
    asymmetry: number;
  };
}

/**
 * Robust tensor power method with random restarts and deflation (Anandkumar, Ge, Hsu, Kakade & Telgarsky 2014,
 * Algorithm 1) for a symmetric, orthogonally decomposable k×k×k tensor T ≈ Σ_i λ_i v_i^{⊗3} (v_i orthonormal,
 * λ_i > 0) — the whitened tensor of App. F. For each component: `nRestarts` random unit starts, `nIter`
 * iterations θ ← T(I, θ, θ)/‖T(I, θ, θ)‖ each, keep the start with the largest T(θ, θ, θ), polish it with
 * up to `nIter` more iterations, set λ = T(θ, θ, θ) and deflate T ← T − λ θ^{⊗3}.
 * The input is symmetrised first (noise may break symmetry); its asymmetry is reported.
 * Throws on a non-cubical or non-third-order tensor, NaN, zero tensor, rank > k.
 */
export function tensorPowerMethod(Tsym: Tensor, rank: number, opts: PowerMethodOptions = {}): PowerMethodResult {
  checkCPInput(Tsym, rank, 'tensorPowerMethod', 3);
  const k = Tsym.shape[0];
  if (Tsym.shape[1] !== k || Tsym.shape[2] !== k) throw new RangeError(`tensorPowerMethod: tensor shape [${Tsym.shape.join(', ')}] is not cubical`);
  if (rank > k) throw new RangeError(`tensorPowerMethod: rank ${rank} exceeds the dimension ${k}; an orthogonal decomposition has at most ${k} components`);
  const nRestarts = opts.nRestarts ?? 10, nIter = opts.nIter ?? 100, tol = opts.tol ?? 1e-14;
  if (!Number.isInteger(nRestarts) || nRestarts < 1) throw new RangeError(`tensorPowerMethod: nRestarts must be an integer >= 1, got ${nRestarts}`);
  if (!Number.isInteger(nIter) || nIter < 1) throw new RangeError(`tensorPowerMethod: nIter must be an integer >= 1, got ${nIter}`);
  const rng = new Rng(opts.seed ?? 0);
  const S = symmetrizeTensor(Tsym);
  const norm0 = Tsym.norm();
  let asym = 0;
  for (let i = 0; i < S.data.length; i++) asym += (S.data[i] - Tsym.data[i]) ** 2;
  asym = Math.sqrt(asym) / norm0;
  const work = S.data.slice();
  const lambdas = new Float64Array(rank);
  const V = new Matrix(k, rank);
  const comps: PowerComponentDiagnostics[] = [];

  const iterate = (theta: Float64Array, n: number): { theta: Float64Array; step: number; iters: number } => {
    let step = Infinity, it = 0;
    for (it = 0; it < n && step > tol; it++) {
      const next = tIvv(work, k, theta);
      const nn = Math.hypot(...next);
      if (!(nn > 0)) break;
      step = 0;
      for (let i = 0; i < k; i++) {
        next[i] /= nn;
        step += (next[i] - theta[i]) ** 2;
      }
      step = Math.sqrt(step);
      theta = next;
    }
    return { theta, step, iters: it };
  };

  for (let c = 0; c < rank; c++) {
    const ends: { theta: Float64Array; value: number }[] = [];
    for (let l = 0; l < nRestarts; l++) {
      const t0 = rng.normalArray(k);
      const n0 = Math.hypot(...t0);
      for (let i = 0; i < k; i++) t0[i] /= n0;
      const r = iterate(t0, nIter);
      ends.push({ theta: r.theta, value: tvvv(work, k, r.theta) });
    }
    ends.sort((a, b) => b.value - a.value);
    const pol = iterate(ends[0].theta.slice(), nIter);
    const theta = pol.theta;
    const lam = tvvv(work, k, theta);
    let agree = 0, other = -Infinity;
    for (const e of ends) {
      let d = 0;
      for (let i = 0; i < k; i++) d += (e.theta[i] - theta[i]) ** 2;
      if (Math.sqrt(d) < 1e-3) agree++;
      else other = Math.max(other, e.value);
    }
    comps.push({
      lambda: lam,
      iterations: pol.iters,
      finalStep: pol.step,
      restartAgreement: agree / ends.length,
      restartGap: other === -Infinity ? 0 : ends[0].value - other,
    });
    lambdas[c] = lam;
    for (let i = 0; i < k; i++) V.data[i * rank + c] = theta[i];
    // deflate
    for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) {
      const f = lam * theta[a] * theta[b];
      const o = (a * k + b) * k;
      for (let d = 0; d < k; d++) work[o + d] -= f * theta[d];
    }
  }
  // work = S − Σ λ v⊗v⊗v; the residual against the input also includes the removed asymmetry.
  let res = 0;
  for (let i = 0; i < work.length; i++) res += (work[i] + Tsym.data[i] - S.data[i]) ** 2;
  let maxL = 0, minGap = rank > 1 ? Infinity : 1, offOrth = 0;
  for (let i = 0; i < rank; i++) maxL = Math.max(maxL, Math.abs(lambdas[i]));
  for (let i = 0; i < rank; i++) for (let j = i + 1; j < rank; j++) {
    minGap = Math.min(minGap, Math.abs(lambdas[i] - lambdas[j]) / maxL);
    let d = 0;
    for (let a = 0; a < k; a++) d += V.data[a * rank + i] * V.data[a * rank + j];
    offOrth = Math.max(offOrth, Math.abs(d));
  }
  return {
    eigenvalues: lambdas,
    vectors: V,
    diagnostics: { components: comps, residual: Math.sqrt(res) / norm0, minEigenGap: minGap, maxOffOrthogonality: offOrth, asymmetry: asym },
  };
}

/** T(I, θ, θ) for a k×k×k row-major array. */
function tIvv(T: Float64Array, k: number, th: Float64Array): Float64Array {
  const out = new Float64Array(k);
  for (let a = 0; a < k; a++) {
    let s = 0;
    for (let b = 0; b < k; b++) {
      const o = (a * k + b) * k;
      let t = 0;
      for (let c = 0; c < k; c++) t += T[o + c] * th[c];
      s += t * th[b];
    }
    out[a] = s;
  }
  return out;
}

function tvvv(T: Float64Array, k: number, th: Float64Array): number {
  const v = tIvv(T, k, th);
  let s = 0;
  for (let i = 0; i < k; i++) s += v[i] * th[i];
  return s;
}

export interface CPPowerOptions extends PowerMethodOptions {
  /**
   * Second moment M2 = Σ μ_i c_i c_iᵀ with μ_i > 0 over the SAME components c_i (e.g. E[x xᵀ] in a moment
   * model). Strongly recommended; without it a slice T(I, I, θ) is searched for (see {@link cpPower}).
   */
  M2?: Matrix;
  /** Number of θ tried when M2 is not given (default 64). */
  nThetaTries?: number;
}

export interface CPPowerResult {
  cp: CPTensor;
  diagnostics: {
    whitening: Omit<WhitenResult, 'W' | 'B'>;
    power: PowerMethodResult['diagnostics'];
    /** 'M2' (caller's second moment) or 'slice' (T(I,I,θ) search), and how many θ were tried. */
    whitenedWith: 'M2' | 'slice';
    thetaTries: number;
    /** Condition number of the normal matrix (CᵀC)^{∘3} of the final least-squares weight fit. */
    condWeights: number;
  };
}

/**
 * Symmetric CP of T = Σ_i λ_i c_i^{⊗3} (d×d×d) by the App. F route: whiten, robust tensor power method on the
 * rank×rank×rank whitened tensor T(W, W, W) = Σ λ_i μ_i^{-3/2} v_i^{⊗3} (v_i = √μ_i Wᵀ c_i orthonormal),
 * un-whiten c_i ∝ B v_i, then refit the weights λ by linear least squares against T.
 *
 * WHAT THE ROUTE NEEDS: a whitening matrix from a second-order quantity with the same components and
 * POSITIVE coefficients, M2 = Σ μ_i c_i c_iᵀ, μ_i > 0, C = [c_i] of full column rank (rank ≤ d).
 *  - Pass `M2` when the application has it (the sound choice; AGHKT use the second moment of the data).
 *  - Without `M2`: slices M = T(I, I, θ) = C diag(λ_i c_iᵀθ) Cᵀ are tried for θ = T(I, e, e)-trace vector
 *    Σ_j T[:, j, j] first, then random θ. By Sylvester's law of inertia, M (or −M) is PSD on its rank-`rank`
 *    range exactly when all λ_i c_iᵀθ share one sign, so a slice is accepted only if its `rank` largest-|·|
 *    eigenvalues share a sign (and the rest are ≤ 1e-6 of them). For random θ that happens with
 *    probability 2^{1−rank}: fine for small ranks, hopeless beyond ~8 — the method then throws and asks for M2.
 *    (Use Jennrich for large ranks without M2.)
 *
 * Throws on NaN, zero tensor, non-cubical shape, rank > d, a non-PSD / rank-deficient M2.
 */
export function cpPower(T: Tensor, rank: number, opts: CPPowerOptions = {}): CPPowerResult {
  checkCPInput(T, rank, 'cpPower', 3);
  const d = T.shape[0];
  if (T.shape[1] !== d || T.shape[2] !== d) throw new RangeError(`cpPower: tensor shape [${T.shape.join(', ')}] is not cubical (expected d×d×d)`);
  if (rank > d) throw new RangeError(`cpPower: rank ${rank} exceeds the dimension ${d}; whitening needs linearly independent components`);
  let wh: WhitenResult;
  let tries = 0;
  let whitenedWith: 'M2' | 'slice';
  if (opts.M2) {
    if (opts.M2.rows !== d || opts.M2.cols !== d) throw new RangeError(`cpPower: M2 is ${opts.M2.rows}x${opts.M2.cols}, expected ${d}x${d}`);
    wh = whiten(opts.M2, rank);
    whitenedWith = 'M2';
  } else {
    const nTries = opts.nThetaTries ?? 64;
    const rng = new Rng((opts.seed ?? 0) + 7919);
    let best: { M: Matrix; score: number } | null = null;
    for (tries = 1; tries <= nTries; tries++) {
      let theta: Float64Array;
      if (tries === 1) {
        theta = new Float64Array(d);
        for (let a = 0; a < d; a++) for (let j = 0; j < d; j++) theta[a] += T.data[(a * d + j) * d + j];
      } else theta = rng.normalArray(d);
      const M = contractToMatrix(T, [null, null, theta]);
      for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) { const s = 0.5 * (M.data[i * d + j] + M.data[j * d + i]); M.data[i * d + j] = s; M.data[j * d + i] = s; }
      const ev = Array.from(eigSym(M).values).sort((a, b) => Math.abs(b) - Math.abs(a));
      const kept = ev.slice(0, rank), rest = ev.slice(rank);
      const sign = Math.sign(kept[0]);
      const minKept = Math.min(...kept.map((x) => x * sign));
      const maxRest = rest.length ? Math.max(...rest.map(Math.abs)) : 0;
      if (minKept > 0 && maxRest <= 1e-6 * minKept) {
        const score = minKept / Math.abs(kept[0]);
        if (!best || score > best.score) best = { M: sign > 0 ? M : scaleM(M, -1), score };
        if (score > 1e-3) break;
      }
    }
    if (!best) throw new Error(`cpPower: no slice T(I, I, θ) among ${nTries} tried was semi-definite of rank ${rank}; pass a second moment M2 = Σ μ_i c_i c_iᵀ (μ_i > 0) or use jennrich`);
    tries = Math.min(tries, nTries);
    wh = whiten(best.M, rank);
    whitenedWith = 'slice';
  }
  const Tw = multilinear(T, [wh.W, wh.W, wh.W]);
  const pm = tensorPowerMethod(Tw, rank, opts);
  // c_i ∝ B v_i (un-whitening); unit columns.
  const Craw = matmul(wh.B, pm.vectors);
  const C = new Matrix(d, rank);
  for (let r = 0; r < rank; r++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += Craw.data[i * rank + r] ** 2;
    const n = Math.sqrt(s);
    for (let i = 0; i < d; i++) C.data[i * rank + r] = Craw.data[i * rank + r] / n;
  }
  // Weights by linear least squares: vec T ≈ (C ⊙ C ⊙ C) λ, normal matrix (CᵀC)^{∘3}.
  const { weights, cond } = lsWeightsSym(T, C);
  const { W: _w, B: _b, ...whDiag } = wh;
  void _w; void _b;
  return {
    cp: { weights, factors: [C, C, C] },
    diagnostics: { whitening: whDiag, power: pm.diagnostics, whitenedWith, thetaTries: tries, condWeights: cond },
  };
}

function scaleM(M: Matrix, s: number): Matrix {
  const out = M.clone();
  for (let i = 0; i < out.data.length; i++) out.data[i] *= s;
  return out;
}

/** λ = argmin ‖T − Σ λ_i c_i^{⊗3}‖: G λ = b with G = (CᵀC)^{∘3}, b_i = T(c_i, c_i, c_i). */
function lsWeightsSym(T: Tensor, C: Matrix): { weights: Float64Array; cond: number } {
  const R = C.cols, d = C.rows;
  const G = new Matrix(R, R);
  for (let a = 0; a < R; a++) for (let b = 0; b < R; b++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += C.data[i * R + a] * C.data[i * R + b];
    G.data[a * R + b] = s * s * s;
  }
  // b = unfold(T,0) row-contracted: b_r = Σ_i c_ir (unfold0 (c⊗c))_i
  const KR = khatriRao(C, C);
  const U0KR = matmul(unfold(T, 0), KR); // d×R
  const rhs = new Float64Array(R);
  for (let r = 0; r < R; r++) for (let i = 0; i < d; i++) rhs[r] += C.data[i * R + r] * U0KR.data[i * R + r];
  const p = pinv(G);
  return { weights: matvec(p.pinv, rhs), cond: p.cond };
}

export interface CPTiedPowerOptions extends CPPowerOptions {
  /** Symmetrisation matrix D (I × J) with T(D, I, I) ≈ Σ μ_i c_i^{⊗3}, μ_i > 0 (paper App. F: D = E[y ⊗ S1]⁻¹-type). */
  D: Matrix;
}

/**
 * Paper App. F / Algorithm 5 for a tied tensor T = Σ w_i b_i ⊗ c_i ⊗ c_i (I×J×J): symmetrise the first
 * mode with the caller's D (T(D, I, I) = Σ (Dᵀ w_i b_i)·… must be ≈ Σ μ_i c_i^{⊗3}, i.e. Dᵀ(w_i b_i) ∝ c_i
 * with positive factor), decompose the symmetric tensor with {@link cpPower} (with `M2` if given), then
 * recover B diag(w) by linear least squares on the mode-0 unfolding given C (instead of the paper's
 * A2 = D⁻¹A1, which needs a square invertible D and amplifies noise).
 * Returns factors [B, C, C] with unit columns.
 */
export function cpTiedPower(T: Tensor, rank: number, opts: CPTiedPowerOptions): CPPowerResult & { condNormal: number } {
  checkCPInput(T, rank, 'cpTiedPower', 3);
  if (!opts || !opts.D) throw new RangeError('cpTiedPower: a symmetrisation matrix D (I × J) is required');
  const [I, J, J2] = T.shape;
  if (J !== J2) throw new RangeError(`cpTiedPower: modes 1 and 2 must have equal size, got shape [${T.shape.join(', ')}]`);
  if (opts.D.rows !== I || opts.D.cols !== J) throw new RangeError(`cpTiedPower: D is ${opts.D.rows}x${opts.D.cols}, expected ${I}x${J}`);
  const Ts = symmetrizeMode1(T, opts.D);
  const res = cpPower(Ts, rank, opts);
  const C = res.cp.factors[1];
  const { BW, cond } = lsModeZeroTied(symmetrizeTensor(T, [1, 2]), C);
  const R = rank;
  const w = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    let s = 0;
    for (let i = 0; i < I; i++) s += BW.data[i * R + r] ** 2;
    w[r] = Math.sqrt(s);
    if (w[r] > 0) for (let i = 0; i < I; i++) BW.data[i * R + r] /= w[r];
  }
  return { cp: { weights: w, factors: [BW, C, C] }, diagnostics: res.diagnostics, condNormal: cond };
}
