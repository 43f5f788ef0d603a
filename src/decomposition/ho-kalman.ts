/**
 * Ho–Kalman / ERA realization of a linear state-space model from its Markov parameters, the state dimension from
 * the Hankel singular values, and Moore's balanced canonical form (docs/activations.md, "Linear IO-RNN").
 *
 * Convention (the linear IO-RNN): h_t = U h_{t−1} + A1 x_t, y_t = C h_t (+ b), C = A2ᵀ, so the Markov parameters
 * are M_k = ∂y_{t+k}/∂x_t = C U^k A1 for k ≥ 0 (M_0 = C A1 is the direct path through h_t). Markov arrays are
 * K×dy×dx, [k, i, a] at (k·dy + i)·dx + a (the layout of MarkovAccumulator.result()).
 *
 * The block Hankel matrix H (p·dy × q·dx) with block (i, j) = M_{i+j} factors as O·R, O = [C; CU; …; CU^{p−1}],
 * R = [A1, UA1, …, U^{q−1}A1]; its rank is the (minimal) state dimension n when p·dy, q·dx ≥ n. With the SVD
 * H ≈ U_n S_n V_nᵀ: O = U_n S_n^{½}, R = S_n^{½} V_nᵀ, C = first block row of O, A1 = first block column of R, and
 * U solves O_↑ U = O_↓ (O without its last / first block row) by least squares. The realization is unique only up
 * to an invertible change of state basis T (U → T⁻¹UT, A1 → T⁻¹A1, C → CT); every such T leaves all M_k unchanged.
 * We report the BALANCED form: controllability and observability Gramians (Σ_k U^k A1 A1ᵀ U^kᵀ and
 * Σ_k U^kᵀ CᵀC U^k) both equal diag(g), g the Hankel singular values of the system, descending; it is unique up to
 * the sign of each state when the g are distinct, and we fix the sign so that the largest-magnitude entry of each
 * row of A1 is positive.
 */
import { Matrix, matmul, transpose } from '../linalg/matrix.js';
import { svd, singularValues } from '../linalg/svd.js';
import { lstsq } from '../linalg/solve.js';
import { cholesky, solveLowerTriangular } from '../linalg/cholesky.js';
import { eigSym } from '../linalg/eigsym.js';
import { solveDiscreteLyapunov, spectralRadius } from '../linalg/lyapunov.js';

/** A linear state-space realization: h_t = U h_{t−1} + A1 x_t, y_t = C h_t. Shapes: U n×n, A1 n×dx, C dy×n. */
export interface LinearRealization {
  U: Matrix;
  A1: Matrix;
  C: Matrix;
}

/** Block Hankel matrix (p·dy × q·dx), block (i, j) = M_{i+j+offset}; needs p + q − 1 + offset ≤ K lags. */
export function blockHankel(markov: Float64Array, dy: number, dx: number, p: number, q: number, offset = 0): Matrix {
  const K = markov.length / (dy * dx);
  if (!Number.isInteger(K) || p < 1 || q < 1 || p + q - 1 + offset > K) {
    throw new RangeError(`blockHankel: ${p}×${q} blocks from lag ${offset} need ${p + q - 1 + offset} Markov parameters, have ${K}`);
  }
  const H = new Matrix(p * dy, q * dx);
  for (let i = 0; i < p; i++)
    for (let j = 0; j < q; j++) {
      const k = i + j + offset;
      for (let r = 0; r < dy; r++)
        for (let c = 0; c < dx; c++) H.data[(i * dy + r) * q * dx + j * dx + c] = markov[(k * dy + r) * dx + c];
    }
  return H;
}

/** Markov parameters M_k = C U^k A1, k = 0..K−1, as K×dy×dx. */
export function markovParameters(r: LinearRealization, K: number): Float64Array {
  const dy = r.C.rows, dx = r.A1.cols;
  const out = new Float64Array(K * dy * dx);
  let P = r.A1; // U^k A1
  for (let k = 0; k < K; k++) {
    out.set(matmul(r.C, P).data, k * dy * dx);
    P = matmul(r.U, P);
  }
  return out;
}

export interface HankelOrderOptions {
  /** Threshold factor κ over the noise floor (default 2, the rule of src/learn/rank.ts). */
  factor?: number;
  /** Upper bound on the order. */
  maxOrder?: number;
}

export interface HankelOrder {
  /** Chosen state dimension (0 when nothing stands above the noise). */
  order: number;
  /** Singular values of the Hankel matrix of the estimated Markov parameters (descending). */
  spectrum: number[];
  /** ‖H(D)‖₂: spectral norm of the Hankel matrix built from the split-sample difference D (the noise floor). */
  noiseFloor: number;
  threshold: number;
  factor: number;
}

/**
 * State dimension from the Hankel singular values: order = #{σ_i(H) > κ·‖H(D)‖₂}, where D is the split-sample
 * difference of the Markov estimates scaled to the noise of their mean (D = (M_a − M_b)·√(n_a n_b)/(n_a + n_b) per
 * lag). Same argument as src/learn/rank.ts: by Weyl, σ_i of the noisy Hankel matrix move by at most ‖E‖₂, and D
 * has the covariance of E, so ‖H(D)‖₂ measures ‖E‖₂ from the data alone.
 */
