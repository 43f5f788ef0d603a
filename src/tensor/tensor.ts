import { Matrix } from '../linalg/matrix.js';

/**
 * Dense N-way tensor over a Float64Array, ROW-MAJOR (last index fastest):
 * entry (i_0, …, i_{N-1}) is `data[Σ_k i_k · strides[k]]` with `strides[N-1] = 1`.
 * An order-2 tensor has the same memory layout as a {@link Matrix} of the same shape.
 */
export class Tensor {
  readonly shape: number[];
  readonly strides: number[];
  readonly data: Float64Array;

  constructor(shape: readonly number[], data?: Float64Array) {
    for (const s of shape) {
      if (!Number.isInteger(s) || s < 0) throw new RangeError(`Tensor: invalid shape [${shape.join(', ')}], expected non-negative integers`);
    }
    const size = shape.reduce((a, b) => a * b, 1);
    if (data !== undefined && data.length !== size) {
      throw new RangeError(`Tensor: data length ${data.length} does not match shape [${shape.join(', ')}] (size ${size})`);
    }
    this.shape = shape.slice();
    this.strides = stridesOf(this.shape);
    this.data = data ?? new Float64Array(size);
  }

  get order(): number {
    return this.shape.length;
  }

  get size(): number {
    return this.data.length;
  }

  private offset(index: readonly number[]): number {
    if (index.length !== this.shape.length) {
      throw new RangeError(`Tensor: index of length ${index.length} for a tensor of order ${this.shape.length}`);
    }
    let o = 0;
    for (let k = 0; k < index.length; k++) {
      const i = index[k];
      if (!Number.isInteger(i) || i < 0 || i >= this.shape[k]) {
        throw new RangeError(`Tensor: index ${i} out of range [0, ${this.shape[k]}) in mode ${k}`);
      }
      o += i * this.strides[k];
    }
    return o;
  }

  get(index: readonly number[]): number {
    return this.data[this.offset(index)];
  }

  set(index: readonly number[], v: number): void {
    this.data[this.offset(index)] = v;
  }

  clone(): Tensor {
    return new Tensor(this.shape, this.data.slice());
  }

  /** Frobenius norm √(Σ entries²). */
  norm(): number {
    let s = 0;
    for (let i = 0; i < this.data.length; i++) s += this.data[i] * this.data[i];
    return Math.sqrt(s);
  }

  /** True when every entry is finite. */
  isFinite(): boolean {
    for (let i = 0; i < this.data.length; i++) if (!Number.isFinite(this.data[i])) return false;
    return true;
  }

  /** Order-2 tensor → Matrix sharing no memory (copy). */
  toMatrix(): Matrix {
    if (this.shape.length !== 2) throw new RangeError(`Tensor.toMatrix: tensor has order ${this.shape.length}, expected 2`);
    return new Matrix(this.shape[0], this.shape[1], this.data.slice());
  }

  static zeros(shape: readonly number[]): Tensor {
    return new Tensor(shape);
  }

  /** Tensor with entries f(index) (brute-force constructor, mainly for tests). */
  static fromFunction(shape: readonly number[], f: (index: number[]) => number): Tensor {
    const t = new Tensor(shape);
    const idx = new Array<number>(shape.length).fill(0);
    for (let o = 0; o < t.data.length; o++) {
      t.data[o] = f(idx.slice());
      incrementIndex(idx, t.shape);
    }
    return t;
  }

  static fromMatrix(m: Matrix): Tensor {
    return new Tensor([m.rows, m.cols], m.data.slice());
  }
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    s[k] = acc;
    acc *= shape[k];
  }
  return s;
}

/** Advance a multi-index in row-major order (odometer); wraps to all zeros after the last entry. */
export function incrementIndex(idx: number[], shape: readonly number[]): void {
  for (let k = shape.length - 1; k >= 0; k--) {
    if (++idx[k] < shape[k]) return;
    idx[k] = 0;
  }
}

