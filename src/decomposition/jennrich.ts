import { Matrix, matmul, matmulTN } from '../linalg/matrix.js';
import { svd } from '../linalg/svd.js';
import { pinv } from '../linalg/pinv.js';
import { eigGeneral } from '../linalg/eiggeneral.js';
import { eigSym } from '../linalg/eigsym.js';
import { Rng } from '../random/rng.js';
import { Tensor, contractToMatrix, modeProduct, multilinear, permuteModes, symmetrizeTensor, unfold } from '../tensor/tensor.js';
import { khatriRao } from '../tensor/products.js';
import { CPTensor, checkCPInput } from './cp_tensor.js';

export interface JennrichOptions {
  /** Seed of the random contraction vectors (default 0). */
  seed?: number;
  /** T = Σ w_i b_i ⊗ c_i ⊗ c_i (modes 1 and 2 tied, 0-based); factors returned as [B, C, C]. */
  tied?: boolean;
  /** Number of random contraction pairs (u, v) tried; the one with the best eigenvalue separation wins (default 10). */
  nRandom?: number;
}

export interface JennrichDiagnostics {
  /** Singular values of the unfoldings used for the subspace projection (rank+1 of them when available). */
  projectionSingularValues: number[][];
  /** Per projected mode: σ_{R+1}/σ_R (0 when no projection was needed); near 1 = rank or noise problem. */
  projectionGapRatio: number[];
  /** Eigenvalues (real parts) of M_u M_v⁻¹ for the chosen pair. */
  eigenvalues: number[];
  /** min_{i≠j} |λ_i − λ_j| / max |λ| over the complex eigenvalues of the chosen pair (0 = repeated: unidentifiable). */
  minSeparation: number;
  /** max |Im λ| / max |λ| (0 in exact arithmetic; > 0 means noise merged two eigenvalues). */
  maxImagRatio: number;
  /** 2-norm condition number of M_v (the inverted contraction). */
  condMv: number;
  /** Condition number of the eigenvector matrix (the projected factor); large = nearly collinear components. */
  condEigenvectors: number;
  /** Tied only: condition number of (CᵀC)∘(CᵀC), the normal matrix of the least-squares step for B. */
  condNormal?: number;
  /** Tied only: ‖T − T_sym‖/‖T‖, the asymmetry in the tied modes that was averaged away. */
  asymmetry?: number;
  /** General case only, when the modes were permuted so that two modes of size ≥ rank come first: the order used. */
  modeOrder?: number[];
  /** How many (u, v) pairs were tried and the chosen index. */
  trials: number;
  chosenTrial: number;
}

export interface JennrichResult {
  cp: CPTensor;
  diagnostics: JennrichDiagnostics;
}

/**
 * Jennrich's simultaneous-diagonalisation algorithm (Harshman 1970; Leurgans, Ross & Abel 1993) for a
 * third-order tensor T (I×J×K) of CP rank `rank`, unique when the rank is known.
 *
 * General case, T = Σ w_i a_i ⊗ b_i ⊗ c_i: needs A (I×R) and B (J×R) of full column rank, so R ≤ min(I, J),
 * and no two columns of C parallel (when R > min(I, J) but two other modes are ≥ R, the modes are permuted
 * internally and `diagnostics.modeOrder` says how). Steps:
 *  1. Project modes 0 and 1 on the top-R left singular subspaces U₀, U₁ of the unfoldings (skipped when
 *     R equals the dimension): P = T(U₀, U₁, I) is R×R×K and P = Σ w_i ã_i ⊗ b̃_i ⊗ c_i with Ã, B̃ invertible.
 *  2. For random u, v: M_u = P(I, I, u) = Ã diag(w∘Cᵀu) B̃ᵀ, so M_u M_v⁻¹ = Ã diag((Cᵀu)/(Cᵀv)) Ã⁻¹: its
 *     eigenvectors are the columns of Ã (eigGeneral; the matrix is not symmetric). `nRandom` pairs are
 *     tried and the one whose eigenvalues are best separated is kept.
 *  3. P(Ã⁻ᵀ, I, I) has slices w_i b̃_i c_iᵀ; the best rank-1 approximation (top singular pair) of each slice
 *     gives b_i, c_i and w_i. Factors are mapped back (A = U₀Ã, B = U₁B̃) with unit columns.
 *
 * Tied case (`tied: true`), T = Σ w_i b_i ⊗ c_i ⊗ c_i (I×J×J, e.g. gloree's T2 with b = A2 rows, c = a1 rows):
 * needs C (J×R) of full column rank (R ≤ J) and no two b_i parallel (so I ≥ 2 when R ≥ 2). T is first
 * symmetrised in modes 1, 2; modes 1, 2 are projected on the top-R subspace U of the mode-1 unfolding; the
 * mode-0 contractions M_u = C̃ diag(w∘Bᵀu) C̃ᵀ are symmetric but INDEFINITE (the b_i·u have arbitrary signs),
 * so the general eigensolver is used on M_u M_v⁻¹ (no Cholesky). C = U C̃; then B diag(w) by linear least
 * squares on the mode-0 unfolding with the Khatri–Rao product C ⊙ C (normal matrix (CᵀC)∘(CᵀC)).
 *
 * Exact for noise-free input of the stated rank; with noise the result is a consistent but not
 * least-squares estimate — polish it with {@link als} (`init: result.cp`).
 *
 * Throws on: order ≠ 3, NaN/Infinity, zero tensor, rank < 1, rank > the second-largest dimension (general) or rank > J
 * (tied), a tied tensor whose modes 1, 2 differ in size, tied I = 1 with rank ≥ 2 (a symmetric matrix
 * has no unique rank decomposition), and unfoldings of numerical rank < `rank` (rank over-specified).
 */
