import { Matrix } from '../linalg/matrix.js';
import { cholesky, choleskySolve } from '../linalg/cholesky.js';
import { SequenceChunk } from '../io/dataset.js';
import { KernelArena, kernels, pad4 } from '../linalg/kernels/arena.js';
import { ownRows } from '../learn/pieces.js';
import { AccumulatorSpec, MomentAccumulator, PassData, ResidualFunction } from './accumulator.js';

/**
 * Control variate (docs/method.md §5 step 4): regress y_t on all monomials of degree ≤ 2 in
 * (x_{t−1}, x_t, x_{t+1}) and use the residual r_t = y_t − ĝ(x) for every moment of order ≥ 3.
 *
 * Why it stays unbiased: Stein gives E[r_t ⊗ H] = E[∂³y_t] − E[∂³ĝ], and every third derivative of a
 * degree-2 polynomial vanishes (in particular ∂_{x_t}∂²_{x_{t−1}} and ∂_{x_t}∂²_{x_{t+1}}), so only the
 * variance changes (measured, docs/method.md §5: a 3–6× smaller mixed-moment error). NOT valid for T2: ĝ's second
 * derivative ∂²_{x_t} is not zero.
 *
 * Boundary convention: a missing neighbour (t = 0 has no x_{t−1}, t = L−1 has no x_{t+1}) is ZERO-FILLED
 * (after centring), and two indicator features `hasPrev`, `hasNext` let the intercept differ at the
 * boundaries. The features of each position class are still a degree-2 polynomial of the present
 * steps, so the argument above is unaffected.
 *
 * Features (p of them), with c = x − center:
 *   [1, hasPrev, hasNext, c_{t−1} (dx), c_t (dx), c_{t+1} (dx), quadratic monomials]
 * where the quadratic part depends on `quadratic`:
 *   'full'    — all z_a z_b, a ≤ b, of z = [c_{t−1}; c_t; c_{t+1}] (3dx(3dx+1)/2 terms);
 *   'current' — c_{t,a} c_{t,b}, a ≤ b, only (dx(dx+1)/2 terms);
 *   'none'    — linear only.
 * Default: 'full' while it has ≤ 256 features (dx ≤ 7), else 'current' while that has ≤ 600 features
 * (dx ≤ 31), else 'none', with a warning: the normal equations cost p²/2 multiply-adds per sample and p²
 * memory (full at dx = 19 would be 1713 features, ≈1.5e6 multiply-adds per sample). Any of the three
 * keeps the mixed moments unbiased; only the variance reduction differs. y_t depends on x_t most
 * directly (quadratically), so 'current' keeps most of the benefit.
 *
 * State: sum = [Σ φφᵀ (p×p; upper triangle accumulated, mirrored at flush), Σ φ yᵀ (p×dy), Σ y (dy), Σ y² (dy)].
 */
export type QuadraticMode = 'full' | 'current' | 'none';

export const MAX_FULL_FEATURES = 256;
export const MAX_CURRENT_FEATURES = 600;

export function defaultQuadraticMode(dx: number): QuadraticMode {
  if (featureCount(dx, 'full') <= MAX_FULL_FEATURES) return 'full';
  if (featureCount(dx, 'current') <= MAX_CURRENT_FEATURES) return 'current';
  return 'none';
}

export function featureCount(dx: number, mode: QuadraticMode): number {
  const lin = 3 + 3 * dx;
  if (mode === 'full') return lin + (3 * dx * (3 * dx + 1)) / 2;
  if (mode === 'current') return lin + (dx * (dx + 1)) / 2;
  return lin;
}

/**
 * Write the features of every row of a chunk into `out` (rows×p). Shared by the accumulator and the
 * fitted residual function so both use the same definition.
 */
export function controlFeatures(chunk: SequenceChunk, center: Float64Array, mode: QuadraticMode, out?: Float64Array): Float64Array {
  const dx = chunk.dx, p = featureCount(dx, mode);
  const F = out ?? new Float64Array(chunk.rows * p);
  const z = new Float64Array(3 * dx);
  let row = 0;
  for (let k = 0; k < chunk.lengths.length; k++) {
    const L = chunk.lengths[k];
    for (let t = 0; t < L; t++, row++) rowFeatures(chunk.x, dx, row, t, L, center, mode, z, F, row * p);
  }
  return F;
}

/**
 * Features of one row (step t of a length-L sequence at chunk row `row`) written to out[o, o + p).
 * `z` is a scratch array of length 3·dx. One definition for the accumulator and the residual.
 */