function checkMode(T: Tensor, mode: number, op: string): void {
  if (!Number.isInteger(mode) || mode < 0 || mode >= T.order) {
    throw new RangeError(`${op}: mode ${mode} out of range for a tensor of order ${T.order}`);
  }
}

/**
 * Permute the modes: result mode k is input mode `perm[k]` (numpy `transpose(T, perm)`),
 * i.e. `out[i_0..i_{N-1}] = T[j]` with `j[perm[k]] = i_k`.
 */
export function permuteModes(T: Tensor, perm: readonly number[]): Tensor {
  const N = T.order;
  if (perm.length !== N || new Set(perm).size !== N || perm.some((p) => !Number.isInteger(p) || p < 0 || p >= N)) {
    throw new RangeError(`permuteModes: [${perm.join(', ')}] is not a permutation of 0..${N - 1}`);
  }
  const outShape = perm.map((p) => T.shape[p]);
  const out = new Tensor(outShape);
  const srcStrides = perm.map((p) => T.strides[p]);
  const idx = new Array<number>(N).fill(0);
  const src = T.data, dst = out.data;
  let so = 0;
  for (let o = 0; o < dst.length; o++) {
    dst[o] = src[so];
    // Odometer increment keeping the source offset in sync.
    for (let k = N - 1; k >= 0; k--) {
      if (++idx[k] < outShape[k]) {
        so += srcStrides[k];
        break;
      }
      so -= srcStrides[k] * (outShape[k] - 1);
      idx[k] = 0;
    }
  }
  return out;
}

/**
 * Paper §2 "Reshape(T, v_1, …, v_l)": an order-l tensor whose mode g concatenates the input modes
 * `groups[g]` (in the order listed; the first listed mode varies slowest). `groups` must use every
 * mode exactly once. Example: `reshapeModes(T, [[0], [1, 2]])` is the dim0 × (dim1·dim2) matrix
 * (as an order-2 Tensor; `.toMatrix()` converts), equal to `unfold(T, 0)`.
 * Modes are 0-based here (the paper counts from 1).
 */
export function reshapeModes(T: Tensor, groups: readonly (readonly number[])[]): Tensor {
  const flat = groups.flat();
  if (flat.length !== T.order || new Set(flat).size !== T.order || flat.some((p) => !Number.isInteger(p) || p < 0 || p >= T.order)) {
    throw new RangeError(`reshapeModes: groups ${JSON.stringify(groups)} must use each mode 0..${T.order - 1} exactly once`);
  }
  if (groups.some((g) => g.length === 0)) throw new RangeError('reshapeModes: empty group');
  const P = permuteModes(T, flat);
  const shape = groups.map((g) => g.reduce((a, m) => a * T.shape[m], 1));
  return new Tensor(shape, P.data);
}

/**
 * Mode-n unfolding (TensorLy convention): the shape[mode] × (Π_{k≠mode} shape[k]) matrix whose row i
 * lists the entries with i_mode = i, the remaining modes in their original order, last fastest.
 * With this convention `unfold(cpToTensor(w, [A_0..A_{N-1}]), n) = A_n diag(w) khatriRao(A_k, k≠n)ᵀ`.
 */
export function unfold(T: Tensor, mode: number): Matrix {
  checkMode(T, mode, 'unfold');
  const rest = T.shape.map((_, k) => k).filter((k) => k !== mode);
  return reshapeModes(T, [[mode], rest]).toMatrix();
}

/** Inverse of {@link unfold}: fold a shape[mode] × (Π others) matrix back into a tensor of `shape`. */
export function fold(M: Matrix, mode: number, shape: readonly number[]): Tensor {
  if (mode < 0 || mode >= shape.length) throw new RangeError(`fold: mode ${mode} out of range for order ${shape.length}`);
  const rest = shape.map((_, k) => k).filter((k) => k !== mode);
  const restSize = rest.reduce((a, k) => a * shape[k], 1);
  if (M.rows !== shape[mode] || M.cols !== restSize) {
    throw new RangeError(`fold: matrix ${M.rows}x${M.cols} does not match mode ${mode} of shape [${shape.join(', ')}]`);
  }
  const perm = [mode, ...rest];
  const P = new Tensor(perm.map((p) => shape[p]), M.data.slice());
  // inverse permutation
  const inv = new Array<number>(perm.length);
  perm.forEach((p, k) => (inv[p] = k));
  return permuteModes(P, inv);
}