export function jennrich(T: Tensor, rank: number, opts: JennrichOptions = {}): JennrichResult {
  checkCPInput(T, rank, 'jennrich', 3);
  const nRandom = opts.nRandom ?? 10;
  if (!Number.isInteger(nRandom) || nRandom < 1) throw new RangeError(`jennrich: nRandom must be an integer >= 1, got ${nRandom}`);
  const rng = new Rng(opts.seed ?? 0);
  if (opts.tied) return jennrichTied(T, rank, nRandom, rng);
  const [I, J, K] = T.shape;
  if (rank > Math.min(I, J) && rank <= Math.min(Math.max(I, J), K)) {
    // Mode 2 and the larger of modes 0, 1 can play the full-rank pair: permute, solve, permute back.
    const perm = I >= J ? [0, 2, 1] : [1, 2, 0];
    const res = jennrichGeneral(permuteModes(T, perm), rank, nRandom, rng);
    const factors = new Array<Matrix>(3);
    perm.forEach((p, k) => (factors[p] = res.cp.factors[k]));
    return { cp: { weights: res.cp.weights, factors }, diagnostics: { ...res.diagnostics, modeOrder: perm } };
  }
  return jennrichGeneral(T, rank, nRandom, rng);
}

function jennrichGeneral(T: Tensor, R: number, nRandom: number, rng: Rng): JennrichResult {
  const [I, J, K] = T.shape;
  if (R > Math.min(I, J)) {
    throw new RangeError(`jennrich: rank ${R} exceeds the second-largest dimension of shape [${T.shape.join(', ')}]; Jennrich needs two factor matrices of full column rank`);
  }
  if (R > 1 && K < 2) throw new RangeError(`jennrich: mode 2 has size ${K}; at least 2 is needed to separate ${R} components`);
  const p0 = projection(T, 0, R, 'jennrich');
  const p1 = projection(T, 1, R, 'jennrich');
  const P = multilinear(T, [p0.U, p1.U, null]); // R×R×K
  const best = bestEigenpair(P, 2, R, K, nRandom, rng);
  const At = best.vectors; // R×R, columns ã_i (unit)
  const Ainv = pinv(At);
  const Q = modeProduct(P, Ainv.pinv, 0); // slice k = w_k b̃_k c_kᵀ (R×K)
  const Bt = new Matrix(R, R), C = new Matrix(K, R), w = new Float64Array(R);
  for (let k = 0; k < R; k++) {
    const slice = new Matrix(R, K, Q.data.slice(k * R * K, (k + 1) * R * K));
    const s = svd(slice);
    w[k] = s.S[0];
    for (let i = 0; i < R; i++) Bt.data[i * R + k] = s.U.data[i * s.U.cols];
    for (let i = 0; i < K; i++) C.data[i * R + k] = s.V.data[i * s.V.cols];
  }
  const A = p0.U ? matmul(p0.U, At) : At;
  const B = p1.U ? matmul(p1.U, Bt) : Bt;
  return {
    cp: normalizeInPlace({ weights: w, factors: [A, B, C] }),
    diagnostics: {
      projectionSingularValues: [p0.sv, p1.sv],
      projectionGapRatio: [p0.gapRatio, p1.gapRatio],
      eigenvalues: Array.from(best.real),
      minSeparation: best.minSep,
      maxImagRatio: best.imagRatio,
      condMv: best.condMv,
      condEigenvectors: Ainv.cond,
      trials: nRandom,
      chosenTrial: best.trial,
    },
  };
}

