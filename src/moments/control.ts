import { Matrix } from '../linalg/matrix.js';
import { cholesky, choleskySolve } from '../linalg/cholesky.js';
import { SequenceChunk } from '../io/dataset.js';
import { AccumulatorSpec, MomentAccumulator, PassData, ResidualFunction } from './accumulator.js';

/**
 * Control variate (DESIGN.md §5 step 4): regress y_t on all monomials of degree ≤ 2 in
 * (x_{t−1}, x_t, x_{t+1}) and use the residual r_t = y_t − ĝ(x) for every moment of order ≥ 3.
 *
 * Why it stays unbiased: Stein gives E[r_t ⊗ H] = E[∂³y_t] − E[∂³ĝ], and every third derivative of a
 * degree-2 polynomial vanishes (in particular ∂_{x_t}∂²_{x_{t−1}} and ∂_{x_t}∂²_{x_{t+1}}), so only the
 * variance changes (DESIGN.md measured a 3–6× smaller mixed-moment error). NOT valid for T2: ĝ's second
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
 * State: sum = [Σ φφᵀ (p×p, upper triangle accumulated, mirrored at flush), Σ φ yᵀ (p×dy), Σ y (dy), Σ y² (dy)].
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
  private feat = new Float64Array(0);

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

  protected accumulate(d: PassData, y: Float64Array): void {
    const c = d.chunk, p = this.p, dy = this.dy, S = this.sum;
    if (c.dx !== this.dx) throw new RangeError(`ControlVariate: chunk has dx=${c.dx}, expected ${this.dx}`);
    if (this.feat.length < c.rows * p) this.feat = new Float64Array(c.rows * p);
    const F = controlFeatures(c, this.center, this.quadratic, this.feat);
    const oB = p * p, oY = oB + p * dy, oY2 = oY + dy;
    // Gram matrix Σ φφᵀ (upper triangle), four rows at a time so each S entry is loaded/stored once per 4 rows.
    let r0 = 0;
    for (; r0 + 3 < c.rows; r0 += 4) {
      const f0 = r0 * p, f1 = f0 + p, f2 = f1 + p, f3 = f2 + p;
      for (let a = 0; a < p; a++) {
        const w0 = F[f0 + a], w1 = F[f1 + a], w2 = F[f2 + a], w3 = F[f3 + a];
        if (w0 === 0 && w1 === 0 && w2 === 0 && w3 === 0) continue; // zero-filled boundary features
        const ba = a * p;
        for (let b = a; b < p; b++) S[ba + b] += w0 * F[f0 + b] + w1 * F[f1 + b] + w2 * F[f2 + b] + w3 * F[f3 + b];
      }
    }
    for (; r0 < c.rows; r0++) {
      const fo = r0 * p;
      for (let a = 0; a < p; a++) {
        const fa = F[fo + a];
        if (fa === 0) continue;
        const ba = a * p;
        for (let b = a; b < p; b++) S[ba + b] += fa * F[fo + b];
      }
    }
    for (let r = 0; r < c.rows; r++) {
      const fo = r * p, yo = r * dy;
      for (let a = 0; a < p; a++) {
        const fa = F[fo + a];
        if (fa === 0) continue;
        const bb = oB + a * dy;
        for (let i = 0; i < dy; i++) S[bb + i] += fa * y[yo + i];
      }
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

  /** rows×dy residuals y_t − ĝ for every row of the chunk. */
  residualChunk(chunk: SequenceChunk): Float64Array {
    if (chunk.dx !== this.dx || chunk.dy !== this.dy) throw new RangeError(`control variate: chunk is dx=${chunk.dx}, dy=${chunk.dy}; fitted for dx=${this.dx}, dy=${this.dy}`);
    const p = this.p, dx = this.dx, dy = this.dy, y = chunk.y, x = chunk.x, center = this.center;
    // ĝ_i(z) = c_i·φ(z) evaluated per row without materialising φ: output-major coefficients (Ct[i·p + a]) so
    // the quadratic part is a contiguous dot product per a (a rows×p feature array per chunk cost most of the
    // mixed-moment pass in memory traffic). Same features and summation order as `controlFeatures`.
    const Ct = this.coefT();
    const out = new Float64Array(chunk.rows * dy);
    const n3 = 3 * dx, z = new Float64Array(n3);
    const lo = this.quadratic === 'current' ? dx : 0, hi = this.quadratic === 'current' ? 2 * dx : this.quadratic === 'full' ? n3 : 0;
    let r = 0;
    for (let k = 0; k < chunk.lengths.length; k++) {
      const L = chunk.lengths[k];
      for (let t = 0; t < L; t++, r++) {
        const hasPrev = t > 0, hasNext = t < L - 1;
        for (let a = 0; a < dx; a++) {
          z[a] = hasPrev ? x[(r - 1) * dx + a] - center[a] : 0;
          z[dx + a] = x[r * dx + a] - center[a];
          z[2 * dx + a] = hasNext ? x[(r + 1) * dx + a] - center[a] : 0;
        }
        const yo = r * dy;
        for (let i = 0; i < dy; i++) {
          const c = i * p;
          let g = Ct[c] + (hasPrev ? Ct[c + 1] : 0) + (hasNext ? Ct[c + 2] : 0);
          let o = c + 3;
          for (let a = 0; a < n3; a++) g += Ct[o++] * z[a];
          for (let a = lo; a < hi; a++) {
            const za = z[a];
            let w = 0;
            for (let b = a; b < hi; b++) w += Ct[o++] * z[b];
            g += za * w;
          }
          out[yo + i] = y[yo + i] - g;
        }
      }
    }
    void p;
    return out;
  }

  private coefTCache: Float64Array | null = null;
  /** Coefficients output-major: [i·p + a] = coef[a·dy + i]. */
  private coefT(): Float64Array {
    if (this.coefTCache) return this.coefTCache;
    const p = this.p, dy = this.dy, C = this.coef, T = new Float64Array(p * dy);
    for (let a = 0; a < p; a++) for (let i = 0; i < dy; i++) T[i * p + a] = C[a * dy + i];
    return (this.coefTCache = T);
  }



  /** Residual of one step t (row index within the chunk). */
  residual(chunk: SequenceChunk, row: number): Float64Array {
    const r = this.residualChunk(chunk);
    return r.slice(row * this.dy, (row + 1) * this.dy);
  }

  toJSON(): ControlVariateFitJSON {
    return { dx: this.dx, dy: this.dy, quadratic: this.quadratic, center: Array.from(this.center), coef: Array.from(this.coef), r2: this.r2 };
  }

  static fromJSON(j: ControlVariateFitJSON): ControlVariateFit {
    return new ControlVariateFit(j.dx, j.dy, j.quadratic, Float64Array.from(j.center), Float64Array.from(j.coef), j.r2);
  }
}
