/**
 * Dense row-major float64 matrix. `data[i * cols + j]` is entry (i, j).
 *
 * Deliberately small: a value type plus pure functions (ml-matrix / tfjs-core style), so the hot
 * loops elsewhere can work on `data` directly without virtual calls.
 */
export class Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;

  constructor(rows: number, cols: number, data?: Float64Array) {
    if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
      throw new RangeError(`Matrix: invalid shape ${rows}x${cols}`);
    }
    if (data !== undefined && data.length !== rows * cols) {
      throw new RangeError(`Matrix: data length ${data.length} does not match shape ${rows}x${cols}`);
    }
    this.rows = rows;
    this.cols = cols;
    this.data = data ?? new Float64Array(rows * cols);
  }

  get(i: number, j: number): number {
    return this.data[i * this.cols + j];
  }

  set(i: number, j: number, v: number): void {
    this.data[i * this.cols + j] = v;
  }

  get shape(): [number, number] {
    return [this.rows, this.cols];
  }

  clone(): Matrix {
    return new Matrix(this.rows, this.cols, this.data.slice());
  }

  /** Row i as a copy. */
  row(i: number): Float64Array {
    return this.data.slice(i * this.cols, (i + 1) * this.cols);
  }

  /** Column j as a copy. */
  col(j: number): Float64Array {
    const out = new Float64Array(this.rows);
    for (let i = 0; i < this.rows; i++) out[i] = this.data[i * this.cols + j];
    return out;
  }

  toArray(): number[][] {
    const out: number[][] = [];
    for (let i = 0; i < this.rows; i++) out.push(Array.from(this.data.subarray(i * this.cols, (i + 1) * this.cols)));
    return out;
  }

  /**
   * JSON form: nested row-major arrays (what `Matrix.from` reads back), so `JSON.stringify` of any object holding
   * a Matrix writes its entries rather than the typed array's index map. A matrix with no rows gives `[]` (its
   * column count is not kept); non-finite entries become null, as JSON.stringify writes them.
   */
  toJSON(): number[][] {
    return this.toArray();
  }

  static zeros(rows: number, cols: number): Matrix {
    return new Matrix(rows, cols);
  }

  static identity(n: number): Matrix {
    const m = new Matrix(n, n);
    for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
    return m;
  }

  /** From nested row-major arrays; throws on ragged or non-finite input. */
  static from(rows: ArrayLike<ArrayLike<number>>): Matrix {
    const r = rows.length;
    const c = r > 0 ? rows[0].length : 0;
    const m = new Matrix(r, c);
    for (let i = 0; i < r; i++) {
      if (rows[i].length !== c) throw new RangeError(`Matrix.from: row ${i} has ${rows[i].length} entries, expected ${c}`);
      for (let j = 0; j < c; j++) m.data[i * c + j] = rows[i][j];
    }
    return m;
  }

  static diag(values: ArrayLike<number>): Matrix {
    const n = values.length;
    const m = new Matrix(n, n);
    for (let i = 0; i < n; i++) m.data[i * n + i] = values[i];
    return m;
  }

  /** Matrix whose columns are the given vectors. */
  static fromColumns(cols: ArrayLike<number>[]): Matrix {
    const c = cols.length;
    const r = c > 0 ? cols[0].length : 0;
    const m = new Matrix(r, c);
    for (let j = 0; j < c; j++) for (let i = 0; i < r; i++) m.data[i * c + j] = cols[j][i];
    return m;
  }
}

export function transpose(a: Matrix): Matrix {
  const { rows, cols, data } = a;
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    for (let j = 0; j < cols; j++) out[j * rows + i] = data[base + j];
  }
  return new Matrix(cols, rows, out);
}

/** C = A·B, i-k-j loop order so the inner loop streams contiguous rows of B and C. */
export function matmul(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new RangeError(`matmul: shapes ${a.rows}x${a.cols} and ${b.rows}x${b.cols} do not match`);
  const n = a.rows, p = b.cols;
  const C = new Float64Array(n * p);
  gemmAxpy(a.data, a.cols, 1, b.data, p, C, n, a.cols, p);
  return new Matrix(n, p, C);
}

/** C = Aᵀ·B without forming Aᵀ. */
export function matmulTN(a: Matrix, b: Matrix): Matrix {
  if (a.rows !== b.rows) throw new RangeError(`matmulTN: shapes ${a.rows}x${a.cols}ᵀ and ${b.rows}x${b.cols} do not match`);
  const n = a.cols, p = b.cols;
  const C = new Float64Array(n * p);
  gemmAxpy(a.data, 1, n, b.data, p, C, n, a.rows, p);
  return new Matrix(n, p, C);
}