function rowFeatures(
  x: Float64Array,
  dx: number,
  row: number,
  t: number,
  L: number,
  center: Float64Array,
  mode: QuadraticMode,
  z: Float64Array,
  out: Float64Array,
  o: number,
): void {
  const hasPrev = t > 0, hasNext = t < L - 1;
  for (let a = 0; a < dx; a++) {
    z[a] = hasPrev ? x[(row - 1) * dx + a] - center[a] : 0;
    z[dx + a] = x[row * dx + a] - center[a];
    z[2 * dx + a] = hasNext ? x[(row + 1) * dx + a] - center[a] : 0;
  }
  out[o++] = 1;
  out[o++] = hasPrev ? 1 : 0;
  out[o++] = hasNext ? 1 : 0;
  for (let a = 0; a < 3 * dx; a++) out[o++] = z[a];
  if (mode === 'full') {
    for (let a = 0; a < 3 * dx; a++) {
      const za = z[a];
      for (let b = a; b < 3 * dx; b++) out[o++] = za * z[b];
    }
  } else if (mode === 'current') {
    for (let a = dx; a < 2 * dx; a++) {
      const za = z[a];
      for (let b = a; b < 2 * dx; b++) out[o++] = za * z[b];
    }
  }
}

/**
 * Features of rows [r0, r1) of a chunk written to the kernel arena at `phi` (row stride ldp ≥ p): the same
 * features as `controlFeatures`. The constants and z = [c_{t−1}; c_t; c_{t+1}] are written row by row; the
 * quadratic monomials z_a z_b (a ≤ b, the same order) are one symKron over the block, reading z from the
 * row's own linear columns. `tOf`/`LOf`: step and sequence length of every chunk row.
 */
function featuresOnArena(
  K: KernelArena,
  chunk: SequenceChunk,
  tOf: Int32Array,
  LOf: Int32Array,
  r0: number,
  r1: number,
  center: Float64Array,
  mode: QuadraticMode,
  phi: number,
  ldp: number,
): void {
  const dx = chunk.dx, x = chunk.x, H = K.heap, n3 = 3 * dx;
  for (let r = r0; r < r1; r++) {
    const t = tOf[r], hasPrev = t > 0, hasNext = t < LOf[r] - 1, o = phi + (r - r0) * ldp, xo = r * dx;
    H[o] = 1;
    H[o + 1] = hasPrev ? 1 : 0;
    H[o + 2] = hasNext ? 1 : 0;
    for (let a = 0; a < dx; a++) {
      H[o + 3 + a] = hasPrev ? x[xo - dx + a] - center[a] : 0;
      H[o + 3 + dx + a] = x[xo + a] - center[a];
      H[o + 3 + 2 * dx + a] = hasNext ? x[xo + dx + a] - center[a] : 0;
    }
  }
  if (mode === 'full') K.symKron(r1 - r0, phi + 3, ldp, n3, phi + 3 + n3, ldp);
  else if (mode === 'current') K.symKron(r1 - r0, phi + 3 + dx, ldp, dx, phi + 3 + n3, ldp);
}

/** Step t and sequence length L of every row of a chunk. */
function rowSteps(chunk: SequenceChunk): { tOf: Int32Array; LOf: Int32Array } {
  const tOf = new Int32Array(chunk.rows), LOf = new Int32Array(chunk.rows);
  for (let k = 0, r = 0; k < chunk.lengths.length; k++) {
    const L = chunk.lengths[k];
    for (let t = 0; t < L; t++, r++) {
      tOf[r] = t;
      LOf[r] = L;
    }
  }
  return { tOf, LOf };
}

/** Rows per block of features on the arena: bounds the workspace (block × p f64) for any p. */
function featureBlockRows(p: number): number {
  return Math.max(64, Math.min(4096, Math.floor(2 ** 20 / p)) & ~3);
}

export interface ControlVariateOptions {
  quadratic?: QuadraticMode;
  /** Centre subtracted from x before forming monomials (e.g. the input model mean). Default 0. */
  center?: ArrayLike<number>;
}

/** Streaming normal equations of y_t on the control-variate features (mergeable). */
export class ControlVariate extends MomentAccumulator {
  readonly type = 'controlVariate' as const;
  override readonly needsScores = false;
  readonly dx: number;
  readonly p: number;
  readonly quadratic: QuadraticMode;
  readonly center: Float64Array;
  readonly warnings: string[] = [];

  constructor(dx: number, dy: number, opts: ControlVariateOptions = {}) {
    const mode = opts.quadratic ?? defaultQuadraticMode(dx);
    const p = featureCount(dx, mode);
    super(p * p + p * dy + 2 * dy, dy, 'y');
    this.dx = dx;
    this.p = p;
    this.quadratic = mode;
    this.center = opts.center ? Float64Array.from(opts.center) : new Float64Array(dx);
    if (this.center.length !== dx) throw new RangeError(`ControlVariate: center has length ${this.center.length}, expected dx=${dx}`);
    if (opts.quadratic === undefined && mode !== 'full') {
      this.warnings.push(
        `control variate: the full degree-2 regression on (x_{t−1}, x_t, x_{t+1}) would have ${featureCount(dx, 'full')} features ` +
          `(cost p²/2 per sample); using quadratic = '${mode}' (${p} features) instead. Variance reduction will be smaller; the moments stay unbiased.`,
      );
    }
  }