function jennrichTied(T0: Tensor, R: number, nRandom: number, rng: Rng): JennrichResult {
  const [I, J, J2] = T0.shape;
  if (J !== J2) throw new RangeError(`jennrich (tied): modes 1 and 2 must have equal size, got shape [${T0.shape.join(', ')}]`);
  if (R > J) throw new RangeError(`jennrich (tied): rank ${R} exceeds J = ${J}; the tied factor C (J×R) must have full column rank`);
  if (R > 1 && I < 2) throw new RangeError(`jennrich (tied): mode 0 has size ${I}; with rank ${R} >= 2 the components are not identifiable (a symmetric matrix has no unique rank decomposition)`);
  const T = symmetrizeTensor(T0, [1, 2]);
  let asym = 0;
  for (let i = 0; i < T.data.length; i++) asym += (T.data[i] - T0.data[i]) ** 2;
  asym = Math.sqrt(asym) / T0.norm();
  const p1 = projection(T, 1, R, 'jennrich (tied)');
  const P = multilinear(T, [null, p1.U, p1.U]); // I×R×R
  const best = bestEigenpair(P, 0, R, I, nRandom, rng);
  const C = p1.U ? matmul(p1.U, best.vectors) : best.vectors;
  const { BW, cond } = lsModeZeroTied(T, C);
  return {
    cp: normalizeInPlace({ weights: new Float64Array(R).fill(1), factors: [BW, C, C] }),
    diagnostics: {
      projectionSingularValues: [p1.sv],
      projectionGapRatio: [p1.gapRatio],
      eigenvalues: Array.from(best.real),
      minSeparation: best.minSep,
      maxImagRatio: best.imagRatio,
      condMv: best.condMv,
      condEigenvectors: pinv(best.vectors).cond,
      condNormal: cond,
      asymmetry: asym,
      trials: nRandom,
      chosenTrial: best.trial,
    },
  };
}

/**
 * Least squares for the mode-0 factor of a tied third-order CP given C: unfold(T, 0) ≈ BW (C ⊙ C)ᵀ,
 * BW = unfold(T,0) (C ⊙ C) [(CᵀC)∘(CᵀC)]⁺. Returns BW (I×R; column norms = weights) and the normal matrix's condition number.
 */
export function lsModeZeroTied(T: Tensor, C: Matrix): { BW: Matrix; cond: number } {
  const G = matmulTN(C, C);
  const H = new Matrix(G.rows, G.cols);
  for (let i = 0; i < G.data.length; i++) H.data[i] = G.data[i] * G.data[i];
  const pi = pinv(H);
  const BW = matmul(matmul(unfold(T, 0), khatriRao(C, C)), pi.pinv);
  return { BW, cond: pi.cond };
}

interface Projection {
  U: Matrix | null;
  sv: number[];
  gapRatio: number;
}

/**
 * Leading left singular subspace of a (typically wide) matrix M (n×m): top-R eigenvectors of the Gram
 * matrix M Mᵀ (n×n, O(n²m)), which is ~5× faster here than the SVD of M. Squaring the singular values
 * costs accuracy only when σ_R/σ_1 is small (eigenvector error ≈ eps·σ_1²/(σ_R² − σ_{R+1}²)), so when
 * λ_R < 1e-8·λ_1 the thin SVD of M is used instead. Returns U (n×R) and the leading singular values
 * (R+1 of them when available; from √λ on the Gram path).
 */
export function leadingLeftSubspace(M: Matrix, R: number): { U: Matrix; S: Float64Array } {
  const n = M.rows, m = M.cols;
  if (R > n) throw new RangeError(`leadingLeftSubspace: R = ${R} exceeds the ${n} rows`);
  const G = new Matrix(n, n);
  const d = M.data, g = G.data;
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      const a = i * m, b = j * m;
      for (let k = 0; k < m; k++) s += d[a + k] * d[b + k];
      g[i * n + j] = s;
      g[j * n + i] = s;
    }
  }
  const e = eigSym(G);
  const k = Math.min(R + 1, n);
  if (e.values[R - 1] > 1e-8 * e.values[0]) {
    const U = new Matrix(n, R);
    for (let i = 0; i < n; i++) for (let r = 0; r < R; r++) U.data[i * R + r] = e.vectors.data[i * n + r];
    return { U, S: Float64Array.from({ length: k }, (_, i) => Math.sqrt(Math.max(e.values[i], 0))) };
  }
  const s = svd(M);
  const U = new Matrix(n, R);
  for (let i = 0; i < n; i++) for (let r = 0; r < R; r++) U.data[i * R + r] = s.U.data[i * s.U.cols + r];
  return { U, S: s.S.slice(0, Math.min(k, s.S.length)) };
}