export function hankelOrder(H: Matrix, Hnoise: Matrix, opts: HankelOrderOptions = {}): HankelOrder {
  const factor = opts.factor ?? 2;
  const spectrum = Array.from(singularValues(H));
  const noiseFloor = singularValues(Hnoise)[0] ?? 0;
  const threshold = factor * noiseFloor;
  let order = spectrum.filter((s) => s > threshold).length;
  if (opts.maxOrder !== undefined) order = Math.min(order, opts.maxOrder);
  return { order, spectrum, noiseFloor, threshold, factor };
}

/** Ho–Kalman / ERA realization of order n from a p×q block Hankel matrix (see the file comment). */
export function hoKalman(H: Matrix, dy: number, dx: number, n: number): LinearRealization & { conditionObs: number } {
  const p = H.rows / dy, q = H.cols / dx;
  if (!Number.isInteger(p) || !Number.isInteger(q) || p < 2) throw new RangeError(`hoKalman: Hankel matrix ${H.rows}×${H.cols} is not a block matrix with ≥ 2 block rows of ${dy}×${dx}`);
  if (!Number.isInteger(n) || n < 1 || n > Math.min(H.rows - dy, H.cols)) {
    throw new RangeError(`hoKalman: order ${n} must be between 1 and ${Math.min(H.rows - dy, H.cols)} for a ${p}×${q}-block Hankel matrix`);
  }
  const { U: Us, S, V } = svd(H);
  const O = new Matrix(H.rows, n), R = new Matrix(n, H.cols);
  for (let j = 0; j < n; j++) {
    const r = Math.sqrt(S[j]);
    for (let i = 0; i < H.rows; i++) O.data[i * n + j] = Us.data[i * Us.cols + j] * r;
    for (let c = 0; c < H.cols; c++) R.data[j * H.cols + c] = V.data[c * V.cols + j] * r;
  }
  const C = new Matrix(dy, n, O.data.slice(0, dy * n));
  const A1 = new Matrix(n, dx);
  for (let j = 0; j < n; j++) for (let a = 0; a < dx; a++) A1.data[j * dx + a] = R.data[j * H.cols + a];
  const up = new Matrix((p - 1) * dy, n, O.data.slice(0, (p - 1) * dy * n));
  const down = new Matrix((p - 1) * dy, n, O.data.slice(dy * n));
  const ls = lstsq(up, down);
  return { U: ls.X, A1, C, conditionObs: ls.cond };
}

export interface BalancedRealization extends LinearRealization {
  /** Hankel singular values of the system (√ of the eigenvalues of Wc·Wo), descending. */
  hankelSingularValues: number[];
  spectralRadius: number;
}

/**
 * Moore's balanced realization of a stable (ρ(U) < 1), minimal system: T = L V G^{−½} with Wc = L Lᵀ and
 * Lᵀ Wo L = V G² Vᵀ; then T⁻¹ Wc T⁻ᵀ = Tᵀ Wo T = G. Throws (with the reason) when U is not stable or the
 * realization is not minimal (a Gramian is singular): the balanced form does not exist then.
 */
export function balance(r: LinearRealization): BalancedRealization {
  const n = r.U.rows;
  const rho = spectralRadius(r.U);
  if (!(rho < 1)) throw new Error(`balance: the realization is not stable (spectral radius ${rho.toPrecision(4)} ≥ 1)`);
  const Wc = solveDiscreteLyapunov(r.U, matmul(r.A1, transpose(r.A1)));
  const Wo = solveDiscreteLyapunov(transpose(r.U), matmul(transpose(r.C), r.C));
  let L: Matrix;
  try {
    L = cholesky(Wc);
  } catch {
    throw new Error('balance: the controllability Gramian is singular (the realization is not minimal)');
  }
  const M = matmul(transpose(L), matmul(Wo, L));
  const { values, vectors } = eigSym(M);
  const g = Array.from(values, (v) => Math.sqrt(Math.max(v, 0)));
  if (!(g[n - 1] > 1e-14 * g[0])) throw new Error('balance: the observability Gramian is singular (the realization is not minimal)');
  // T = L V G^{-1/2}; T⁻¹ = G^{1/2} Vᵀ L⁻¹.
  const T = matmul(L, vectors);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) T.data[i * n + j] /= Math.sqrt(g[j]);
  const Linv = solveLowerTriangular(L, Matrix.identity(n));
  const Ti = matmul(transpose(vectors), Linv);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) Ti.data[i * n + j] *= Math.sqrt(g[i]);
  const out = { U: matmul(Ti, matmul(r.U, T)), A1: matmul(Ti, r.A1), C: matmul(r.C, T) };
  fixSigns(out);
  return { ...out, hankelSingularValues: g, spectralRadius: rho };
}

/** Flip state signs so that the largest-magnitude entry of each row of A1 is positive (the balanced form's gauge). */
export function fixSigns(r: LinearRealization): void {
  const n = r.U.rows, dx = r.A1.cols, dy = r.C.rows;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let a = 0; a < dx; a++) if (Math.abs(r.A1.data[i * dx + a]) > Math.abs(best)) best = r.A1.data[i * dx + a];
    if (best >= 0) continue;
    for (let a = 0; a < dx; a++) r.A1.data[i * dx + a] *= -1;
    for (let k = 0; k < dy; k++) r.C.data[k * n + i] *= -1;
    for (let j = 0; j < n; j++) {
      r.U.data[i * n + j] *= -1;
      r.U.data[j * n + i] *= -1;
    }
  }
}