  spec(): AccumulatorSpec {
    return { type: 'controlVariate', dx: this.dx, dy: this.dy, quadratic: this.quadratic, center: Array.from(this.center) };
  }

  /**
   * Per block of rows on the kernel arena (WebAssembly SIMD): Φ (block × p features), then the Gram's upper
   * block triangle Σ φφᵀ as one GEMM per column panel (rows 0..panel end only: ≈ p²/2 multiply-adds per
   * row), Σ y φᵀ as one GEMM, Σ y and Σ y² directly.
   */
  /** Every row counts; on a piece with halo rows (src/learn/pieces.ts) only its own rows enter the sums. */
  protected override stepBounds(): [number, number] {
    return [0, 0];
  }

  protected accumulate(d: PassData, y: Float64Array): void {
    const c = d.chunk, p = this.p, dy = this.dy, S = this.sum;
    // The Gram matrix Σ φφᵀ does not carry y, so halo rows are skipped here (their x still feeds the neighbours'
    // features); the count's halo rows are taken off by addData.
    const [first, rows] = ownRows(c);
    if (c.dx !== this.dx) throw new RangeError(`ControlVariate: chunk has dx=${c.dx}, expected ${this.dx}`);
    const ldp = pad4(p), ldy = pad4(dy), block = Math.min(featureBlockRows(ldp), Math.max(1, rows));
    const { tOf, LOf } = rowSteps(c);
    const K = kernels(), mark = K.mark();
    try {
      const phi = K.alloc(block * ldp), yb = K.alloc(block * ldy), G = K.alloc(ldp * ldp), YP = K.alloc(ldy * ldp);
      const H = K.heap;
      const panel = 32;
      for (let r0 = first; r0 < rows; r0 += block) {
        const r1 = Math.min(rows, r0 + block), nb = r1 - r0;
        featuresOnArena(K, c, tOf, LOf, r0, r1, this.center, this.quadratic, phi, ldp);
        for (let r = r0; r < r1; r++) for (let i = 0; i < dy; i++) H[yb + (r - r0) * ldy + i] = y[r * dy + i];
        for (let j0 = 0; j0 < ldp; j0 += panel) {
          const j1 = Math.min(ldp, j0 + panel);
          K.gemm(j1, j1 - j0, nb, phi, 1, ldp, phi + j0, ldp, G + j0, ldp);
        }
        K.gemm(ldy, ldp, nb, yb, 1, ldy, phi, ldp, YP, ldp);
      }
      for (let a = 0; a < p; a++) for (let b = a; b < p; b++) S[a * p + b] += H[G + a * ldp + b];
      const oB = p * p;
      for (let a = 0; a < p; a++) for (let i = 0; i < dy; i++) S[oB + a * dy + i] += H[YP + i * ldp + a];
    } finally {
      K.release(mark);
    }
    const oY = p * p + p * dy, oY2 = oY + dy;
    for (let r = first; r < rows; r++) {
      const yo = r * dy;
      for (let i = 0; i < dy; i++) {
        const yi = y[yo + i];
        S[oY + i] += yi;
        S[oY2 + i] += yi * yi;
      }
    }
    this.count += c.rows;
  }

  protected override flush(): void {
    const p = this.p, S = this.sum;
    for (let a = 0; a < p; a++) for (let b = 0; b < a; b++) S[a * p + b] = S[b * p + a];
  }

  /** Mean of φφᵀ, φyᵀ, y, y² in the state layout (mostly for inspection). */
  result(): Float64Array {
    return this.mean();
  }