/** C = A·Bᵀ without forming Bᵀ (dot products of rows). */
export function matmulNT(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.cols) throw new RangeError(`matmulNT: shapes ${a.rows}x${a.cols} and ${b.rows}x${b.cols}ᵀ do not match`);
  const n = a.rows, m = a.cols, p = b.rows;
  const C = new Float64Array(n * p);
  rowDots(a.data, m, b.data, m, C, n, p, m);
  return new Matrix(n, p, C);
}

/**
 * C[i·p + j] += Σ_k A[i·ai + k·ak] · B[k·ldb + j] for i < n, k < m, j < p: A read through strides (A with
 * ai = lda, ak = 1; Aᵀ with ai = 1, ak = lda), B row-major. Each entry sums over k in increasing order, skipping
 * zero entries of A (the one accumulation order of every product written this way).
 */
export function gemmAxpy(A: Float64Array, ai: number, ak: number, B: Float64Array, ldb: number, C: Float64Array, n: number, m: number, p: number): void {
  for (let i = 0; i < n; i++) {
    const ci = i * p;
    for (let k = 0; k < m; k++) {
      const aik = A[i * ai + k * ak];
      if (aik === 0) continue;
      const bk = k * ldb;
      for (let j = 0; j < p; j++) C[ci + j] += aik * B[bk + j];
    }
  }
}

/** C[i·p + j] = Σ_{k < len} A[i·lda + k] · B[j·ldb + k] for i < n, j < p (dot products of rows, k increasing). */
export function rowDots(A: Float64Array, lda: number, B: Float64Array, ldb: number, C: Float64Array, n: number, p: number, len: number): void {
  for (let i = 0; i < n; i++) {
    const ai = i * lda;
    for (let j = 0; j < p; j++) {
      const bj = j * ldb;
      let s = 0;
      for (let k = 0; k < len; k++) s += A[ai + k] * B[bj + k];
      C[i * p + j] = s;
    }
  }
}

/** y = A·x */
export function matvec(a: Matrix, x: ArrayLike<number>): Float64Array {
  if (a.cols !== x.length) throw new RangeError(`matvec: ${a.rows}x${a.cols} times vector of length ${x.length}`);
  const y = new Float64Array(a.rows);
  const A = a.data, c = a.cols;
  for (let i = 0; i < a.rows; i++) {
    let s = 0;
    const base = i * c;
    for (let j = 0; j < c; j++) s += A[base + j] * x[j];
    y[i] = s;
  }
  return y;
}

/** y = Aᵀ·x */
export function matTvec(a: Matrix, x: ArrayLike<number>): Float64Array {
  if (a.rows !== x.length) throw new RangeError(`matTvec: ${a.rows}x${a.cols}ᵀ times vector of length ${x.length}`);
  const y = new Float64Array(a.cols);
  const A = a.data, c = a.cols;
  for (let i = 0; i < a.rows; i++) {
    const xi = x[i];
    const base = i * c;
    for (let j = 0; j < c; j++) y[j] += A[base + j] * xi;
  }
  return y;
}

export function add(a: Matrix, b: Matrix): Matrix {
  assertSameShape(a, b, 'add');
  const out = new Float64Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i] + b.data[i];
  return new Matrix(a.rows, a.cols, out);
}

export function sub(a: Matrix, b: Matrix): Matrix {
  assertSameShape(a, b, 'sub');
  const out = new Float64Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i] - b.data[i];
  return new Matrix(a.rows, a.cols, out);
}

export function scale(a: Matrix, s: number): Matrix {
  const out = new Float64Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i] * s;
  return new Matrix(a.rows, a.cols, out);
}

export function frobeniusNorm(a: Matrix): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += a.data[i] * a.data[i];
  return Math.sqrt(s);
}

export function maxAbsDiff(a: Matrix, b: Matrix): number {
  assertSameShape(a, b, 'maxAbsDiff');
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
  return m;
}

export function isFiniteMatrix(a: Matrix): boolean {
  for (let i = 0; i < a.data.length; i++) if (!Number.isFinite(a.data[i])) return false;
  return true;
}

/** (A + Aᵀ)/2 */
export function symmetrize(a: Matrix): Matrix {
  if (a.rows !== a.cols) throw new RangeError(`symmetrize: matrix is ${a.rows}x${a.cols}, expected square`);
  const n = a.rows;
  const out = new Matrix(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out.data[i * n + j] = 0.5 * (a.data[i * n + j] + a.data[j * n + i]);
  return out;
}

function assertSameShape(a: Matrix, b: Matrix, op: string): void {
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new RangeError(`${op}: shapes ${a.rows}x${a.cols} and ${b.rows}x${b.cols} differ`);
  }
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function norm2(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}