/** Top-R left singular subspace of unfold(T, mode); U = null when R equals the dimension (no projection needed). */
function projection(T: Tensor, mode: number, R: number, op: string): Projection {
  const n = T.shape[mode];
  const { U, S } = leadingLeftSubspace(unfold(T, mode), R);
  const sv = Array.from(S);
  // Numerical rank check: the rank-R model needs R clearly non-zero singular values.
  if (!(S[R - 1] > 1e3 * 2 ** -52 * Math.max(n, T.size / n) * S[0])) {
    throw new Error(`${op}: the mode-${mode} unfolding has numerical rank < ${R} (σ_${R}/σ_1 = ${(S[R - 1] / S[0]).toExponential(2)}); the requested rank is larger than the tensor's rank in this mode`);
  }
  const gapRatio = R < S.length ? S[R] / S[R - 1] : 0;
  return { U: R === n ? null : U, sv, gapRatio };
}

interface EigTrial {
  vectors: Matrix;
  real: Float64Array;
  minSep: number;
  imagRatio: number;
  condMv: number;
  trial: number;
}

/**
 * Contract P (with two R-dimensional modes) along `mode` (size n) with random u, v; eigen-decompose
 * M_u M_v⁻¹ and keep the trial whose eigenvalues are best separated (relative to their magnitude).
 * Complex pairs (noise) are kept as [Re, Im] column pairs spanning the right invariant subspace.
 */
function bestEigenpair(P: Tensor, mode: number, R: number, n: number, nRandom: number, rng: Rng): EigTrial {
  let best: EigTrial | null = null;
  for (let t = 0; t < nRandom; t++) {
    const u = rng.normalArray(n), v = rng.normalArray(n);
    const cu: (Float64Array | null)[] = [null, null, null], cv: (Float64Array | null)[] = [null, null, null];
    cu[mode] = u;
    cv[mode] = v;
    const Mu = contractToMatrix(P, cu), Mv = contractToMatrix(P, cv);
    const inv = pinv(Mv);
    if (inv.rank < R) continue;
    const X = matmul(Mu, inv.pinv);
    const e = eigGeneral(X);
    let maxAbs = 0, maxIm = 0;
    for (let i = 0; i < R; i++) {
      maxAbs = Math.max(maxAbs, Math.hypot(e.real[i], e.imag[i]));
      maxIm = Math.max(maxIm, Math.abs(e.imag[i]));
    }
    let minSep = R > 1 ? Infinity : 1;
    for (let i = 0; i < R; i++) for (let j = i + 1; j < R; j++) minSep = Math.min(minSep, Math.hypot(e.real[i] - e.real[j], e.imag[i] - e.imag[j]));
    if (R > 1) minSep = maxAbs > 0 ? minSep / maxAbs : 0;
    if (!best || minSep > best.minSep) {
      best = { vectors: e.vectors, real: e.real, minSep, imagRatio: maxAbs > 0 ? maxIm / maxAbs : 0, condMv: inv.cond, trial: t };
    }
  }
  if (!best) throw new Error(`jennrich: all ${nRandom} random contractions were singular; the tensor does not have ${R} identifiable components`);
  if (!(best.minSep > 1e-12)) throw new Error(`jennrich: eigenvalues of M_u M_v⁻¹ are repeated (relative separation ${best.minSep.toExponential(2)}); two components are parallel in the contracted mode, so the decomposition is not identifiable`);
  return best;
}

/** Unit columns, scales into weights; a tied factor (same object repeated) contributes its scale once per occurrence. */
function normalizeInPlace(cp: CPTensor): CPTensor {
  const R = cp.weights.length;
  const scales = new Map<Matrix, Float64Array>();
  for (const F of cp.factors) {
    let nr = scales.get(F);
    if (!nr) {
      nr = new Float64Array(R);
      for (let i = 0; i < F.rows; i++) for (let r = 0; r < R; r++) nr[r] += F.data[i * R + r] ** 2;
      for (let r = 0; r < R; r++) {
        nr[r] = Math.sqrt(nr[r]);
        if (nr[r] > 0) for (let i = 0; i < F.rows; i++) F.data[i * R + r] /= nr[r];
      }
      scales.set(F, nr);
    }
    for (let r = 0; r < R; r++) cp.weights[r] *= nr[r];
  }
  return cp;
}
