import { Matrix, transpose } from '../linalg/matrix.js';
import { Tensor } from './tensor.js';

/** Outer product v_1 ⊗ … ⊗ v_N (order N, shape [len v_1, …, len v_N]). */
export function outer(vectors: readonly ArrayLike<number>[]): Tensor {
  let data = Float64Array.from([1]);
  const shape: number[] = [];
  for (const v of vectors) {
    const n = v.length;
    const next = new Float64Array(data.length * n);
    for (let i = 0; i < data.length; i++) for (let j = 0; j < n; j++) next[i * n + j] = data[i] * v[j];
    data = next;
    shape.push(n);
  }
  return new Tensor(shape, data);
}

/**
 * CP reconstruction `Σ_r w_r · A_0[:, r] ⊗ … ⊗ A_{N-1}[:, r]`; factor k has shape shape[k] × R.
 * Accepts `(weights, factors)` or one `{ weights, factors }` object (the CPTensor value type).
 */
export function cpToTensor(cp: { weights: ArrayLike<number>; factors: readonly Matrix[] }): Tensor;
export function cpToTensor(weights: ArrayLike<number>, factors: readonly Matrix[]): Tensor;
export function cpToTensor(
  a: ArrayLike<number> | { weights: ArrayLike<number>; factors: readonly Matrix[] },
  b?: readonly Matrix[],
): Tensor {
  const weights = b === undefined ? (a as { weights: ArrayLike<number> }).weights : (a as ArrayLike<number>);
  const factors = b ?? (a as { factors: readonly Matrix[] }).factors;
  const R = weights.length;
  if (factors.length === 0) throw new RangeError('cpToTensor: no factors');
  for (const [k, F] of factors.entries()) {
    if (F.cols !== R) throw new RangeError(`cpToTensor: factor ${k} has ${F.cols} columns, expected ${R} (number of weights)`);
  }
  const shape = factors.map((F) => F.rows);
  // Mode-0 unfolding (row-major: modes 1.. in order) = A_0 diag(w) KRᵀ, KR = Khatri–Rao of the rest:
  // entry (i, q) = Σ_r (A_0[i,r] w_r) KR[q,r], a contiguous dot product of length R.
  const rest = factors.length > 1 ? khatriRaoList(factors.slice(1)) : null;
  const I0 = shape[0];
  const restSize = rest ? rest.rows : 1;
  const out = new Tensor(shape);
  const A0 = factors[0].data, dst = out.data;
  const aw = new Float64Array(R);
  for (let i = 0; i < I0; i++) {
    for (let r = 0; r < R; r++) aw[r] = A0[i * R + r] * weights[r];
    if (!rest) {
      let s = 0;
      for (let r = 0; r < R; r++) s += aw[r];
      dst[i] = s;
      continue;
    }
    const K = rest.data;
    const base = i * restSize;
    for (let q = 0; q < restSize; q++) {
      const kq = q * R;
      let s = 0;
      for (let r = 0; r < R; r++) s += aw[r] * K[kq + r];
      dst[base + q] = s;
    }
  }
  return out;
}

/**
 * Column-wise Khatri–Rao product of a list (row-major Kronecker per column): for A (I×R), B (J×R),
 * row (i·J + j) is A[i,:] ∘ B[j,:]. Matches {@link unfold}'s column order.
 */
export function khatriRaoList(Ms: readonly Matrix[]): Matrix {
  let out = Ms[0];
  for (let k = 1; k < Ms.length; k++) out = khatriRao(out, Ms[k]);
  return out;
}

/** Khatri–Rao (column-wise Kronecker) product: A I×R, B J×R → (I·J)×R, column r = A[:,r] ⊗ B[:,r]. */
export function khatriRao(A: Matrix, B: Matrix): Matrix {
  if (A.cols !== B.cols) throw new RangeError(`khatriRao: ${A.rows}x${A.cols} and ${B.rows}x${B.cols} have different column counts`);
  const I = A.rows, J = B.rows, R = A.cols;
  const out = new Float64Array(I * J * R);
  const a = A.data, b = B.data;
  for (let i = 0; i < I; i++) {
    for (let j = 0; j < J; j++) {
      const o = (i * J + j) * R;
      for (let r = 0; r < R; r++) out[o + r] = a[i * R + r] * b[j * R + r];
    }
  }
  return new Matrix(I * J, R, out);
}

/**
 * Paper Definition 1, row-wise Kronecker product A ⊙ B: A n×k, B n×m → n×(k·m), row i = A_i ⊗ B_i
 * (entry (i, a·m + b) = A[i,a]·B[i,b]). Not the usual (column-wise) Khatri–Rao product.
 */
export function rowwiseKron(A: Matrix, B: Matrix): Matrix {
  if (A.rows !== B.rows) throw new RangeError(`rowwiseKron: ${A.rows}x${A.cols} and ${B.rows}x${B.cols} have different row counts`);
  // Row i of A ⊙ B is column i of khatriRao(Aᵀ, Bᵀ).
  return transpose(khatriRao(transpose(A), transpose(B)));
}