/**
 * Mode-n product `T ×_n M` (Kolda–Bader): M has shape newDim × shape[mode];
 * `out[…, i, …] = Σ_j M[i, j] · T[…, j, …]`, result shape = shape with shape[mode] → newDim.
 */
export function modeProduct(T: Tensor, M: Matrix, mode: number): Tensor {
  checkMode(T, mode, 'modeProduct');
  const n = T.shape[mode];
  if (M.cols !== n) throw new RangeError(`modeProduct: matrix ${M.rows}x${M.cols} cannot multiply mode ${mode} of size ${n}`);
  return modeMultiply(T, mode, M.data, M.rows, n, 1);
}

/**
 * Paper §2 multilinear form `T(M_1, …, M_N)`: `out[i_1..i_N] = Σ_j T[j_1..j_N] Π_k M_k[j_k, i_k]`.
 * M_k has shape shape[k] × r_k (note: the TRANSPOSE of the mode-product convention); `null` means
 * the identity (mode kept). Result shape r_1 × … × r_N.
 */
export function multilinear(T: Tensor, Ms: readonly (Matrix | null)[]): Tensor {
  if (Ms.length !== T.order) throw new RangeError(`multilinear: ${Ms.length} matrices for a tensor of order ${T.order}`);
  let out = T;
  for (let k = 0; k < Ms.length; k++) {
    const M = Ms[k];
    if (M === null) continue;
    if (M.rows !== T.shape[k]) throw new RangeError(`multilinear: matrix ${k} is ${M.rows}x${M.cols}, expected ${T.shape[k]} rows`);
    out = modeProductT(out, M, k);
  }
  return out;
}

/** T ×_mode Mᵀ without forming Mᵀ: out[…, i, …] = Σ_j M[j, i] T[…, j, …]. */
function modeProductT(T: Tensor, M: Matrix, mode: number): Tensor {
  return modeMultiply(T, mode, M.data, M.cols, 1, M.cols);
}

/**
 * out[…, i, …] = Σ_j C[i·si + j·sj] T[…, j, …] for i < m (the new size of the mode), j < n = shape[mode]: the
 * mode product with M (m = M.rows, si = n, sj = 1) or with Mᵀ (m = M.cols, si = 1, sj = M.cols). Each output entry sums
 * over j in increasing order, skipping zero coefficients.
 */
function modeMultiply(T: Tensor, mode: number, C: Float64Array, m: number, si: number, sj: number): Tensor {
  const n = T.shape[mode];
  // View T as (pre, n, post) and out as (pre, m, post).
  const pre = T.shape.slice(0, mode).reduce((a, b) => a * b, 1);
  const post = T.shape.slice(mode + 1).reduce((a, b) => a * b, 1);
  const outShape = T.shape.slice();
  outShape[mode] = m;
  const out = new Tensor(outShape);
  const src = T.data, dst = out.data;
  for (let p = 0; p < pre; p++) {
    const sBase = p * n * post, dBase = p * m * post;
    for (let i = 0; i < m; i++) {
      const dRow = dBase + i * post;
      for (let j = 0; j < n; j++) {
        const cij = C[i * si + j * sj];
        if (cij === 0) continue;
        const sRow = sBase + j * post;
        for (let q = 0; q < post; q++) dst[dRow + q] += cij * src[sRow + q];
      }
    }
  }
  return out;
}

/**
 * Contract some modes with vectors: `contract(T, [null, v, w])` is the paper's T(I, v, w)
 * (`Σ_{j,l} v_j w_l T[:, j, l]`), an order-1 Tensor whose `.data` is the vector;
 * `contract(T, [null, null, w])` = T(I, I, w) (order 2, `.toMatrix()`); all vectors → order 0 (a scalar in data[0]).
 * Remaining modes keep their relative order.
 */