  /**
   * Solve the normal equations: coefficients β (p×dy) minimising Σ‖y_t − βᵀφ_t‖². Features are scaled
   * to unit mean square and a tiny ridge (1e-9, relative) is added so exactly collinear features
   * (e.g. all sequences of length 1 ⇒ hasPrev ≡ 0) get zero weight instead of an error.
   */
  solve(): ControlVariateFit {
    if (this.count < this.p) {
      this.warnings.push(`control variate: only ${this.count} samples for ${this.p} features; the fit is ridge-dominated`);
    }
    if (this.count === 0) throw new Error('control variate: no samples were added');
    const p = this.p, dy = this.dy, S = this.sum;
    const scaleV = new Float64Array(p);
    for (let a = 0; a < p; a++) {
      const d = S[a * p + a];
      scaleV[a] = d > 0 ? 1 / Math.sqrt(d) : 0;
    }
    const A = new Matrix(p, p);
    for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) A.data[a * p + b] = S[a * p + b] * scaleV[a] * scaleV[b];
    for (let a = 0; a < p; a++) A.data[a * p + a] += scaleV[a] > 0 ? 1e-9 : 1;
    const B = new Matrix(p, dy);
    for (let a = 0; a < p; a++) for (let i = 0; i < dy; i++) B.data[a * dy + i] = S[p * p + a * dy + i] * scaleV[a];
    const X = choleskySolve(cholesky(A), B);
    const coef = new Float64Array(p * dy);
    for (let a = 0; a < p; a++) for (let i = 0; i < dy; i++) coef[a * dy + i] = X.data[a * dy + i] * scaleV[a];
    // R² per output from the sums: RSS = Σy² − 2βᵀ(Σφy) + βᵀ(Σφφᵀ)β.
    const r2: number[] = [];
    const n = this.count;
    for (let i = 0; i < dy; i++) {
      let bB = 0, bAb = 0;
      for (let a = 0; a < p; a++) {
        const ba = coef[a * dy + i];
        if (ba === 0) continue;
        bB += ba * S[p * p + a * dy + i];
        let v = 0;
        for (let b = 0; b < p; b++) v += S[a * p + b] * coef[b * dy + i];
        bAb += ba * v;
      }
      const sy = S[p * p + p * dy + i], syy = S[p * p + p * dy + dy + i];
      const tss = syy - (sy * sy) / n;
      const rss = Math.max(0, syy - 2 * bB + bAb);
      r2.push(tss > 0 ? 1 - rss / tss : 0);
    }
    return new ControlVariateFit(this.dx, dy, this.quadratic, this.center, coef, r2);
  }
}

export interface ControlVariateFitJSON {
  dx: number;
  dy: number;
  quadratic: QuadraticMode;
  center: number[];
  coef: number[];
  r2: number[];
}

/** Fitted control variate ĝ: residual r_t = y_t − ĝ(x_{t−1}, x_t, x_{t+1}). */
export class ControlVariateFit implements ResidualFunction {
  readonly p: number;
  constructor(
    readonly dx: number,
    readonly dy: number,
    readonly quadratic: QuadraticMode,
    readonly center: Float64Array,
    /** p×dy coefficients, feature-major. */
    readonly coef: Float64Array,
    /** Fraction of the variance of each output explained by ĝ (in-sample). */
    readonly r2: number[],
  ) {
    this.p = featureCount(dx, quadratic);
    if (coef.length !== this.p * dy) throw new RangeError(`ControlVariateFit: coef has ${coef.length} values, expected ${this.p}x${dy}`);
  }

  /** rows×dy residuals y_t − ĝ for every row of the chunk: per block of rows, Φ on the kernel arena and y + Φ·(−β). */
  residualChunk(chunk: SequenceChunk): Float64Array {
    if (chunk.dx !== this.dx || chunk.dy !== this.dy) throw new RangeError(`control variate: chunk is dx=${chunk.dx}, dy=${chunk.dy}; fitted for dx=${this.dx}, dy=${this.dy}`);
    const p = this.p, dy = this.dy, y = chunk.y, rows = chunk.rows;
    const ldp = pad4(p), ldy = pad4(dy), block = Math.min(featureBlockRows(ldp), Math.max(1, rows));
    const { tOf, LOf } = rowSteps(chunk);
    const out = new Float64Array(rows * dy);
    const K = kernels(), mark = K.mark();
    try {
      const phi = K.alloc(block * ldp), R = K.alloc(block * ldy), nb = K.alloc(p * ldy);
      const H = K.heap, C = this.coef;
      for (let a = 0; a < p; a++) for (let i = 0; i < dy; i++) H[nb + a * ldy + i] = -C[a * dy + i];
      for (let r0 = 0; r0 < rows; r0 += block) {
        const r1 = Math.min(rows, r0 + block), m = r1 - r0;
        featuresOnArena(K, chunk, tOf, LOf, r0, r1, this.center, this.quadratic, phi, ldp);
        for (let r = r0; r < r1; r++) for (let i = 0; i < dy; i++) H[R + (r - r0) * ldy + i] = y[r * dy + i];
        K.gemm(m, ldy, p, phi, ldp, 1, nb, ldy, R, ldy);
        for (let r = r0; r < r1; r++) for (let i = 0; i < dy; i++) out[r * dy + i] = H[R + (r - r0) * ldy + i];
      }
    } finally {
      K.release(mark);
    }
    return out;
  }

  toJSON(): ControlVariateFitJSON {
    return { dx: this.dx, dy: this.dy, quadratic: this.quadratic, center: Array.from(this.center), coef: Array.from(this.coef), r2: this.r2 };
  }

  static fromJSON(j: ControlVariateFitJSON): ControlVariateFit {
    return new ControlVariateFit(j.dx, j.dy, j.quadratic, Float64Array.from(j.center), Float64Array.from(j.coef), j.r2);
  }
}