export function contract(T: Tensor, vecs: readonly (ArrayLike<number> | null)[]): Tensor {
  if (vecs.length !== T.order) throw new RangeError(`contract: ${vecs.length} entries for a tensor of order ${T.order}`);
  // Contract from the last mode down so mode indices of earlier modes stay valid.
  let out = T;
  for (let k = vecs.length - 1; k >= 0; k--) {
    const v = vecs[k];
    if (v === null) continue;
    if (v.length !== out.shape[k]) throw new RangeError(`contract: vector ${k} has length ${v.length}, expected ${out.shape[k]}`);
    out = contractMode(out, v, k);
  }
  return out;
}

function contractMode(T: Tensor, v: ArrayLike<number>, mode: number): Tensor {
  const n = T.shape[mode];
  const pre = T.shape.slice(0, mode).reduce((a, b) => a * b, 1);
  const post = T.shape.slice(mode + 1).reduce((a, b) => a * b, 1);
  const outShape = T.shape.filter((_, k) => k !== mode);
  const out = new Tensor(outShape);
  const src = T.data, dst = out.data;
  for (let p = 0; p < pre; p++) {
    const sBase = p * n * post, dBase = p * post;
    for (let j = 0; j < n; j++) {
      const vj = v[j];
      if (vj === 0) continue;
      const sRow = sBase + j * post;
      for (let q = 0; q < post; q++) dst[dBase + q] += vj * src[sRow + q];
    }
  }
  return out;
}

/** T(I, v, w) as a vector (third-order T). */
export function contractToVector(T: Tensor, vecs: readonly (ArrayLike<number> | null)[]): Float64Array {
  const r = contract(T, vecs);
  if (r.order !== 1) throw new RangeError(`contractToVector: result has order ${r.order}, expected 1 (leave exactly one mode null)`);
  return r.data;
}

/** T(I, I, w) as a matrix (third-order T). */
export function contractToMatrix(T: Tensor, vecs: readonly (ArrayLike<number> | null)[]): Matrix {
  const r = contract(T, vecs);
  if (r.order !== 2) throw new RangeError(`contractToMatrix: result has order ${r.order}, expected 2 (leave exactly two modes null)`);
  return r.toMatrix();
}

/** All permutations of an array (Heap's algorithm order is irrelevant here). */
function permutations<T>(a: readonly T[]): T[][] {
  if (a.length <= 1) return [a.slice()];
  const out: T[][] = [];
  for (let i = 0; i < a.length; i++) {
    const rest = a.slice(0, i).concat(a.slice(i + 1));
    for (const p of permutations(rest)) out.push([a[i], ...p]);
  }
  return out;
}

/**
 * Average of T over all permutations of the given modes (default: all modes), i.e. the projection
 * onto tensors symmetric in those modes. The listed modes must have equal sizes. Cost: k! copies for k modes.
 */
export function symmetrizeTensor(T: Tensor, modes?: readonly number[]): Tensor {
  const ms = modes ? modes.slice() : T.shape.map((_, k) => k);
  if (new Set(ms).size !== ms.length || ms.some((m) => !Number.isInteger(m) || m < 0 || m >= T.order)) {
    throw new RangeError(`symmetrizeTensor: modes [${ms.join(', ')}] must be distinct modes of an order-${T.order} tensor`);
  }
  for (const m of ms) {
    if (T.shape[m] !== T.shape[ms[0]]) throw new RangeError(`symmetrizeTensor: modes [${ms.join(', ')}] have unequal sizes [${ms.map((k) => T.shape[k]).join(', ')}]`);
  }
  const perms = permutations(ms);
  const out = new Tensor(T.shape);
  for (const p of perms) {
    const perm = T.shape.map((_, k) => k);
    ms.forEach((m, i) => (perm[m] = p[i]));
    const P = permuteModes(T, perm);
    for (let i = 0; i < out.data.length; i++) out.data[i] += P.data[i];
  }
  const f = 1 / perms.length;
  for (let i = 0; i < out.data.length; i++) out.data[i] *= f;
  return out;
}

